#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with every extra and the dev tools.
# Safe to run again: it reinstalls only when pyproject.toml or this script changed since the last
# success.
set -euo pipefail
cd "$(dirname "$0")/.."

# The `local` extra asks for a range of torch releases. pip takes this release's CPU build from
# this machine's disk; installed first, it satisfies the range, so the editable install below
# fetches no other torch (a newer release would be a CUDA build of several GB).
TORCH_VERSION=2.13.0

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
fi

stamp=.venv/.multirerank-installed
wanted=$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in ("pyproject.toml", "scripts/setup.sh"))).hexdigest())')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && .venv/bin/python -c 'import multirerank' 2>/dev/null; then
    echo "setup: .venv is up to date"
    exit 0
fi

# This machine's pip configuration lists index folders that may not exist; their warnings are noise.
pip_install() {
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

echo "setup: installing torch==$TORCH_VERSION (CPU build), then multirerank[dev] into .venv (the first run takes a few minutes)"
pip_install "torch==$TORCH_VERSION"
pip_install -e '.[dev]'
echo "$wanted" > "$stamp"
echo "setup: done"
