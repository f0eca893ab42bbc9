#!/usr/bin/env bash
# Sets up a fresh machine, then reranks the demo documents with the packaged local model.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/multirerank rerank --model local examples/demo.json
