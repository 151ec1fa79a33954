#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library from its PyPI wheel and unpacks it into .ort/
# (git-ignored). erx loads it at run time; nothing is downloaded when cargo builds.
#
#   scripts/setup-ort.sh          # CPU runtime  -> .ort/libonnxruntime.so
#   scripts/setup-ort.sh --gpu    # CUDA runtime -> .ort-gpu/libonnxruntime.so (onnxruntime-gpu)
#
# Idempotent: does nothing when the library is already in place.
set -euo pipefail
ORT_VERSION="1.31.1"
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="onnxruntime"; dest="$root/.ort"
if [ "${1:-}" = "--gpu" ]; then pkg="onnxruntime-gpu"; dest="$root/.ort-gpu"; fi

if [ -e "$dest/libonnxruntime.so" ]; then
  echo "ONNX Runtime $ORT_VERSION already in $dest"
  exit 0
fi
py="$(command -v python3 || command -v python || true)"
if [ -z "$py" ]; then
  echo "error: python3 with pip is needed to download the $pkg wheel" >&2
  exit 1
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 \
  -d "$tmp" "$pkg==$ORT_VERSION"
wheel="$(ls "$tmp"/*.whl)"
"$py" - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$dest"
cp -a "$tmp"/x/onnxruntime/capi/libonnxruntime*.so* "$dest"/
# the provider libraries (CUDA, shared) sit beside the core library in the GPU wheel
cp -a "$tmp"/x/onnxruntime/capi/libonnxruntime_providers_*.so "$dest"/ 2>/dev/null || true
lib="$(ls "$dest"/libonnxruntime.so.* | head -n1)"
ln -sf "$(basename "$lib")" "$dest/libonnxruntime.so"
echo "ONNX Runtime $ORT_VERSION ($pkg) installed in $dest"
