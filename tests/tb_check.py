"""Reads run directories with TensorBoard's own EventAccumulator and checks that its scalars are
exactly metrics.csv: one tag per column (all but `row`; `norm:X` is tagged `norm/X`), every finite cell at its row's step, in
row order, equal as float32 (TensorBoard's simple_value). Prints `tb ok DIR N` per directory.
Usage: python tests/tb_check.py RUN_DIR [RUN_DIR ...]"""
import csv
import math
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def cell(text):
    try:
        v = float(text)
    except ValueError:
        return None
    return np.float32(v) if math.isfinite(v) else None


for d in sys.argv[1:]:
    ea = EventAccumulator(d, size_guidance={"scalars": 0})  # 0: keep every event
    ea.Reload()
    with open(f"{d}/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if c != "row"]
    tag = {c: c.replace(":", "/", 1) for c in cols}
    tags = set(ea.Tags()["scalars"])
    assert tags <= set(tag.values()), f"{d}: tags not in metrics.csv: {sorted(tags - set(tag.values()))}"
    n = 0
    for c in cols:
        want = [(int(r["step"]), cell(r[c])) for r in rows if cell(r[c]) is not None]
        got = [(e.step, np.float32(e.value)) for e in ea.Scalars(tag[c])] if tag[c] in tags else []
        assert got == want, f"{d}: tag {c}: TensorBoard has {got[:8]}..., metrics.csv {want[:8]}..."
        n += len(got)
    assert n > 0, f"{d}: no scalars"
    print("tb ok", d, n)
