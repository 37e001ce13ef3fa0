"""Runs and sweeps silab wrote, as polars DataFrames (or pandas) with silab's column types.

A run directory holds `config.toml` (every key), `metrics.csv` (one row per log point),
`summary.json` and, when measured, `sharpness.csv`, `sharpness_posthoc.csv`, landscape scans
and `spectrum_posthoc.csv`. A sweep directory holds `manifest.json` (its points) and one run
directory per point, `runs/pNNNN/`. Column types follow silab's schema (`src/schema.rs`, the
book's "Output columns" reference): integer columns are Int64, text columns String, every
other column Float64. An empty float cell is a value silab did not measure (a step row's
`train_loss`, the first row's `grad_norm`): it reads as null (missing; NaN in pandas).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import tomllib

#: Integer columns of silab's tables (`src/schema.rs`); text columns below; every other is Float64.
INT_COLUMNS = frozenset({"epoch", "step", "params", "ghost_batch", "images", "converged", "probe", "point", "seed",
                         "round", "decided_at_epoch", "epochs"})
TEXT_COLUMNS = frozenset({"row", "group", "bn_mode", "kind", "path", "regime", "statistic", "dir"})

#: The tables of a run directory `read_run` reads, by name -> file.
TABLES = {
    "metrics": "metrics.csv",
    "sharpness": "sharpness.csv",
    "sharpness_posthoc": "sharpness_posthoc.csv",
    "spectrum_posthoc": "spectrum_posthoc.csv",
    "line": "line.csv",
    "slice_1d": "slice_1d.csv",
    "slice_2d": "slice_2d.csv",
}


def dtype_of(column: str) -> pl.DataType:
    """The polars type of a column silab writes, by name (unknown names are floats, as in silab)."""
    if column in INT_COLUMNS:
        return pl.Int64
    if column in TEXT_COLUMNS:
        return pl.String
    return pl.Float64


def read_table(path: str | Path) -> pl.DataFrame:
    """One CSV table silab wrote, typed by column name (:func:`dtype_of`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n")
    if not header:
        raise ValueError(f"{path}: empty file (no header)")
    cols = header.split(",")
    try:
        return pl.read_csv(path, schema={c: dtype_of(c) for c in cols}, empty_string_is_null=False)
    except pl.exceptions.PolarsError as e:
        raise ValueError(f"{path}: not a table silab wrote ({e})") from e


def _value(v):
    """A config value as one cell: arrays of tables (e.g. `model.si_groups`) as JSON text."""
    if isinstance(v, list) and any(isinstance(x, dict) for x in v):
        return json.dumps(v)
    return v


def flatten_config(cfg: dict, prefix: str = "") -> dict:
    """`{"optim": {"lr": 0.1}}` -> `{"optim.lr": 0.1}` (silab's dotted config keys)."""
    out = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = _value(v)
    return out


def read_config(run_dir: str | Path) -> dict:
    """A run's resolved config (`config.toml`), flattened to dotted keys."""
    p = Path(run_dir) / "config.toml"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file (is {run_dir} a silab run directory?)")
    with open(p, "rb") as f:
        return flatten_config(tomllib.load(f))


def _nonfinite(v):
    if isinstance(v, str) and v in ("NaN", "inf", "-inf"):
        return float(v)
    if isinstance(v, dict):
        return {k: _nonfinite(x) for k, x in v.items()}
    return v


def read_summary(run_dir: str | Path) -> dict:
    """A run's `summary.json`, with the non-finite numbers silab writes as strings ("NaN",
    "inf", "-inf") turned back into floats."""
    p = Path(run_dir) / "summary.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file (is {run_dir} a silab run directory?)")
    return _nonfinite(json.loads(p.read_text(encoding="utf-8")))


def _constant(name: str, v, n: int) -> pl.Series:
    if isinstance(v, list):
        return pl.Series(name, [v] * n, strict=False)
    return pl.Series(name, [v] * n)


def _with_config(df: pl.DataFrame, cfg: dict) -> pl.DataFrame:
    """Append every config key as a constant column (`config.KEY` where a table column has its name)."""
    cols = [_constant(k if k not in df.columns else f"config.{k}", v, df.height) for k, v in cfg.items()]
    return df.with_columns(cols) if cols else df


def _backend(df: pl.DataFrame, backend: str):
    if backend == "polars":
        return df
    if backend == "pandas":
        try:
            return df.to_pandas()
        except ImportError as e:
            raise ImportError(f"backend='pandas' needs pandas and pyarrow: pip install 'silab[pandas]' ({e})") from e
    raise ValueError(f"backend must be 'polars' or 'pandas', not {backend!r}")


