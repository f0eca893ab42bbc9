"""Every code block of README.md runs as written, offline.

Python blocks run one after another in a single fresh interpreter, each in a namespace of its own
(so imports, torch's among them, are paid once). Bash blocks run in bash with this interpreter's
``bin`` folder (the ``multirerank`` command) first on ``PATH``, except commands that set up a
machine, which are skipped with the reason. Both run from the repository root with the vendors'
credential variables removed, so an example must bring its own settings, and with the model hub
off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMEOUT = 240

#: A fenced block: its language and its lines, up to the closing fence.
_FENCE = re.compile(r"^```(?P<language>[\w-]*)[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
#: Bash commands that set up a machine (a venv, packages): not run here.
_SETUP = re.compile(r"^\s*(bash scripts/\w+\.sh|(\S*python3?\s+-m\s+)?(\S*/)?pip3?\s+install)\b")
#: Environment variables that hold a vendor's credentials or settings.
_VENDOR_ENV = ("AWS_", "WATSONX_", "DASHSCOPE_", "COHERE_", "CO_API_KEY", "JINA_", "GOOGLE_", "MULTIRERANK_")
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # README.md's line number of the block's first line of code
    code: str

    @property
    def name(self) -> str:
        return f"README.md:{self.line}-{self.language}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(match["language"], text.count("\n", 0, match.start("code")) + 1, match["code"])
        for match in _FENCE.finditer(text)
    ]


BLOCKS = readme_blocks()
PYTHON = [block for block in BLOCKS if LANGUAGES.get(block.language) == "python"]
BASH = [block for block in BLOCKS if LANGUAGES.get(block.language) == "bash"]


def offline_environment() -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(_VENDOR_ENV)}
    environment.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    return environment


#: Runs in the fresh interpreter: argv[1] is a JSON list of blocks, argv[2] the file for the results.
_RUNNER = """
import contextlib, io, json, sys, traceback

results = []
for block in json.loads(open(sys.argv[1], encoding="utf-8").read()):
    output = io.StringIO()
    # Padding puts the block's lines at their README line numbers in tracebacks.
    code = "\\n" * (block["line"] - 1) + block["code"]
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    except Exception:
        results.append({"output": output.getvalue(), "error": traceback.format_exc()})
    else:
        results.append({"output": output.getvalue(), "error": None})
with open(sys.argv[2], "w", encoding="utf-8") as file:
    json.dump(results, file)
"""


class Run:
    """A process started now and waited for once: the README's blocks run side by side.

    ``results`` is the file where the Python blocks' interpreter writes what each block did.
    """

    def __init__(self, arguments: list[str], results: Path | None = None) -> None:
        self.results = results
        self.process = subprocess.Popen(
            arguments,
            cwd=ROOT,
            env=offline_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._finished: subprocess.CompletedProcess[str] | None = None

    def wait(self) -> subprocess.CompletedProcess[str]:
        if self._finished is None:
            try:
                stdout, stderr = self.process.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                stdout, stderr = self.process.communicate()
                stderr += f"\n(killed after {TIMEOUT} s)"
            self._finished = subprocess.CompletedProcess(
                self.process.args, self.process.returncode, stdout, stderr
            )
        return self._finished


def setup_commands(block: Block) -> list[str]:
    return [line.strip() for line in block.code.splitlines() if _SETUP.match(line)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """The interpreter running every Python block and a bash for each bash block, started at once.

    Several of them load the local model; side by side they take about as long as the slowest.
    ``runs["python"]`` is the Python blocks' interpreter; a bash block's run is under its name.
    """
    folder = tmp_path_factory.mktemp("readme")
    blocks, results = folder / "blocks.json", folder / "results.json"
    blocks.write_text(json.dumps([{"line": block.line, "code": block.code} for block in PYTHON]))
    started = {"python": Run([sys.executable, "-c", _RUNNER, str(blocks), str(results)], results)}
    for block in BASH:
        if not setup_commands(block):
            started[block.name] = Run(["bash", "-euo", "pipefail", "-c", block.code])
    yield started
    for run in started.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


@pytest.fixture(scope="module")
def python_results(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    """Each Python block's printed output and traceback (None when it ran), by block name."""
    run = runs["python"]
    completed = run.wait()
    assert run.results is not None
    assert completed.returncode == 0 and run.results.exists(), completed.stderr
    return dict(zip((block.name for block in PYTHON), json.loads(run.results.read_text()), strict=True))


def test_every_block_is_python_or_bash() -> None:
    # A block in another language would be skipped silently: say which runner it needs.
    assert [block.name for block in BLOCKS if block.language not in LANGUAGES] == []
    assert len(PYTHON) >= 8 and len(BASH) >= 2


@pytest.mark.parametrize("block", PYTHON, ids=lambda block: block.name)
def test_python_block_runs(block: Block, python_results: dict[str, dict[str, Any]]) -> None:
    result = python_results[block.name]
    assert result["error"] is None, f"{block.name} failed:\n{result['error']}"


@pytest.mark.parametrize("block", BASH, ids=lambda block: block.name)
def test_bash_block_runs(block: Block, runs: dict[str, Run]) -> None:
    setup = setup_commands(block)
    if setup:
        pytest.skip(f"sets up a machine, not for a test run: {'; '.join(setup)}")
    completed = runs[block.name].wait()
    assert completed.returncode == 0, f"{block.name} failed:\n{completed.stdout}\n{completed.stderr}"
    assert completed.stdout.strip(), f"{block.name} printed nothing"
