#!/usr/bin/env bash
# Side-by-side speed of each optimizer: silab bench --optim NAME vs scripts/bench_torch_models.py
# --optim NAME (torch.optim, foreach implementation; Lion written with torch._foreach_* ops), same
# workload (random 32x32x3 inputs, batch 128, weight decay), alternating runs, REPS each; prints
# every JSON line (stderr) and a markdown row per network and optimizer with the medians of the
# whole training step and of the optimizer step alone.
#   scripts/bench-optim-vs-torch.sh [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet --bin silab
reps=${1:-5}; threads=${2:-2}
echo "| network | optimizer | silab step ms | PyTorch step ms | silab / PyTorch | silab optimizer ms | PyTorch optimizer ms | silab / PyTorch |"
echo "|---|---|---|---|---|---|---|---|"
for net in "mlp --width 512 --depth 3" "convnet --width 32"; do
  for opt in "sgd" "sgd --momentum 0.9" "adam" "adamw" "lion"; do
    s=(); p=()
    for _ in $(seq "$reps"); do
      # shellcheck disable=SC2086
      a=$(target/release/silab bench --arch $net --optim $opt --threads "$threads")
      # shellcheck disable=SC2086
      b=$("$SILAB_VENV/bin/python" scripts/bench_torch_models.py --arch $net --optim $opt --threads "$threads")
      echo "$a" >&2; echo "$b" >&2
      s+=("$a"); p+=("$b")
    done
    python3 - "$net" "$opt" "$(printf '%s\n' "${s[@]}")" "$(printf '%s\n' "${p[@]}")" <<'PY'
import json, statistics, sys
net, opt = sys.argv[1].split(), sys.argv[2]
name = {"mlp": "MLP 512x3 (LayerNorm)", "convnet": "ConvNet-32 (BatchNorm)"}[net[0]]
opt = {"sgd": "SGD", "sgd --momentum 0.9": "SGD, momentum 0.9", "adam": "Adam", "adamw": "AdamW", "lion": "Lion"}[opt]
s, p = ([json.loads(l) for l in a.splitlines()] for a in sys.argv[3:5])
med = lambda rows, k: statistics.median(r[k] for r in rows)
ss, ps, so, po = med(s, "ms_per_step_median"), med(p, "ms_per_step_median"), med(s, "opt_ms_median"), med(p, "opt_ms_median")
print(f"| {name} | {opt} | {ss:.1f} | {ps:.1f} | {ss / ps:.2f} | {so:.2f} | {po:.2f} | {so / po:.2f} |")
PY
  done
done
