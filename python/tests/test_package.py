"""The package as installed (`pip install ./python`)."""

import importlib.metadata

import silab


def test_installed_version_and_api():
    assert silab.__version__ == "0.1.0" == importlib.metadata.version("silab")
    for name in ("export", "read_run", "read_sweep", "read_manifest", "propose", "verify"):
        assert callable(getattr(silab, name)), name
