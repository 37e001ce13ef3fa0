#!/usr/bin/env bash
# Side-by-side speed: silab bench vs scripts/bench_torch_convnet.py, same workload, alternating
# runs, REPS each; prints every JSON line (stderr) and a markdown row with the median images/s of
# each side. The last column runs PyTorch with the malloc setting silab applies to itself
# (run::keep_freed_memory), through glibc tunables, to show what that setting alone is worth.
#   scripts/bench-vs-torch.sh [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet --bin silab
reps=${1:-3}; threads=${2:-2}
tun="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"
echo "| model | mode | silab img/s | PyTorch img/s | silab / PyTorch | PyTorch, same malloc setting, img/s | silab / that |"
echo "|---|---|---|---|---|---|---|"
for width in 8 32; do
  for mode in sphere full; do
    s=(); p=(); q=()
    for _ in $(seq "$reps"); do
      a=$(target/release/silab bench --width "$width" --mode "$mode" --threads "$threads")
      b=$("$SILAB_VENV/bin/python" scripts/bench_torch_convnet.py --width "$width" --mode "$mode" --threads "$threads")
      c=$(GLIBC_TUNABLES=$tun "$SILAB_VENV/bin/python" scripts/bench_torch_convnet.py --width "$width" --mode "$mode" --threads "$threads")
      echo "$a" >&2; echo "$b" >&2; echo "$c" >&2
      s+=("$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
      p+=("$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
      q+=("$(echo "$c" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
    done
    python3 - "$width" "$mode" "${s[*]}" "${p[*]}" "${q[*]}" <<'PY'
import statistics, sys
w, m = sys.argv[1], sys.argv[2]
ms, mp, mq = (statistics.median(float(x) for x in a.split()) for a in sys.argv[3:6])
print(f"| ConvNet-{w} | {m} | {ms:.0f} | {mp:.0f} | {ms / mp:.2f}x | {mq:.0f} | {ms / mq:.2f}x |")
PY
  done
done
