#!/usr/bin/env bash
# Side-by-side speed of the MLP and the ViT: silab bench --arch mlp|vit vs
# scripts/bench_torch_models.py (the same networks as PyTorch modules, python/silab_reference.py),
# same workload (batch 128, full-space SGD with weight decay), alternating runs, REPS each;
# prints every JSON line (stderr) and a markdown row with the median images/s of each side.
#   scripts/bench-models-vs-torch.sh [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet --bin silab
reps=${1:-5}; threads=${2:-2}
echo "| model | silab img/s | PyTorch img/s | silab / PyTorch |"
echo "|---|---|---|---|"
for spec in "mlp --width 512 --depth 3" "vit --dim 64 --depth 3 --heads 4 --patch 4"; do
  s=(); p=()
  for _ in $(seq "$reps"); do
    # shellcheck disable=SC2086
    a=$(target/release/silab bench --arch $spec --threads "$threads")
    # shellcheck disable=SC2086
    b=$("$SILAB_VENV/bin/python" scripts/bench_torch_models.py --arch $spec --threads "$threads")
    echo "$a" >&2; echo "$b" >&2
    s+=("$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
    p+=("$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
  done
  python3 - "$spec" "${s[*]}" "${p[*]}" <<'PY'
import statistics, sys
spec = sys.argv[1].split()
name = {"mlp": "MLP 512x3 (LayerNorm)", "vit": "ViT dim 64, depth 3, 4 heads, patch 4"}[spec[0]]
ms, mp = (statistics.median(float(x) for x in a.split()) for a in sys.argv[2:4])
print(f"| {name} | {ms:.0f} | {mp:.0f} | {ms / mp:.2f}x |")
PY
done
