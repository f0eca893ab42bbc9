"""Client-side rate limits, in memory and in a real Redis: parsing, waiting, deadlines, sharing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from multirerank.errors import ConfigurationError, RerankInputError, RerankTimeoutError
from multirerank.ratelimit import RateLimit
from tests.redis_support import free_port, redis_url  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[1]
#: Recorded times lag the moment the limiter counted a call by a thread switch or so; windows a
#: little shorter than the limit's second are checked, which a fixed window would still break.
WINDOW = 0.9


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


def busiest_window(times: Sequence[float], width: float = WINDOW) -> int:
    """The most timestamps in any span of ``width`` seconds."""
    ordered = sorted(times)
    start = 0
    best = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def acquire_in_threads(limit: RateLimit, calls: int, threads: int = 3) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def work(count: int) -> None:
        for _ in range(count):
            limit.acquire()
            with lock:
                times.append(time.time())

    workers = [threading.Thread(target=work, args=(calls // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return times


async def acquire_in_tasks(limit: RateLimit, calls: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await limit.aacquire()
        times.append(time.time())

    await asyncio.gather(*(one() for _ in range(calls)))
    return times


# -- parsing -------------------------------------------------------------------------------------


def test_a_string_limits_requests_and_a_mapping_each_kind() -> None:
    assert RateLimit.parse("100/minute", key="k").describe() == "100 requests per 1 minute"
    limit = RateLimit.parse(
        {"requests": "10/second;500/minute", "documents": "10000 per minute", "tokens": "1000000/2 minutes"},
        key="k",
    )
    assert limit.describe() == (
        "10 requests per 1 second, 500 requests per 1 minute, 10000 documents per 1 minute, "
        "1000000 tokens per 2 minutes"
    )
    assert limit.storage == "memory://"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("100/fortnight", r"rate_limit \(or its 'requests'\) must look like '100/minute'"),
        ("0/second", "at least 1 per period"),
        ({"documents": "lots"}, r"rate_limit\['documents'\] must look like"),
        ({"documents": 100}, r"rate_limit\['documents'\] must be a string"),
        ({"queries": "1/second"}, "got unknown 'queries'"),
        ({}, "rate_limit must be a string like '100/minute' or a mapping"),
        (100, "rate_limit must be a string like '100/minute' or a mapping"),
    ],
)
def test_bad_specs_name_the_field(spec: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RateLimit.parse(spec, key="k")  # type: ignore[arg-type]


def test_bad_storage_and_key_are_configuration_errors() -> None:
    with pytest.raises(
        ConfigurationError, match=r"rate_limit_storage must be .* got 'mongodb://\*\*\*@db:27017'"
    ):
        RateLimit.parse("1/second", key="k", storage="mongodb://user:secret@db:27017")
    with pytest.raises(ConfigurationError, match="needs a key"):
        RateLimit.parse("1/second", key="")
    route = ("cohere", "rerank-v3.5", (("base_url", "http://127.0.0.1:1"),), "0123abcd")
    assert RateLimit.parse("1/second", key=route).key == repr(route)


def test_a_cost_above_a_whole_window_is_an_input_error() -> None:
    limit = RateLimit.parse({"requests": "5/second", "documents": "100/minute"}, key=key())
    with pytest.raises(
        RerankInputError, match=r"costs 101 documents, more than rate_limit allows .*100 per 1 minute"
    ):
        limit.acquire(documents=101)
    with pytest.raises(RerankInputError, match="at least 0"):
        limit.acquire(documents=-1)
    limit.acquire(tokens=10**9)  # no tokens limit: not counted


# -- in memory -----------------------------------------------------------------------------------


def test_memory_limit_waits_and_no_window_goes_over() -> None:
    limit = RateLimit.parse("20/second", key=key())
    started = time.time()
    times = acquire_in_threads(limit, 30)
    assert len(times) == 30
    assert busiest_window(times) <= 20
    assert max(times) - started >= 0.95  # the last 10 had to wait for the first window to pass


async def test_async_memory_limit_waits_and_no_window_goes_over() -> None:
    limit = RateLimit.parse("20/second", key=key())
    started = time.time()
    times = await acquire_in_tasks(limit, 30)
    assert busiest_window(times) <= 20
    assert max(times) - started >= 0.95


async def test_sync_and_async_callers_share_a_key() -> None:
    name = key()
    RateLimit.parse("5/second", key=name).acquire(requests=5)
    other = RateLimit.parse("5/second", key=name)
    with pytest.raises(RerankTimeoutError):
        await other.aacquire(deadline=time.monotonic() + 0.2)
    # A different key has its own window.
    await RateLimit.parse("5/second", key=key()).aacquire(deadline=time.monotonic() + 0.2)


def test_documents_limit_paces_calls() -> None:
    limit = RateLimit.parse({"requests": "100/second", "documents": "20/second"}, key=key())
    times = []
    for _ in range(3):
        limit.acquire(documents=8)
        times.append(time.time())
    # 8 + 8 fit the first second; the third call waits for it to pass.
    assert times[1] - times[0] < 0.5
    assert times[2] - times[0] >= 0.95


def test_each_kind_has_a_window_of_its_own() -> None:
    limit = RateLimit.parse({"requests": "5/second", "documents": "5/second"}, key=key())
    for _ in range(5):
        limit.acquire(documents=1, deadline=time.monotonic() + 0.2)
    with pytest.raises(RerankTimeoutError):
        limit.acquire(deadline=time.monotonic() + 0.2)


def test_deadline_that_would_pass_fails_at_once() -> None:
    limit = RateLimit.parse("3/second", key=key())
    limit.acquire(requests=3)
    started = time.monotonic()
    with pytest.raises(
        RerankTimeoutError, match=r"has no room before the deadline: the next slot opens in"
    ) as caught:
        limit.acquire(deadline=started + 0.3)
    assert time.monotonic() - started < 0.2  # it did not sleep toward a slot it could not reach
    assert caught.value.code == "rate_limit"
    assert caught.value.retryable is False
    assert caught.value.retry_after is not None and 0.5 < caught.value.retry_after <= 1.1
    limit.acquire(deadline=time.monotonic() + 2.0)  # a deadline past the next slot waits for it


async def test_async_deadline() -> None:
    limit = RateLimit.parse("2/second", key=key())
    await limit.aacquire(requests=2)
    with pytest.raises(RerankTimeoutError, match="rate limit"):
        await limit.aacquire(deadline=time.monotonic() + 0.1)
    await limit.aacquire(deadline=time.monotonic() + 2.0)


# -- Redis ---------------------------------------------------------------------------------------

WORKER = """
import json, sys, time
from multirerank.ratelimit import RateLimit

