"""silab's Python side: export a PyTorch module for silab, read silab's runs and sweeps.

- :func:`export` scripts an ``nn.Module`` into a file silab trains (``model.arch = "torchscript"``,
  ``model.file``), checks the reloaded file computes the same outputs, proposes and verifies its
  scale-invariant (SI) groups and writes them to a manifest beside the file (``net.silab.toml``).
- :func:`read_run` and :func:`read_sweep` read a run directory / a sweep directory as polars
  DataFrames with silab's column types and the config keys as columns (``backend="pandas"`` or
  ``.to_pandas()`` for pandas).
"""

__version__ = "0.1.0"

from .export import ExportError, ExportResult, export, manifest_path, read_manifest  # noqa: E402
from .records import read_run, read_summary, read_sweep  # noqa: E402
from .si import ProposalError, propose, si_groups, verify  # noqa: E402

__all__ = [
    "ExportError",
    "ExportResult",
    "ProposalError",
    "export",
    "manifest_path",
    "propose",
    "read_manifest",
    "read_run",
    "read_summary",
    "read_sweep",
    "si_groups",
    "verify",
]
