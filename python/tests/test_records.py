"""read_run / read_sweep on real silab outputs, with silab's column types."""

import re
import shutil

import polars as pl
import pytest
import silab
from conftest import REPO
from silab import records


def test_metrics_have_silab_types_and_the_config_as_columns(run_dir):
    df = silab.read_run(run_dir)
    assert df.height == 1 + 2 * 2  # epoch 0, then per epoch (2 steps): a step row and the epoch row (its last step)
    assert df.schema["epoch"] == pl.Int64 and df.schema["step"] == pl.Int64
    assert df.schema["row"] == pl.String
    for c in ("lr", "train_loss", "rho", "elr", "norm:conv_layers.0.weight", "wall_time"):
        assert df.schema[c] == pl.Float64, c
    steps = df.filter(pl.col("row") == "step")
    assert steps.height > 0 and steps["train_loss"].null_count() == steps.height  # not measured: null
    assert df.filter(pl.col("row") == "epoch")["train_loss"].null_count() == 0
    # config keys, typed as in config.toml
    assert df.schema["optim.lr"] == pl.Float64 and df["optim.lr"][0] == 0.01
    assert df.schema["model.arch"] == pl.String and set(df["model.arch"]) == {"convnet"}
    assert df.schema["train.epochs"] == pl.Int64 and set(df["train.epochs"]) == {2}
    assert df.schema["optim.nesterov"] == pl.Boolean
    assert df.schema["sharpness.groups"] == pl.List(pl.String) and df["sharpness.groups"][0].to_list() == ["si"]
    assert df.schema["seed"] == pl.Int64 and df.schema["loss"] == pl.String


def test_sharpness_table_and_summary(run_dir):
    sh = silab.read_run(run_dir, "sharpness")
    assert sh.height == 3  # at init and after each epoch
    assert sh.schema["params"] == pl.Int64 and sh.schema["group"] == pl.String and sh.schema["converged"] == pl.Int64
    assert sh.schema["trace"] == pl.Float64
    assert sh.schema["loss"] == pl.Float64 and sh.schema["config.loss"] == pl.String  # the table's own `loss` wins
    s = silab.read_summary(run_dir)
    assert s["status"] == "completed" and s["epochs_done"] == 2


def test_bad_table_and_missing_dir_are_named(run_dir, tmp_path):
    with pytest.raises(ValueError, match="table must be one of"):
        silab.read_run(run_dir, "nope")
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        silab.read_run(tmp_path)


def test_sweep_metrics_one_frame_over_all_points(sweep_dir):
    t = silab.read_sweep(sweep_dir)
    assert t.columns[:4] == ["point", "seed", "optim.elr", "loss"]
    assert t.schema["point"] == pl.Int64 and t.schema["seed"] == pl.Int64
    assert t.schema["optim.elr"] == pl.Float64 and t.schema["loss"] == pl.String
    assert t.schema["epoch"] == pl.Int64 and t.schema["train_loss"] == pl.Float64
    assert sorted(t["point"].unique().to_list()) == [0, 1, 2, 3]
    assert t.height == 4 * 2  # each point: epoch 0 and epoch 1
    # the same rows as silab's own table, value for value
    own = pl.read_parquet(sweep_dir / "table.parquet")
    ours = t.select(own.columns).sort("point", "step")
    assert ours.equals(own.sort("point", "step").cast(ours.schema)), (ours, own)
    assert t.schema["model.width"] == pl.Int64


def test_sweep_points_table(sweep_dir):
    p = silab.read_sweep(sweep_dir, "points")
    assert p.height == 4 and p["status"].to_list() == ["completed"] * 4
    assert p.schema["point"] == pl.Int64 and p.schema["epochs_done"] == pl.Int64
    assert p.schema["optim.elr"] == pl.Float64 and p.schema["best_test_acc"] == pl.Float64
    assert p.schema["last.test_acc"] == pl.Float64 and p["last.epoch"].to_list() == [1] * 4


def test_sweep_still_running(sweep_dir, tmp_path):
    """Points that have not written their table yet are left out; the points table says pending."""
    sw = tmp_path / "sw"
    shutil.copytree(sweep_dir, sw)
    for f in ("metrics.csv", "summary.json", "attempt.json"):
        (sw / "runs/p0003" / f).unlink()
    assert sorted(silab.read_sweep(sw)["point"].unique().to_list()) == [0, 1, 2]
    p = silab.read_sweep(sw, "points")
    assert p["status"].to_list() == ["completed"] * 3 + ["pending"]
    assert p["epochs_done"].to_list() == [1, 1, 1, None]


def test_pandas_backend(run_dir):
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"silab\[pandas\]"):
            silab.read_run(run_dir, backend="pandas")
        return
    df = silab.read_run(run_dir, backend="pandas")
    assert str(df["epoch"].dtype) == "int64" and str(df["train_loss"].dtype) == "float64"
    assert df.loc[df["row"] == "step", "train_loss"].isna().all()


def test_column_types_match_the_schema_reference():
    """records' type table against the book's reference, generated from src/schema.rs."""
    text = (REPO / "docs/src/reference/columns.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (int|float|text) \|", text, re.M)
    assert len(rows) > 60
    for name, kind in rows:
        want = {"int": pl.Int64, "float": pl.Float64, "text": pl.String}[kind]
        assert records.dtype_of(name) == want, name
