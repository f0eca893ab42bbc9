"""The emulator as several deployments: instances side by side, their own rate limits, down ones."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from multirerank import Reranker, ThrottledError
from multirerank.cli import EXIT_ERROR, main
from multirerank.ratelimit import RateLimit
from multirerank.testing import Emulator
from multirerank.testing.routing import closed_port, instances
from multirerank.testing.throttling import Throttle
from tests.aws_support import isolated_aws_env, pointwise_scorer  # noqa: F401 (autouse)
from tests.contract_support import CONTRACTS, Contract, Setup, contract_texts

TEI_BODY = {"query": "capital", "texts": ["the capital", "a cat"]}


def post(url: str, path: str = "/tei/rerank", body: Any = TEI_BODY) -> tuple[int, dict[str, str], Any]:
    """``(status, headers, JSON body)`` of a POST, error answers included."""
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


# -- several instances ---------------------------------------------------------------------------


def test_instances_are_independent_deployments() -> None:
    with instances(3) as emulators:
        assert len({emulator.url for emulator in emulators}) == 3
        first, second, third = emulators
        down = second.inject(status=503, times=None)
        assert [post(emulator.url)[0] for emulator in emulators] == [200, 503, 200]
        assert post(second.url)[0] == 503
        assert [len(emulator.requests) for emulator in emulators] == [1, 2, 1]
        second.withdraw(down)
        assert post(second.url)[0] == 200
        second.withdraw(down)  # already withdrawn: nothing happens
        third.clear()
        assert len(third.requests) == 0 and len(first.requests) == 1
    # All stopped at the end of the block.
    with pytest.raises(urllib.error.URLError):
        post(first.url)


def test_instances_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"), instances(0):
        pass
    with pytest.raises(ValueError, match="free port"), instances(2, port=8080):
        pass


def test_a_closed_port_refuses_connections() -> None:
    with closed_port() as url:
        with pytest.raises(urllib.error.URLError) as caught:
            post(url)
        assert isinstance(caught.value.reason, ConnectionRefusedError)


# -- the emulator's own rate limit ---------------------------------------------------------------


@pytest.fixture(params=CONTRACTS, ids=lambda contract: contract.name)
def contract(request: pytest.FixtureRequest) -> Contract:
    found: Contract = request.param
    return found


@pytest.fixture
def limited(contract: Contract) -> Iterator[Emulator]:
    with Emulator(tls=contract.tls, scorer=pointwise_scorer, rate_limit="1/minute") as emulator:
        yield emulator


def test_each_vendor_throttles_in_its_own_shape(
    contract: Contract, limited: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the vendor's real SDK, the answer beyond the limit is that vendor's throttling."""
    backend = contract.build(Setup(limited, monkeypatch, retrying=False, split=False))
    with Reranker(backend, max_retries=0, retry_budget=0) as reranker:
        assert len(reranker.rerank("solar roof", contract_texts(3)).results) == 3
        with pytest.raises(ThrottledError) as caught:
            reranker.rerank("solar roof", contract_texts(3))
    assert caught.value.provider == contract.provider
    assert limited.throttled == 1
    assert len(limited.requests_to(contract.path)) == 2


@pytest.mark.parametrize(
    ("path", "status", "where", "code"),
    [
        ("/rerank", 429, "x-amzn-ErrorType", "ThrottlingException"),
        ("/endpoints/ranker/invocations", 400, "x-amzn-ErrorType", "ThrottlingException"),
        ("/api/v1/services/rerank/text-rerank/text-rerank", 429, "code", "Throttling.RateQuota"),
        ("/tei/rerank", 429, "error_type", "Overloaded"),
        ("/vllm/v1/rerank", 429, "error.type", "RateLimitError"),
    ],
)
def test_throttling_answers_carry_the_vendors_codes(path: str, status: int, where: str, code: str) -> None:
    with Emulator(rate_limit="1/minute") as emulator:
        post(emulator.url, path)
        got_status, headers, body = post(emulator.url, path)
    assert got_status == status
    if where in headers:
        assert headers[where].startswith(code + ":")
    else:
        for part in where.split("."):
            body = body[part]
        assert body == code


def test_watsonx_token_and_setup_calls_are_not_counted() -> None:
    with Emulator(rate_limit="1/minute") as emulator:
        for _ in range(3):
            assert post(emulator.url, "/identity/token", {})[0] != 429
        assert emulator.throttled == 0


def test_a_client_that_limits_itself_is_never_throttled() -> None:
    # The client keeps to half the vendor's rate: requests reach the server a moment after the
    # client counted them, and on a busy machine not all after the same moment; any delay under a
    # second still keeps every server window within 10.
    with Emulator(rate_limit="10/second") as emulator:
        client = RateLimit.parse("5/second", key=f"client-{emulator.port}")
        statuses: list[int] = []

        def send(count: int) -> None:
            for _ in range(count):
                client.acquire()
                statuses.append(post(emulator.url)[0])

        workers = [threading.Thread(target=send, args=(4,)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert statuses == [200] * 16
        assert emulator.throttled == 0

        # The same burst with no limit of its own: what is beyond the vendor's rate is throttled.
        emulator.rate_limit = "10/second"  # a fresh window
        burst = [post(emulator.url)[0] for _ in range(16)]
        assert burst[:10] == [200] * 10 and 429 in burst
        assert emulator.throttled == burst.count(429)


def test_rate_limit_can_be_changed_and_is_checked() -> None:
    with Emulator() as emulator:
        assert emulator.rate_limit is None
        emulator.rate_limit = "1/minute"
        assert emulator.rate_limit == "1/minute"
        assert [post(emulator.url)[0] for _ in range(2)] == [200, 429]
        emulator.rate_limit = None
        assert post(emulator.url)[0] == 200
        for bad in ("fast", "0/second"):
            with pytest.raises(ValueError, match="rate_limit must look like"):
                emulator.rate_limit = bad
    with pytest.raises(ValueError, match="rate_limit"):
        Emulator(rate_limit="10 per fortnight")
    limit = Throttle("2/second;3/minute")
    assert [limit.admit() for _ in range(4)] == [True, True, False, False]


# -- the command -------------------------------------------------------------------------------


def test_command_runs_several_rate_limited_instances() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "multirerank", "emulate", "--instances", "2", "--rate-limit", "1/minute"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert [line.split(" listening on ")[0] for line in lines] == [
            "multirerank emulator 1 of 2",
            "multirerank emulator 2 of 2",
        ]
        urls = [line.split("listening on ")[1].split()[0] for line in lines]
        assert urls[0] != urls[1]
        assert [post(url)[0] for url in urls] == [200, 200]
        assert [post(url)[0] for url in urls] == [429, 429]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--instances", "0"], "argument --instances: must be a whole number, at least 1"),
        (["--rate-limit", "lots"], "argument --rate-limit: must look like 10/second"),
    ],
)
def test_command_rejects_bad_arguments(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulate", *arguments])

    assert exited.value.code == EXIT_ERROR
    assert message in capsys.readouterr().err
