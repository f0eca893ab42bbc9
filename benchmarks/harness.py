"""What the issue-7 benchmark scripts share: the emulator in a process of its own, an isolated
environment, synthetic texts, medians and the report table.

Not a benchmark itself; ``bench_concurrency.py``, ``bench_overhead.py`` and ``bench_import.py``
import it from this directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
REGION = "us-west-2"
MODEL_ID = "cohere.rerank-v3-5:0"
#: The foundation-model ARN langchain-aws needs (it sends ``model_arn`` as given).
MODEL_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL_ID}"
COHERE_MODEL = "rerank-v3.5"
QUERY = "solar battery storage on the grid"
WORDS = [
    "solar",
    "battery",
    "wind",
    "storage",
    "grid",
    "turbine",
    "panel",
    "hydrogen",
    "inverter",
    "roof",
    "charge",
    "demand",
    "tariff",
    "meter",
    "heat",
    "pump",
]

#: Started in the emulator's own process. The stdlib server listens with a backlog of 5; a burst
#: of dozens of new connections (64 calls at once, each on a fresh connection) then overflows the
#: accept queue, and the dropped handshakes cost the clients a one-second SYN retransmission or a
#: reset connection. Vendors' servers have deep queues, so the benchmarks give the emulator one
#: (a no-op where the emulator's own server class already sets a deeper backlog).
#: It serves until its stdin closes: when the benchmark ends, however it ends, so does the emulator.
#: Its fourth argument is a JSON list of faults to inject (``Emulator.inject`` keyword arguments).
_EMULATOR_MAIN = """
import http.server, json, os, sys
http.server.ThreadingHTTPServer.request_queue_size = max(
    http.server.ThreadingHTTPServer.request_queue_size, 1024
)
from multirerank.testing import Emulator
emulator = Emulator(sys.argv[1], int(sys.argv[2]), latency=float(sys.argv[3]), record=0).start()
for fault in json.loads(sys.argv[4]):
    emulator.inject(**fault)
sys.stdin.read()
os._exit(0)
"""

#: How long the emulator may take to start accepting connections.
START_TIMEOUT = 60.0


def isolate_environment() -> None:
    """Only 127.0.0.1 is reached: no AWS setting, profile or metadata service of this machine
    takes part, and no proxy sits between the clients and the emulator. Subprocesses inherit it."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name, ""), HOST]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class EmulatorProcess:
    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the emulator's process has used so far (None where /proc cannot tell): a
        figure whose wall time is close to the emulator's CPU time in the same span measures the
        emulator (one GIL, at most one core), not the client."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class ServerProcess:
    """A server script running in its own process: its URL, its process, and (once it stopped,
    when asked for) what it printed."""

    url: str
    process: subprocess.Popen[str]
    output: str = ""


@contextlib.contextmanager
def server_process(main: str, *arguments: str, capture_output: bool = False) -> Iterator[ServerProcess]:
    """``python -c main HOST PORT *arguments`` on a free port, yielded once it accepts
    connections. On the way out its standard input is closed (the script's signal to exit; it
    also stops if this process dies first), it is killed after 10 s, and with
    ``capture_output`` its standard output is kept in ``output``."""
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-c", main, HOST, str(port), *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if capture_output else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = ServerProcess(f"http://{HOST}:{port}", process)
    try:
        _wait_until_accepting(process, port)
        yield served
    finally:
        # communicate closes standard input, then reads the pipes while waiting, so a long
        # output cannot fill a pipe and hold the process up.
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=10)
        served.output = output or ""


@contextlib.contextmanager
def emulator_process(latency: float, faults: Sequence[Mapping[str, Any]] = ()) -> Iterator[EmulatorProcess]:
    """The wire emulator in a separate process (its threads do not share this process's GIL),
    answering every request after ``latency`` seconds, with ``faults`` injected (keyword
    arguments of ``Emulator.inject``, JSON values only); yields it once it accepts connections,
    and stops it on the way out (see :func:`server_process`)."""
    with server_process(_EMULATOR_MAIN, repr(latency), json.dumps(list(faults))) as served:
        yield EmulatorProcess(served.url, served.process.pid)


def _wait_until_accepting(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr is not None else ""
            raise RuntimeError(f"the emulator exited with status {process.returncode}:\n{error}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the emulator did not accept connections on port {port} in {START_TIMEOUT:.0f} s")


def synthetic_texts(count: int, *, low: int = 6, high: int = 40, seed: int = 11) -> list[str]:
    chooser = random.Random(seed)
    return [
        f"note {number}: " + " ".join(chooser.choices(WORDS, k=chooser.randint(low, high)))
        for number in range(count)
    ]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if abs(seconds) >= 0.01 else f"{seconds * 1e3:.2f} ms"


@dataclass(frozen=True)
class Figure:
    """One line of a report: what was measured, its value, the target and the verdict."""

    name: str
    value: str
    target: str = ""
    result: str = ""  # PASS, FAIL, or empty for a figure printed for reference


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the first column left-aligned, the others right."""
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    for number, line in enumerate([header, *rows]):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def print_figures(figures: Sequence[Figure]) -> None:
    print_table(
        ("figure", "measured", "target", "result"),
        [(figure.name, figure.value, figure.target, figure.result) for figure in figures],
    )
