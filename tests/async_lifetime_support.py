"""Fresh-interpreter checks of a native-async backend's life across event loops.

Run in a new interpreter so open files, live loops and first imports belong to the backend alone.
``setup`` is Python that defines ``backend`` (given the base URL as ``sys.argv[1]``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tests.sdk_support import ROOT

_PREAMBLE = """
import asyncio, gc, json, logging, os, sys
from pydantic import SecretStr
from multirerank import Reranker
"""

_RUNS = """
reranker = Reranker(backend)


def open_files():
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


asyncio.run(reranker.arerank("how do cats purr", ["cats purr", "dogs bark"]))
before = open_files()
for _ in range({runs}):
    asyncio.run(reranker.arerank("how do cats purr", ["cats purr", "dogs bark"]))
after = open_files()
loops = sum(isinstance(item, asyncio.AbstractEventLoop) for item in gc.get_objects())
print(json.dumps({{"before": before, "after": after, "held": {held}.count(), "loops": loops}}))
"""

_FIRST_CALL = """
slow = []


class Noted(logging.Handler):
    def emit(self, record):
        slow.append(record.getMessage())


logging.getLogger("asyncio").addHandler(Noted())


async def first_call():
    asyncio.get_running_loop().slow_callback_duration = 0.1
    return len(await Reranker(backend).arerank("how do cats purr", ["cats purr", "dogs bark"]))


print(json.dumps({"results": asyncio.run(first_call(), debug=True), "slow": slow}))
"""


def _run(code: str, url: str, *flags: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, url], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def many_asyncio_runs(setup: str, held: str, url: str, runs: int = 30) -> dict[str, Any]:
    """Open files before and after ``runs`` more ``asyncio.run`` calls, what ``held`` (an
    expression with a ``count()``) still holds, and the loops still alive; ResourceWarnings fail."""
    report, stderr = _run(
        _PREAMBLE + setup + _RUNS.format(runs=runs, held=held),
        url,
        "-X",
        "dev",
        "-W",
        "error::ResourceWarning",
    )
    assert "ResourceWarning" not in stderr and "Exception ignored" not in stderr, stderr
    return report


def slow_callbacks_of_first_call(setup: str, url: str) -> list[str]:
    """asyncio's debug-mode warnings of callbacks over 0.1 s during a fresh backend's first call."""
    report, _ = _run(_PREAMBLE + setup + _FIRST_CALL, url)
    assert report["results"] == 2
    return [message for message in report["slow"] if "took" in message]


class RefusingExecutor(ThreadPoolExecutor):
    """A loop default executor that refuses work: whatever is handed to it fails, and is noted."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.refused: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.refused.append(getattr(fn, "__qualname__", repr(fn)))
        raise RuntimeError("the event loop's default executor was used")
