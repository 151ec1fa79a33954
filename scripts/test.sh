#!/usr/bin/env bash
# The test command: fetches ONNX Runtime if needed, then runs the whole test suite
# (unit tests, integration tests on the fixture model, golden test on the shipped model).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo test --all-targets "$@"
cargo test --doc
# the news-corpus tools (standard library only)
python3 -m unittest discover -s scripts/news -p 'test_*.py'
