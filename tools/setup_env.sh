#!/usr/bin/env bash
# Set up mmema on a fresh CPU machine: a virtual environment in the checkout
# (.venv) with the pinned OpenMMLab stack, mmcv 2.0.1 built with CPU ops from
# its sdist (cached outside the checkout), mmdet, mmpretrain and mmyolo, and
# mmema installed in editable mode with its fused CPU kernels (mmema/csrc)
# compiled in place. mmcv stays below 2.1.0 because mmyolo 0.6.0 asserts it.
#
# Idempotent: a second run only checks the stamp and returns in seconds.
# Environment:
#   MMEMA_VENV   where to create the venv (default: <checkout>/.venv)
#   MMEMA_CACHE  where the built mmcv wheel is kept (default: ~/.cache/mmema)
#   PYTHON       the interpreter that creates the venv (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMEMA_VENV:-$ROOT/.venv}"
CACHE="${MMEMA_CACHE:-$HOME/.cache/mmema}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.0.1
CONSTRAINTS="$ROOT/requirements/constraints.txt"

log() { printf '[mmema setup] %s\n' "$*"; }

stamp_key() {
    cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT"/mmema/csrc/* "$0" |
        sha256sum | cut -c1-16
}

STAMP="$VENV/.mmema-setup-$(stamp_key)"
if [[ -f "$STAMP" ]]; then
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

log "installing setuptools<81 (mmcv's setup.py imports pkg_resources)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" setuptools wheel

log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION (large; taken from local files where present)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

log "installing mmengine and pinned helpers"
"${PIP[@]}" install -q -c "$CONSTRAINTS" mmengine==0.10.7 ninja psutil

PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PYTAG-cpu"
if ! compgen -G "$WHEEL_DIR/mmcv-*.whl" >/dev/null; then
    log "building mmcv $MMCV_VERSION with CPU ops from source: about 22 minutes on 2 cores, done once and cached in $WHEEL_DIR"
    BUILD_DIR="$(mktemp -d)"
    trap 'rm -rf "$BUILD_DIR"' EXIT
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
        "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
    tar -xzf "$BUILD_DIR"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD_DIR"
    SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers require C++20; mmcv 2.0.1 asks for C++14/17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    (
        cd "$SRC"
        while sleep 60; do log "... still compiling mmcv ops ($(date +%H:%M:%S))"; done &
        TICKER=$!
        trap 'kill $TICKER 2>/dev/null' EXIT
        MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
            "${PIP[@]}" wheel -q --no-deps --no-build-isolation -w "$BUILD_DIR/dist" .
    )
    mkdir -p "$WHEEL_DIR"
    # Copy then rename, so an interrupted build never leaves a broken wheel in the cache.
    for whl in "$BUILD_DIR"/dist/mmcv-*.whl; do
        cp "$whl" "$WHEEL_DIR/.partial"
        mv "$WHEEL_DIR/.partial" "$WHEEL_DIR/$(basename "$whl")"
    done
fi
log "installing mmcv from $WHEEL_DIR"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "$WHEEL_DIR"/mmcv-*.whl

log "installing mmdet, mmpretrain, mmyolo, pycocotools and the test tools"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r "$ROOT/requirements/pinned.txt" -r "$ROOT/requirements/deploy.txt" -r "$ROOT/requirements/tests.txt"

log "installing mmema (editable)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-build-isolation -e "$ROOT"
# pip's editable install of a setup.py project builds in an isolated
# environment without torch, so the kernels are compiled here, in place.
log "compiling mmema's fused CPU kernels (mmema/csrc, about 30 s)"
(cd "$ROOT" && "$PY" setup.py -q build_ext --inplace >/dev/null)

"$PY" - <<'PY'
import mmcv, mmdet, mmengine, mmpretrain, mmyolo, torch, torchvision
from mmcv.ops import nms  # compiled ops present
import mmema
import mmema._ext  # mmema's compiled CPU kernels
print(f'[mmema setup] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, mmyolo {mmyolo.__version__}, mmema {mmema.__version__}')
PY
rm -f "$VENV"/.mmema-setup-*
touch "$STAMP"
