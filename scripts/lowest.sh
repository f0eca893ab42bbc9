#!/usr/bin/env bash
# The lowest-bounds job: installs the project with the langchain, llamaindex, http and testing
# extras, each direct dependency at the lowest release pyproject.toml allows (uv's
# --resolution lowest-direct; what they depend on at its newest), into a venv of its own
# (.lowest/venv, made anew each run), and runs tests/smoke_lowest.py there. The local, aws,
# watsonx and dashscope extras are left out: torch and the vendor SDKs are tested at their newest
# by the main suite only. Exits non-zero when the install or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
EXTRAS=langchain,llamaindex,http,testing
tools=.lowest/tools
venv=.lowest/venv
python=$(command -v "${PYTHON:-python3}")
# uv uses this machine's Python, never one it downloads.
export UV_PYTHON_DOWNLOADS=never

if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "lowest: installing uv==$UV_VERSION into $tools"
    "$python" -m venv "$tools"
    # This machine's pip configuration lists index folders that may not exist; their warnings are noise.
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
fi
uv=$tools/bin/uv

echo "lowest: creating $venv"
rm -rf "$venv"
"$uv" venv --quiet --python "$python" "$venv"

echo "lowest: uv pip install --resolution lowest-direct -e '.[$EXTRAS]'"
"$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e ".[$EXTRAS]"
# The test tools at their newest, installed after: they move none of the project's dependencies.
"$uv" pip install --quiet --python "$venv/bin/python" pytest pytest-asyncio pytest-timeout

# The direct dependencies of this job's extras as installed, e.g. "pydantic 2.10.1".
EXTRAS=$EXTRAS "$venv/bin/python" - <<'EOF'
import os
import re
from importlib.metadata import requires, version

extras = {None, *os.environ["EXTRAS"].split(",")}
installed = []
for requirement in requires("multirerank") or []:
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    extra = re.search(r"extra == .([A-Za-z0-9._-]+)", requirement)
    if (extra.group(1) if extra else None) in extras:
        installed.append(f"{name} {version(name)}")
print("lowest: installed", ", ".join(installed))
EOF

echo "lowest: pytest tests/smoke_lowest.py"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/smoke_lowest.py