limit = RateLimit.parse("20/second", key=sys.argv[2], storage=sys.argv[1])
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time()))
times = []
for _ in range(int(sys.argv[3])):
    limit.acquire()
    times.append(time.time())
print(json.dumps(times), flush=True)
"""


def test_two_processes_sharing_a_redis_limit_never_exceed_it_together(redis_url: str) -> None:  # noqa: F811
    name = key()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, name, "15"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    start = time.time() + 0.2
    outputs = [worker.communicate(f"{start}\n", timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    times = [moment for output in outputs for moment in json.loads(output.strip().splitlines()[-1])]
    assert len(times) == 30
    assert busiest_window(times) <= 20
    assert max(times) - start >= 0.95


def test_redis_limit_in_threads(redis_url: str) -> None:  # noqa: F811
    limit = RateLimit.parse("20/second", key=key(), storage=redis_url)
    times = acquire_in_threads(limit, 30)
    assert busiest_window(times) <= 20


async def test_async_redis_limit_shared_with_sync_callers(redis_url: str) -> None:  # noqa: F811
    name = key()
    RateLimit.parse("20/second", key=name, storage=redis_url).acquire(requests=10)
    limit = RateLimit.parse("20/second", key=name, storage=redis_url)
    started = time.time()
    times = await acquire_in_tasks(limit, 20)
    assert busiest_window([started] * 10 + times) <= 20
    assert max(times) - started >= 0.9
    with pytest.raises(RerankTimeoutError):
        await limit.aacquire(requests=20, deadline=time.monotonic() + 0.1)


def test_async_redis_limit_in_several_event_loops(redis_url: str) -> None:  # noqa: F811
    limit = RateLimit.parse(
        {"requests": "50/second", "documents": "100/second"}, key=key(), storage=redis_url
    )
    for _ in range(3):
        asyncio.run(limit.aacquire(documents=10))
    with pytest.raises(RerankTimeoutError):
        asyncio.run(limit.aacquire(documents=80, deadline=time.monotonic() + 0.1))


async def test_unreachable_redis_is_a_configuration_error() -> None:
    url = f"redis://user:secret@127.0.0.1:{free_port()}/0"
    limit = RateLimit.parse("1/second", key=key(), storage=url)
    with pytest.raises(
        ConfigurationError, match=r"rate_limit_storage redis://\*\*\*@127.0.0.1:\d+/0 failed"
    ) as caught:
        limit.acquire()
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="failed"):
        await limit.aacquire()
