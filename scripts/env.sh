# Source this file: it makes sure the project-local virtualenv with the pinned torch exists and
# exports what tch's build needs (LIBTORCH_USE_PYTORCH=1 + the venv's python on PATH).
# Override the venv location with SILAB_VENV; the torch version with SILAB_TORCH.
SILAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SILAB_VENV="${SILAB_VENV:-$SILAB_ROOT/.venv}"
SILAB_TORCH="${SILAB_TORCH:-2.13.0}"
# The quick check, run on every call of ./silab: the packages' metadata folders are there, torch's
# at the pinned version (a glob: starting python to import torch takes seconds). Only when that
# fails are the packages imported, and the venv set up if that fails too.
_silab_sp="$SILAB_VENV/lib/python3*/site-packages"
# whether one of the paths (globs that matched) is a folder; a glob that matched nothing stays as is
_silab_any() { for _silab_d in "$@"; do [ -d "$_silab_d" ] && return 0; done; return 1; }
# shellcheck disable=SC2086  # the globs are meant to expand
if ! [ -x "$SILAB_VENV/bin/python" ] \
    || ! _silab_any $_silab_sp/torch-"$SILAB_TORCH".dist-info $_silab_sp/torch-"$SILAB_TORCH"+*.dist-info \
    || ! _silab_any $_silab_sp/safetensors-*.dist-info || ! _silab_any $_silab_sp/polars-*.dist-info \
    || ! _silab_any $_silab_sp/tensorboard-*.dist-info; then
    if ! "$SILAB_VENV/bin/python" -c "import torch,safetensors,polars,tensorboard,sys; sys.exit(torch.__version__.split('+')[0] != '$SILAB_TORCH')" 2>/dev/null; then
        echo "silab: setting up $SILAB_VENV with torch==$SILAB_TORCH (first use only)" >&2
        python3 -m venv "$SILAB_VENV" || return 1
        "$SILAB_VENV/bin/pip" install -q --disable-pip-version-check "torch==$SILAB_TORCH" numpy safetensors polars tensorboard || return 1
    fi
fi
unset _silab_sp _silab_d
unset -f _silab_any
export VIRTUAL_ENV="$SILAB_VENV"
export PATH="$SILAB_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export SILAB_TORCH
if [ "$SILAB_TORCH" != "2.13.0" ]; then export LIBTORCH_BYPASS_VERSION_CHECK=1; fi
