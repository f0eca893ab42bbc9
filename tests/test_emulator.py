"""The wire emulator itself: its bounded request log and its HTTPS mode under misbehaving clients."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from multirerank.testing import Emulator, lexical_scorer
from multirerank.testing import server as emulator_server

TEI_PATH = "/tei/rerank"


def post(emulator: Emulator, query: str, timeout: float = 5.0) -> Any:
    """A TEI rerank call by urllib, over HTTPS when the emulator serves it."""
    body = json.dumps({"query": query, "texts": ["the capital", "a cat"]}).encode()
    request = urllib.request.Request(emulator.url + TEI_PATH, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    # The certificate is self-signed: these tests are about the server, not certificate checks.
    context = ssl._create_unverified_context() if emulator.tls else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as emulator:
        yield emulator


def raw_connection(emulator: Emulator) -> socket.socket:
    return socket.create_connection((emulator.host, emulator.port), timeout=5)


# -- the request log --------------------------------------------------------------------------


def test_keeps_only_the_last_record_requests() -> None:
    with Emulator(record=2) as emulator:
        for query in ("first", "second", "third"):
            post(emulator, query)

        assert [request.json()["query"] for request in emulator.requests] == ["second", "third"]
        assert emulator.requests[-1].json()["query"] == "third"
        assert emulator.requests[:1][0].json()["query"] == "second"
        assert len(emulator.requests_to(r"^/tei/")) == 2


def test_record_zero_keeps_nothing_but_still_answers() -> None:
    with Emulator(record=0) as emulator:
        assert [item["index"] for item in post(emulator, "capital")] == [0, 1]
        assert emulator.requests == []
        assert emulator.requests_to(TEI_PATH) == []


def test_record_none_keeps_everything_and_the_default_is_bounded() -> None:
    assert Emulator().record == emulator_server.DEFAULT_RECORD == 10_000
    with Emulator(record=None) as emulator:
        for number in range(3):
            post(emulator, f"query {number}")
        assert len(emulator.requests) == 3


def test_requests_is_a_list_copy_and_clear_empties_the_log() -> None:
    with Emulator() as emulator:
        assert emulator.requests == []
        post(emulator, "capital")
        snapshot = emulator.requests
        emulator.clear()
        assert len(snapshot) == 1
        assert emulator.requests == []


@pytest.mark.parametrize("record", [-1, 1.5, True, "10"])
def test_a_bad_record_names_the_field(record: Any) -> None:
    with pytest.raises(ValueError, match="record must be None or a whole number"):
        Emulator(record=record)


# -- HTTPS and clients that do not finish their handshake -------------------------------------


def test_an_idle_tls_client_does_not_block_others(tls_emulator: Emulator) -> None:
    with raw_connection(tls_emulator):  # connected, never sends a ClientHello
        assert [item["index"] for item in post(tls_emulator, "capital", timeout=3)] == [0, 1]


def test_a_failed_handshake_is_closed_quietly_and_the_server_goes_on(
    tls_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    with raw_connection(tls_emulator) as plain:
        plain.sendall(b"POST /tei/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert _read_until_closed(plain) == b""

    assert [item["index"] for item in post(tls_emulator, "capital", timeout=3)] == [0, 1]
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_that_never_finishes_is_cut_off(
    tls_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator_server, "HANDSHAKE_TIMEOUT", 0.2)
    with raw_connection(tls_emulator) as idle:
        assert _read_until_closed(idle) == b""


def test_a_tls_client_that_gives_up_is_no_server_error(capfd: pytest.CaptureFixture[str]) -> None:
    latency = 0.2
    with Emulator(tls=True) as emulator:
        emulator.inject(latency=latency, times=None)
        for reset in (True, False):
            _send_and_leave(emulator, reset)
        # The answers are written after the latency, to connections that are gone.
        time.sleep(latency + 0.5)

    assert "Traceback" not in capfd.readouterr().err


def _send_and_leave(emulator: Emulator, reset: bool) -> None:
    context = ssl._create_unverified_context()
    with context.wrap_socket(raw_connection(emulator)) as connection:
        body = json.dumps({"query": "capital", "texts": ["the capital"]}).encode()
        head = f"POST {TEI_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        connection.sendall(head.encode() + body)
        if reset:
            # Linger 0: closing sends a reset rather than a goodbye.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _read_until_closed(connection: socket.socket) -> bytes:
    """What the server sent before closing; a reset counts as closing with nothing sent."""
    try:
        return connection.recv(1024)
    except ConnectionResetError:
        return b""


# -- injected faults: spoiled results and random rates -------------------------------------------

#: A vendor's answer of each shape the emulator speaks, with two results.
SHAPES = {
    "tei": [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.2}],
    "cohere": {
        "id": "x",
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}],
    },
    "bedrock": {"results": [{"index": 1, "relevanceScore": 0.9}, {"index": 0, "relevanceScore": 0.2}]},
    "dashscope": {
        "output": {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]}
    },
    "hf-sentence-ranking": {"scores": [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.2}]},
    "voyage": {"data": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]},
    "nvidia": {"rankings": [{"index": 1, "logit": 2.5}, {"index": 0, "logit": -1.0}]},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_corruption_applies_to_every_shape(shape: str) -> None:
    spoiled = {}
    for corruption in emulator_server.CORRUPTIONS:
        body = json.loads(json.dumps(SHAPES[shape]))
        emulator_server.corrupt_results(body, corruption)
        spoiled[corruption] = emulator_server.answer_results(body)
    score = next(
        key
        for key in ("relevance_score", "relevanceScore", "score", "logit")
        if key in json.dumps(SHAPES[shape])
    )
    assert [item["index"] for item in spoiled["index-out-of-range"]] == [2, 0]
    assert [item["index"] for item in spoiled["negative-index"]] == [-1, 0]
    assert [item["index"] for item in spoiled["duplicate-index"]] == [1, 1]
    assert (
        spoiled["nan-score"] is not None and spoiled["nan-score"][0][score] != spoiled["nan-score"][0][score]
    )
    assert spoiled["missing-score"] is not None and score not in spoiled["missing-score"][0]
    assert spoiled["empty-results"] == []
    assert [item["index"] for item in spoiled["short-results"]] == [1]


def test_a_corrupted_answer_goes_out_as_the_vendor_would_send_it() -> None:
    with Emulator() as emulator:
        emulator.inject(corrupt="nan-score", vendor="tei")
        with urllib.request.urlopen(
            urllib.request.Request(
                emulator.url + TEI_PATH,
                data=json.dumps({"query": "capital", "texts": ["the capital", "a cat"]}).encode(),
                method="POST",
            ),
            timeout=5,
        ) as answer:
            raw = answer.read()
        assert b"NaN" in raw  # as Python's json writes it; JSON itself has no NaN
        assert [item["index"] for item in post(emulator, "capital")] == [0, 1]  # used up


def test_a_corruption_the_answer_cannot_carry_is_an_emulator_error() -> None:
    with Emulator() as emulator:
        emulator.inject(corrupt="duplicate-index", vendor="tei")
        body = json.dumps({"query": "capital", "texts": ["only one"]}).encode()
        request = urllib.request.Request(emulator.url + TEI_PATH, data=body, method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 500
        assert b"emulator error" in caught.value.read()


def test_a_rate_applies_a_fault_to_that_share_of_requests_drawn_from_its_seed() -> None:
    draws = emulator_server.Fault(rate=0.3, seed=4)._random
    expected = [draws.random() < 0.3 for _ in range(30)]
    with Emulator() as emulator:
        fault = emulator.inject(status=429, vendor="tei", times=None, rate=0.3, seed=4)
        throttled = []
        for _ in range(30):
            try:
                post(emulator, "capital")
                throttled.append(False)
            except urllib.error.HTTPError as error:
                assert error.code == 429
                throttled.append(True)
        assert throttled == expected and 0 < sum(throttled) < 30
        assert emulator.faults == [fault]


def test_rate_limited_faults_count_only_the_requests_they_apply_to() -> None:
    with Emulator() as emulator:
        emulator.inject(status=503, vendor="tei", times=2, rate=0.5, seed=1)
        failures = 0
        for _ in range(40):
            try:
                post(emulator, "capital")
            except urllib.error.HTTPError:
                failures += 1
        assert failures == 2 and emulator.faults == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"corrupt": "upside-down"}, "corrupt must be one of"),
        ({"rate": 0}, "rate must be"),
        ({"rate": 1.5}, "rate must be"),
        ({"rate": True}, "rate must be"),
    ],
)
def test_fault_fields_are_checked(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        emulator_server.Fault(**fields)


def test_the_default_scorer_scores_each_text_on_its_own() -> None:
    # As the emulated vendors' cross-encoders do: the cache and the splitting rely on it.
    texts = ["solar panels on the roof", "solar", "wind turbines", "solar", "the grid and solar storage"]
    together = lexical_scorer("solar storage", texts)
    assert together == [lexical_scorer("solar storage", [text])[0] for text in texts]


def test_the_readme_lists_every_vendor_prefix_of_the_emulator() -> None:
    """The emulator section listed five of the HTTP formats' prefixes."""
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8")
    section = readme[readme.index("HTTP formats live under") :]
    section = section[: section.index("\n## ")]
    prefixed = {
        route.vendor for route in emulator_server.default_routes() if route.pattern.startswith(f"/{route.vendor}/")
    }
    assert len(prefixed) >= 16
    assert [vendor for vendor in sorted(prefixed) if f"`/{vendor}`" not in section] == []