def read_run(run_dir: str | Path, table: str = "metrics", *, config: bool = True, backend: str = "polars"):
    """One table of a run directory as a DataFrame: `metrics` (default), `sharpness`,
    `sharpness_posthoc`, `spectrum_posthoc`, `line`, `slice_1d` or `slice_2d`.

    Columns have silab's types (:func:`dtype_of`; unmeasured floats are null). With `config`,
    every key of the run's `config.toml` follows as a constant column named by its dotted key
    (`optim.lr`, `model.width`, ...; `config.loss` in tables that have their own `loss`
    column). `backend="pandas"` returns a pandas DataFrame (needs the `pandas` extra), as does
    `.to_pandas()` on the polars one.
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, not {table!r}")
    run_dir = Path(run_dir)
    df = read_table(run_dir / TABLES[table])
    if config:
        df = _with_config(df, read_config(run_dir))
    return _backend(df, backend)


def _sweep_manifest(sweep_dir: Path) -> dict:
    p = sweep_dir / "manifest.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file (is {sweep_dir} a silab sweep directory?)")
    return json.loads(p.read_text(encoding="utf-8"))


def _column(name: str, values: list) -> pl.Series:
    """A column of a swept key: typed when its values share a type, else their text."""
    if len({type(v) for v in values if v is not None}) > 1 and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        values = [None if v is None else str(v) for v in values]
    return pl.Series(name, values, strict=False)


def read_sweep(sweep_dir: str | Path, table: str = "metrics", *, backend: str = "polars"):
    """A sweep as one DataFrame.

    `table="metrics"` (default; or any table of :func:`read_run`): every point's rows, the
    columns `point` and `seed` first, then the swept keys (in axis order), the table's
    columns, and the other config keys. Points that have not written the table yet are left
    out. `table="points"`: the sweep's summary, one row per point: `point`, `seed`, `dir`, the
    swept keys, `status` (`completed`, `diverged`, `running`, `failed`, `pending`),
    `epochs_done`, `steps_done`, `best_test_acc`, `wall_time_s` and the last epoch row's
    metrics as `last.COLUMN`.
    """
    sweep_dir = Path(sweep_dir)
    man = _sweep_manifest(sweep_dir)
    axes = list(man.get("axes", []))
    if table == "points":
        return _backend(_points(sweep_dir, man, axes), backend)
    if table not in TABLES:
        raise ValueError(f"table must be 'points' or one of {', '.join(TABLES)}, not {table!r}")
    frames = []
    for pt in man["points"]:
        run = sweep_dir / pt["dir"]
        if not (run / TABLES[table]).is_file():
            continue
        df = read_run(run, table)
        frames.append(df.with_columns(pl.lit(pt["index"], dtype=pl.Int64).alias("point"),
                                      pl.lit(pt["seed"], dtype=pl.Int64).alias("seed")))
    if not frames:
        raise FileNotFoundError(f"{sweep_dir}: no point has written {TABLES[table]} yet")
    df = pl.concat(frames, how="diagonal_relaxed")
    data_cols = [c for c in frames[0].columns if c not in ("point", "seed") and c not in axes]
    order = ["point", "seed"] + [a for a in axes if a in df.columns]
    order += [c for c in data_cols if c not in order]
    order += [c for c in df.columns if c not in order]
    return _backend(df.select(order), backend)


def _status(run: Path) -> str:
    if (run / "summary.json").is_file():
        s = read_summary(run).get("status", "unknown")
        if s != "running":
            return s
    if (run / "attempt.json").is_file():
        a = json.loads((run / "attempt.json").read_text(encoding="utf-8")).get("status", "unknown")
        return {"done": "completed"}.get(a, a)
    return "pending"


def _points(sweep_dir: Path, man: dict, axes: list[str]) -> pl.DataFrame:
    rows = []
    for pt in man["points"]:
        run = sweep_dir / pt["dir"]
        row = {"point": pt["index"], "seed": pt["seed"], "dir": pt["dir"]}
        row.update({k: v for k, v in pt.get("values", [])})
        row["status"] = _status(run)
        s = read_summary(run) if (run / "summary.json").is_file() else {}
        for k in ("epochs_done", "steps_done", "best_test_acc", "wall_time_s"):
            row[k] = s.get(k)
        for k, v in (s.get("last") or {}).items():
            row[f"last.{k}"] = v
        rows.append(row)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols = [_column(k, [r.get(k) for r in rows]) for k in keys]
    df = pl.DataFrame(cols)
    ints = ["point", "seed", "epochs_done", "steps_done", "last.epoch", "last.step"]
    floats = [k for k in keys if k.startswith("last.") and k not in ints] + ["best_test_acc", "wall_time_s"]
    return df.with_columns([pl.col(k).cast(pl.Int64) for k in ints if k in keys]
                           + [pl.col(k).cast(pl.Float64) for k in floats if k in keys])

