"""The emulator's persistent per-request latency: ``Emulator(latency=...)`` and ``--latency``.

Only lower bounds on elapsed time are checked: a request must not be answered before its
latency has passed; how much later a busy machine answers is not this module's business.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.request

import pytest

from multirerank.cli import EXIT_ERROR, main
from multirerank.testing import Emulator

LATENCY = 0.2


def timed_post(url: str) -> tuple[float, list[int]]:
    """Seconds a TEI rerank call took, and the ranked indices it got back."""
    body = json.dumps({"query": "capital", "texts": ["the capital", "a cat"]}).encode()
    request = urllib.request.Request(f"{url}/tei/rerank", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as answer:
        ranked = json.loads(answer.read())
    return time.monotonic() - started, [item["index"] for item in ranked]


def test_default_is_no_latency() -> None:
    assert Emulator().latency == 0.0


def test_every_request_waits_for_the_latency_and_is_answered() -> None:
    with Emulator(latency=LATENCY) as emulator:
        for _ in range(2):  # not only the first request
            elapsed, ranked = timed_post(emulator.url)
            assert elapsed >= LATENCY
            assert ranked == [0, 1]


def test_an_injected_latency_comes_on_top() -> None:
    with Emulator(latency=LATENCY) as emulator:
        emulator.inject(latency=LATENCY)

        elapsed, _ = timed_post(emulator.url)

        assert elapsed >= 2 * LATENCY
        assert emulator.faults == []  # the fault was used up; the emulator's own latency stays
        assert emulator.latency == LATENCY


def test_latency_can_change_while_the_server_runs() -> None:
    with Emulator() as emulator:
        emulator.latency = LATENCY

        elapsed, _ = timed_post(emulator.url)

        assert elapsed >= LATENCY


def test_clear_keeps_the_latency() -> None:
    with Emulator(latency=LATENCY) as emulator:
        emulator.clear()

        assert emulator.latency == LATENCY


@pytest.mark.parametrize("latency", [-0.1, math.nan, math.inf, True, "0.1", None])
def test_latency_must_be_a_finite_number_of_seconds(latency: object) -> None:
    with pytest.raises(ValueError, match="latency must be a finite number of seconds"):
        Emulator(latency=latency)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_command_rejects_a_bad_latency(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulate", "--latency", value])

    assert exited.value.code == EXIT_ERROR
    assert "argument --latency: must be a number of seconds, at least 0" in capsys.readouterr().err


def test_command_serves_with_the_latency() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "multirerank", "emulate", "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("listening on ")[1].split()[0]

        elapsed, ranked = timed_post(url)

        assert elapsed >= LATENCY
        assert ranked == [0, 1]
    finally:
        process.terminate()
        process.wait(timeout=10)
