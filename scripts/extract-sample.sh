#!/usr/bin/env bash
# The main job on the committed sample, from a fresh clone: fetch ONNX Runtime, build,
# then extract entities and relations from data/sample.jsonl (JSONL in, JSONL out).
#
#   scripts/extract-sample.sh                 # JSONL on stdout
#   scripts/extract-sample.sh --pretty        # readable view
#   scripts/extract-sample.sh -o out.jsonl    # any `erx extract` option passes through
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh >&2
cargo build --release --quiet
export ORT_DYLIB_PATH="$PWD/.ort/libonnxruntime.so"
exec target/release/erx extract data/sample.jsonl "$@"
