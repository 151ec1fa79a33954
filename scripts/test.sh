#!/usr/bin/env bash
# The test command: fetches ONNX Runtime if needed, then runs the whole test suite
# (unit tests, integration tests on the fixture model, golden test on the shipped model,
# the HTTP server's tests, the Python package and the Spark job).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo test --all-targets "$@"
# the HTTP server (feature "serve"): its unit tests and tests/serve.rs, in the same profile
# as above, so that CI compiles only the server's own dependencies on top of it
cargo test --features serve --bin erx --test serve "$@"
cargo test --doc
# the news-corpus tools (standard library only)
python3 -m unittest discover -s scripts/news -p 'test_*.py'
# the Python scorer's copy of erx's entity grouping (standard library only)
python3 -m unittest discover -s scripts/erxlib -p 'test_*.py'
# the Python package (bindings/python) and the Spark job, in their own virtualenv, checked
# against the release CLI; the Spark test is skipped where there is no Java runtime
cargo build --release
python3 -m venv .venv-py
.venv-py/bin/pip install --quiet --disable-pip-version-check ./bindings/python \
  -r bindings/python/requirements-test.txt
.venv-py/bin/python -m pytest -q bindings/python/tests
