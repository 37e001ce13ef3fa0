"""Shared fixtures: the repository's paths and real silab outputs made by the built binary."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
sys.path.append(str(PYTHON_DIR))  # silab_reference.py; after site-packages: the installed silab is tested

torch.set_num_threads(1)


def silab_bin() -> Path:
    """The release binary (`cargo build --release`); $SILAB_BIN overrides it."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    b = Path(os.environ.get("SILAB_BIN", target / "release" / "silab"))
    if not b.is_file():
        pytest.fail(f"{b} is missing: build it first (`cargo build --release --bin silab`) or set SILAB_BIN",
                    pytrace=False)
    return b


def run_silab(*args, cwd):
    r = subprocess.run([str(silab_bin()), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.fail(f"silab {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}", pytrace=False)
    return r


TINY = ["train.threads=1", "data.train_size=128", "data.test_size=64", "train.batch_size=64", "model.width=2"]


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A 2-epoch run with step rows (their empty cells) and sharpness rows."""
    d = tmp_path_factory.mktemp("records")
    sets = TINY + ["train.epochs=2", "train.log_every=1", "sharpness.every_epochs=1", "sharpness.images=64",
                   "sharpness.lanczos_iters=3", "sharpness.probes=2"]
    run_silab("train", "--preset", "quick", *[a for s in sets for a in ("--set", s)], "--out", d / "run", "-q", cwd=d)
    return d / "run"


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory):
    """A sweep of 2 x 2 points (a float and a text axis), 1 epoch each."""
    d = tmp_path_factory.mktemp("sweep")
    (d / "sweep.toml").write_text(
        'name = "tiny"\nseeds = [0]\n[base]\n'
        + "".join(f"{s.split('=')[0]} = {s.split('=')[1]}\n" for s in TINY)
        + 'train.epochs = 1\nmetrics.layers = false\n[axes]\n"optim.elr" = [1e-3, 1e-2]\n"loss" = ["ce", "mse"]\n')
    run_silab("sweep", "--config", d / "sweep.toml", "--out", d / "sw", "--jobs", "1", "-q", cwd=d)
    return d / "sw"


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state (weights of the nets built in it)."""
    torch.manual_seed(0)
