#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with every extra and the dev tools.
# Safe to run again: it reinstalls only when pyproject.toml changed since the last success.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
fi

stamp=.venv/.multirerank-installed
wanted=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && .venv/bin/python -c 'import multirerank' 2>/dev/null; then
    echo "setup: .venv is up to date"
    exit 0
fi

echo "setup: installing multirerank[dev] into .venv (the first run takes a few minutes)"
# This machine's pip configuration lists index folders that may not exist; their warnings are noise.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
echo "$wanted" > "$stamp"
echo "setup: done"
