# Source this file: it makes sure the project-local virtualenv with the pinned torch exists and
# exports what tch's build needs (LIBTORCH_USE_PYTORCH=1 + the venv's python on PATH).
# Override the venv location with SILAB_VENV; the torch version with SILAB_TORCH.
SILAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SILAB_VENV="${SILAB_VENV:-$SILAB_ROOT/.venv}"
SILAB_TORCH="${SILAB_TORCH:-2.13.0}"
if ! "$SILAB_VENV/bin/python" -c "import torch,safetensors,polars,tensorboard,sys; sys.exit(torch.__version__.split('+')[0] != '$SILAB_TORCH')" 2>/dev/null; then
    echo "silab: setting up $SILAB_VENV with torch==$SILAB_TORCH (first use only)" >&2
    python3 -m venv "$SILAB_VENV" || return 1
    "$SILAB_VENV/bin/pip" install -q --disable-pip-version-check "torch==$SILAB_TORCH" numpy safetensors polars tensorboard || return 1
fi
export VIRTUAL_ENV="$SILAB_VENV"
export PATH="$SILAB_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export SILAB_TORCH
if [ "$SILAB_TORCH" != "2.13.0" ]; then export LIBTORCH_BYPASS_VERSION_CHECK=1; fi
