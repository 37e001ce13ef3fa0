#!/usr/bin/env bash
# Speed of a scripted module in silab beside the same module in a plain PyTorch loop: the
# reference ConvNet-32 and ResNet-18-16 (python/silab_reference.py, scale-invariant, BatchNorm)
# exported once by `scripts/bench_torch_models.py --export` (silab.export), then, alternating,
# `silab bench --model-file` (the scripted module in silab), the eager module and the
# torch.compile'd module; batch 128, full-space SGD with weight decay, THREADS threads, REPS
# runs each. Prints every JSON line (stderr) and a markdown row with the medians and the ratios
# of the same run.
#   scripts/bench-scripted-vs-torch.sh [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet --bin silab
reps=${1:-3}; threads=${2:-2}
tmp=$(mktemp -d)
steps="--steps 20 --warmup 3"
echo "| module | silab (scripted) img/s | PyTorch eager img/s | torch.compile img/s | silab / eager | silab / compile |"
echo "|---|---|---|---|---|---|"
for spec in "convnet --width 32" "resnet18 --width 16"; do
  name=${spec%% *}
  # shellcheck disable=SC2086
  "$SILAB_VENV/bin/python" scripts/bench_torch_models.py --arch $spec --threads "$threads" --steps 1 --warmup 0 \
    --export "$tmp/$name.pt" > /dev/null
  s=(); e=(); c=()
  for _ in $(seq "$reps"); do
    # shellcheck disable=SC2086
    a=$(target/release/silab bench --model-file "$tmp/$name.pt" --threads "$threads" $steps)
    # shellcheck disable=SC2086
    b=$("$SILAB_VENV/bin/python" scripts/bench_torch_models.py --arch $spec --threads "$threads" $steps)
    # shellcheck disable=SC2086
    d=$("$SILAB_VENV/bin/python" scripts/bench_torch_models.py --arch $spec --threads "$threads" $steps --compile)
    echo "$a" >&2; echo "$b" >&2; echo "$d" >&2
    s+=("$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
    e+=("$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
    c+=("$(echo "$d" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
  done
  python3 - "$spec" "${s[*]}" "${e[*]}" "${c[*]}" <<'PY'
import statistics, sys
spec = sys.argv[1].split()
name = {"convnet": "ConvNet-32 SI", "resnet18": "ResNet-18-16 SI"}[spec[0]]
ms, me, mc = (statistics.median(float(x) for x in a.split()) for a in sys.argv[2:5])
print(f"| {name} | {ms:.0f} | {me:.0f} | {mc:.0f} | {ms / me:.2f}x | {ms / mc:.2f}x |")
PY
done
rm -rf "$tmp"
