"""Routing on the wire emulator: fallbacks, one model per answer, strategies, cooldowns, rate limits
and deadlines, through the engine (sync and async), both frameworks and the command line.

Every deployment is an emulator of its own (or a closed port for one that is down), reached by the
real HTTP clients. Route A is Cohere's API and route B Jina's, so an answer names the route that
served it. Nothing here measures speed: time only paces rate limits, latencies and cooldowns.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from multirerank import (
    BadRequestError,
    ConfigurationError,
    ProviderError,
    Reranker,
    RerankError,
    RerankInputError,
    RerankTimeoutError,
    ThrottledError,
    registry,
)
from multirerank.backends.base import Backend
from multirerank.cli import main
from multirerank.health import ROUTE_HEALTH, RouteHealth
from multirerank.routing import DEFAULT_FALLBACK_ON, Router
from multirerank.testing import Emulator, lexical_scorer
from multirerank.testing import watsonx as watsonx_api
from multirerank.testing.routing import closed_port
from multirerank.types import DocumentInput, RerankResponse
from tests.aws_support import QUERY as CONTRACT_QUERY
from tests.aws_support import pointwise_scorer
from tests.contract_support import WATSONX, Setup, contract_texts
from tests.http_support import API_KEY
from tests.redis_support import redis_url  # noqa: F401 - a fixture

QUERY = "capital city of america"
TEXTS = [
    "Washington is the capital city of America.",
    "Paris is the capital of France.",
    "Carson City is a city in Nevada, America.",
    "Apples grow on trees.",
    "The city council met on Monday.",
    "America declared independence in 1776.",
]
COHERE_MODEL = "rerank-v3.5"
JINA_MODEL = "jina-reranker-v2-base-multilingual"
A_NAME = f"cohere/{COHERE_MODEL}"
B_NAME = f"jina/{JINA_MODEL}"

Mode = Literal["sync", "async"]
MODES: list[Mode] = ["sync", "async"]


# -- deployments ---------------------------------------------------------------------------------


def cohere(url: str, **options: Any) -> dict[str, Any]:
    """Route A: Cohere's API at ``url`` (an emulator's, or a closed port's)."""
    return {"model": A_NAME, "base_url": url + "/cohere", "api_key": API_KEY, **options}


def jina(url: str, **options: Any) -> dict[str, Any]:
    """Route B: Jina's API at ``url``."""
    return {"model": B_NAME, "base_url": url + "/jina", "api_key": API_KEY, **options}


def with_fallback(a_url: str, b_url: str, **settings: Any) -> Reranker:
    """``Reranker(A, fallbacks=[B])``; engine retries off, so a dead last route fails at once."""
    route = cohere(a_url)
    return Reranker(route.pop("model"), fallbacks=[jina(b_url)], max_retries=0, **route, **settings)


def routed(*routes: Any, **options: Any) -> Reranker:
    return Reranker(Router(list(routes), **options), max_retries=0)


def rerank(reranker: Reranker, mode: Mode, documents: Sequence[DocumentInput] = TEXTS, **options: Any) -> RerankResponse:
    if mode == "sync":
        return reranker.rerank(QUERY, documents, **options)
    return asyncio.run(reranker.arerank(QUERY, documents, **options))


def ranked(response: RerankResponse) -> list[tuple[int, float]]:
    return [(result.index, result.relevance_score) for result in response.results]


def served_by_b(response: RerankResponse, b: Emulator, documents: Sequence[str] = TEXTS) -> None:
    """The whole answer is route B's: its names, and every score as B scores the whole list."""
    assert (response.provider, response.model) == ("jina", JINA_MODEL)
    assert response.metadata["route"] == B_NAME
    assert ranked(response) == b.ranked(QUERY, list(documents))


class FailingCall:
    """An emulator scorer that fails its ``number``-th call (the emulator answers 500)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, query: str, texts: list[str]) -> list[float]:
        with self._lock:
            self.calls += 1
            if self.calls == self.number:
                raise RuntimeError("the chunk's model crashed")
        # Route A's own scores, unlike B's, so a score of A's in an answer would show.
        return [0.5 + score / 4 for score in lexical_scorer(query, texts)]


class Holding:
    """An emulator scorer that, while ``hold`` is set, keeps each request until ``release``."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, query: str, texts: list[str]) -> list[float]:
        if self.hold.is_set():
            self.entered.set()
            assert self.release.wait(20)
        return lexical_scorer(query, texts)


class Stamped:
    """An emulator scorer that notes when each request reached it (``time.monotonic``)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, query: str, texts: list[str]) -> list[float]:
        with self._lock:
            self.times.append(time.monotonic())
        return lexical_scorer(query, texts)

    def busiest_second(self) -> int:
        """The most requests that reached the emulator within any one second."""
        ordered = sorted(self.times)
        start = best = 0
        for end, moment in enumerate(ordered):
            while moment - ordered[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


class Clock:
    """A clock for route health that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def fresh_health() -> Iterator[None]:
    """Route health is the process's, keyed by deployment: a port a test reused starts closed."""
    ROUTE_HEALTH.clear()
    yield
    ROUTE_HEALTH.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("multirerank.routing.ROUTE_HEALTH", RouteHealth(clock=fake))
    return fake


@pytest.fixture
def two() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator() as a, Emulator() as b:
        yield a, b


# -- fallback ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["fallbacks", "router"])
def test_a_primary_answering_503_to_everything_is_replaced(
    two: tuple[Emulator, Emulator], how: str, mode: Mode
) -> None:
    a, b = two
    a.inject(status=503, times=None)
    reranker = with_fallback(a.url, b.url) if how == "fallbacks" else routed(cohere(a.url), jina(b.url))
    with reranker:
        response = rerank(reranker, mode)

    served_by_b(response, b)
    (attempt,) = response.metadata["attempts"]
    assert attempt["provider"] == "cohere" and attempt["model"] == COHERE_MODEL
    assert (attempt["error"], attempt["status"]) == ("ProviderError", 503)
    # A route that is not the last does not retry: the next route is its retry.
    assert len(a.requests) == 1 and len(b.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_primary_refusing_connections_is_replaced(mode: Mode) -> None:
    with Emulator() as b, closed_port() as down, with_fallback(down, b.url) as reranker:
        response = rerank(reranker, mode, top_n=2)

    assert ranked(response) == b.ranked(QUERY, TEXTS)[:2]
    assert response.metadata["route"] == B_NAME
    (attempt,) = response.metadata["attempts"]
    assert (attempt["provider"], attempt["error"], attempt["status"]) == ("cohere", "ProviderError", None)
    assert "ConnectError" in attempt["message"]


def test_a_healthy_primary_serves_and_no_attempt_is_listed(two: tuple[Emulator, Emulator]) -> None:
    a, b = two
    with with_fallback(a.url, b.url) as reranker:
        response = reranker.rerank(QUERY, TEXTS)
    assert (response.provider, response.metadata["route"], response.metadata["attempts"]) == (
        "cohere",
        A_NAME,
        [],
    )
    assert b.requests == []


def test_when_every_route_fails_the_last_error_lists_them_all(two: tuple[Emulator, Emulator]) -> None:
    a, b = two
    a.inject(status=503, times=None)
    b.inject(status=429, times=None, headers={"Retry-After": "3600"})
    with with_fallback(a.url, b.url) as reranker, pytest.raises(ThrottledError) as caught:
        reranker.rerank(QUERY, TEXTS)
    assert [(item["provider"], item["error"], item["status"]) for item in caught.value.attempts] == [
        ("cohere", "ProviderError", 503),
        ("jina", "ThrottledError", 429),
    ]


# -- one model per answer ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_split_call_failing_midway_is_served_whole_by_the_next_route(mode: Mode) -> None:
    """Route A splits the list in three; its second request fails. None of A's scores survive:
    route B scores the whole list in one request of its own."""
    with Emulator(scorer=FailingCall(2)) as a, Emulator() as b:
        routes = [cohere(a.url, max_documents_per_request=2), jina(b.url)]
        with routed(*routes) as reranker:
            response = rerank(reranker, mode)

    served_by_b(response, b)  # every score B's, none of the chunk A answered
    assert [len(request.json()["documents"]) for request in b.requests] == [len(TEXTS)]
    assert 2 <= len(a.requests) <= 3
    (attempt,) = response.metadata["attempts"]
    assert (attempt["provider"], attempt["model"], attempt["error"], attempt["status"]) == (
        "cohere",
        COHERE_MODEL,
        "ProviderError",
        500,
    )
    # The usage counts what A answered (and billed) before its failure ended its part (A's
    # requests run at once: whether one answered first is a matter of timing), and B's request.
    usage = response.usage
    assert usage is not None and 1 <= usage.requests <= len(a.requests)
    if usage.requests > 1:
        assert usage.search_units is not None and usage.search_units >= 1  # A's, reported by Cohere
    assert usage.total_tokens is not None  # B's, reported by Jina
    assert usage.cost_usd is None  # Jina's price is unknown, so the sum is too


# -- what moves on -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fallback_on", [None, (RerankError,)], ids=["default", "every-error"])
def test_bad_input_never_moves_on(
    two: tuple[Emulator, Emulator], mode: Mode, fallback_on: tuple[type[RerankError], ...] | None
) -> None:
    a, b = two
    # One failure would cool a route: bad input must count as none.
    router = Router([cohere(a.url), jina(b.url)], allowed_fails=1, fallback_on=fallback_on or DEFAULT_FALLBACK_ON)
    with Reranker(router) as reranker:
        with pytest.raises(RerankInputError, match="document text is required for rerank at index 2") as caught:
            rerank(reranker, mode, [*TEXTS[:2], "  ", *TEXTS[2:]])
        assert [(item["provider"], item["error"]) for item in caught.value.attempts] == [("cohere", "RerankInputError")]
        with pytest.raises(RerankInputError, match="query is required"):
            asyncio.run(reranker.arerank("", TEXTS)) if mode == "async" else reranker.rerank("", TEXTS)
        assert [ROUTE_HEALTH.get(route.key).status() for route in router.routes] == ["closed", "closed"]
        assert reranker.rerank(QUERY, TEXTS).metadata["route"] == A_NAME
    assert b.requests == [] and len(a.requests) == 1


def test_a_request_the_vendor_rejects_does_not_move_on_by_default(two: tuple[Emulator, Emulator]) -> None:
    a, b = two
    a.inject(status=400, message="invalid request: top_n", times=None)
    with with_fallback(a.url, b.url) as reranker, pytest.raises(BadRequestError) as caught:
        reranker.rerank(QUERY, TEXTS)
    assert b.requests == []
    assert [(item["error"], item["status"]) for item in caught.value.attempts] == [("BadRequestError", 400)]


@pytest.mark.parametrize("mode", MODES)
def test_what_moves_on_is_configurable(two: tuple[Emulator, Emulator], mode: Mode) -> None:
    a, b = two
    only_throttling = routed(cohere(a.url), jina(b.url), fallback_on=[ThrottledError])
    with only_throttling:
        outage = a.inject(status=503, times=None)
        with pytest.raises(ProviderError) as caught:
            rerank(only_throttling, mode)
        assert caught.value.status == 503 and b.requests == []
        a.withdraw(outage)
        a.inject(status=429, times=1, headers={"Retry-After": "3600"})
        assert rerank(only_throttling, mode).metadata["route"] == B_NAME

    also_rejections = routed(cohere(a.url), jina(b.url), fallback_on=[BadRequestError])
    with also_rejections:
        a.inject(status=400, times=1)
        served_by_b(rerank(also_rejections, mode), b)


# -- scales --------------------------------------------------------------------------------------


def test_routes_on_different_scales_answer_probabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    """watsonx.ai answers logits and Cohere probabilities: behind one router both answer
    probabilities, so one score_threshold keeps the same documents whichever served."""
    texts = contract_texts(8)
    probabilities = sorted(pointwise_scorer(CONTRACT_QUERY, texts))
    threshold = (probabilities[3] + probabilities[4]) / 2  # keeps four documents
    with Emulator(tls=True, scorer=pointwise_scorer) as wx, Emulator(scorer=pointwise_scorer) as co:
        watsonx = WATSONX.build(Setup(wx, monkeypatch, retrying=False, split=False))
        try:
            raw = Reranker(watsonx).rerank(CONTRACT_QUERY, texts)
            assert raw.score_scale == "logit"
            assert any(not 0 <= score <= 1 for _, score in ranked(raw))

            router = Router([watsonx, cohere(co.url)])
            assert router.normalizes and router.score_scale == "probability"
            with Reranker(router, max_retries=0) as reranker:
                by_watsonx = reranker.rerank(CONTRACT_QUERY, texts, score_threshold=threshold)
                wx.inject(status=503, times=None, path=watsonx_api.RERANK_PATH)
                by_cohere = reranker.rerank(CONTRACT_QUERY, texts, score_threshold=threshold)
        finally:
            watsonx.close()

    assert by_watsonx.provider == "watsonx" and by_cohere.provider == "cohere"
    assert by_watsonx.metadata["backend_score_scale"] == "logit"
    assert by_cohere.metadata["backend_score_scale"] == "probability"
    for response in (by_watsonx, by_cohere):
        assert response.score_scale == "probability"
        assert len(response.results) == 4
        assert all(threshold <= score <= 1 for _, score in ranked(response))
    assert [index for index, _ in ranked(by_watsonx)] == [index for index, _ in ranked(by_cohere)]
    assert [score for _, score in ranked(by_watsonx)] == pytest.approx([score for _, score in ranked(by_cohere)])


# -- strategies ----------------------------------------------------------------------------------


def test_weighted_routes_share_calls_by_weight(two: tuple[Emulator, Emulator]) -> None:
    a, b = two
    calls = 300
    router = Router([cohere(a.url, weight=3), jina(b.url, weight=1)], strategy="weighted", seed=9)
    with Reranker(router) as reranker:
        served = [reranker.rerank(QUERY, TEXTS[:2]).metadata["route"] for _ in range(calls)]
    share = served.count(A_NAME) / calls
    assert abs(share - 0.75) <= 0.05
    assert (len(a.requests), len(b.requests)) == (served.count(A_NAME), served.count(B_NAME))
    # The same seed draws the same routes.
    again = Router([cohere(a.url, weight=3), jina(b.url, weight=1)], strategy="weighted", seed=9)
    assert [again.order()[0].name for _ in range(calls)] == served
    again.close()


@pytest.mark.parametrize("mode", MODES)
def test_least_busy_prefers_the_idle_route(mode: Mode) -> None:
    holding = Holding()
    with (
        Emulator(scorer=holding) as a,
        Emulator() as b,
        routed(cohere(a.url), jina(b.url), strategy="least-busy") as reranker,
    ):
        holding.hold.set()
        outcome: list[RerankResponse] = []
        busy = threading.Thread(target=lambda: outcome.append(reranker.rerank(QUERY, TEXTS)))
        busy.start()
        try:
            assert holding.entered.wait(20)
            while_busy = rerank(reranker, mode)
        finally:
            holding.hold.clear()
            holding.release.set()
            busy.join(20)
        when_idle = rerank(reranker, mode)

    assert [outcome[0].metadata["route"], while_busy.metadata["route"], when_idle.metadata["route"]] == [
        A_NAME,
        B_NAME,
        A_NAME,
    ]


def test_lowest_latency_prefers_the_faster_deployment() -> None:
    with (
        Emulator(latency=0.2) as slow,
        Emulator() as fast,
        routed(cohere(slow.url), jina(fast.url), strategy="lowest-latency") as reranker,
    ):
        served = [reranker.rerank(QUERY, TEXTS).metadata["route"] for _ in range(8)]
    # Each route is measured once (a route never measured goes first), then the faster one serves.
    assert served == [A_NAME] + [B_NAME] * 7
    assert len(slow.requests) == 1


# -- cooldown ------------------------------------------------------------------------------------


def test_a_failing_route_cools_down_for_every_reranker_then_one_call_probes_it(
    two: tuple[Emulator, Emulator], clock: Clock
) -> None:
    a, b = two
    outage = a.inject(status=503, times=None)
    routes = [cohere(a.url), jina(b.url)]
    first = routed(*routes, allowed_fails=2, cooldown_seconds=30)
    second = routed(*routes, allowed_fails=2, cooldown_seconds=30)  # same deployments, another router

    def tried(reranker: Reranker) -> int:
        """Routes that failed before this call was served (by B)."""
        response = reranker.rerank(QUERY, TEXTS)
        assert response.metadata["route"] == B_NAME
        return len(response.metadata["attempts"])

    with first, second:
        assert [tried(first), tried(first)] == [1, 1]
        assert len(a.requests) == 2
        # Cooling: skipped by both rerankers, without a request.
        assert [tried(first), tried(second), tried(first)] == [0, 0, 0]
        clock.advance(29.9)
        assert tried(second) == 0
        assert len(a.requests) == 2
        # After the cooldown, one call probes A; it fails, and A cools again.
        clock.advance(0.2)
        assert [tried(second), tried(first), tried(second)] == [1, 0, 0]
        assert len(a.requests) == 3
        # A recovers: the next probe closes it, for both.
        a.withdraw(outage)
        clock.advance(30.1)
        assert [first.rerank(QUERY, TEXTS).metadata["route"] for _ in range(2)] == [A_NAME, A_NAME]
        assert second.rerank(QUERY, TEXTS).metadata["route"] == A_NAME


def test_only_one_call_probes_a_route_after_its_cooldown(clock: Clock) -> None:
    holding = Holding()
    with Emulator(scorer=holding) as a, Emulator() as b:
        outage = a.inject(status=503, times=None)
        with routed(cohere(a.url), jina(b.url), allowed_fails=1, cooldown_seconds=5) as reranker:
            assert reranker.rerank(QUERY, TEXTS).metadata["route"] == B_NAME  # A cools
            a.withdraw(outage)
            holding.hold.set()
            clock.advance(5)
            probe: list[RerankResponse] = []
            prober = threading.Thread(target=lambda: probe.append(reranker.rerank(QUERY, TEXTS)))
            prober.start()
            try:
                assert holding.entered.wait(20)
                # The probe is out: other calls keep away from A until it ends.
                during = [reranker.rerank(QUERY, TEXTS).metadata for _ in range(3)]
            finally:
                holding.hold.clear()
                holding.release.set()
                prober.join(20)
            after = reranker.rerank(QUERY, TEXTS).metadata["route"]

    assert [(item["route"], item["attempts"]) for item in during] == [(B_NAME, [])] * 3
    assert probe[0].metadata["route"] == A_NAME and after == A_NAME
    assert len(a.requests) == 3  # the failure, the probe, the call after it


def test_fallbacks_cool_down_after_three_failures_by_default(two: tuple[Emulator, Emulator]) -> None:
    a, b = two
    a.inject(status=503, times=None)
    with with_fallback(a.url, b.url) as reranker:
        routes = [reranker.rerank(QUERY, TEXTS).metadata["attempts"] for _ in range(6)]
    assert [len(attempts) for attempts in routes] == [1, 1, 1, 0, 0, 0]
    assert len(a.requests) == 3


# -- rate limits ---------------------------------------------------------------------------------

LIMIT = "10/second"
#: Enough calls to fill the first second and wait for the next.
LIMITED_CALLS = 14


def test_a_route_rate_limit_holds_at_the_vendor() -> None:
    stamped = Stamped()
    with Emulator(scorer=stamped, rate_limit=LIMIT) as a, Emulator() as b:
        with routed(cohere(a.url, rate_limit=LIMIT), jina(b.url)) as reranker:
            served = {reranker.rerank(QUERY, TEXTS[:2]).metadata["route"] for _ in range(LIMITED_CALLS)}
        assert (a.throttled, len(stamped.times), b.requests) == (0, LIMITED_CALLS, [])
    assert served == {A_NAME}  # waiting for the route's limit is not failing
    assert stamped.busiest_second() == 10


async def test_a_plain_reranker_rate_limit_holds_at_the_vendor_async() -> None:
    stamped = Stamped()
    with Emulator(scorer=stamped, rate_limit=LIMIT) as emulator:
        async with Reranker("tei", base_url=emulator.url + "/tei", rate_limit=LIMIT, max_retries=0) as reranker:
            await asyncio.gather(*(reranker.arerank(QUERY, TEXTS[:2]) for _ in range(LIMITED_CALLS)))
        assert (emulator.throttled, len(stamped.times)) == (0, LIMITED_CALLS)
    assert stamped.busiest_second() == 10


def test_two_rerankers_share_a_rate_limit_in_redis(redis_url: str) -> None:  # noqa: F811
    """A router's route and a plain reranker reaching the same deployment count against one window."""
    stamped = Stamped()
    with Emulator(scorer=stamped, rate_limit=LIMIT) as emulator:
        route = cohere(emulator.url, rate_limit=LIMIT)
        router = Router([route], rate_limit_storage=redis_url)
        options = {key: value for key, value in route.items() if key not in ("model", "rate_limit")}
        rerankers = [
            Reranker(router, max_retries=0),
            Reranker(A_NAME, rate_limit=LIMIT, rate_limit_storage=redis_url, max_retries=0, **options),
        ]

        def calls(reranker: Reranker) -> None:
            for _ in range(LIMITED_CALLS // 2):
                reranker.rerank(QUERY, TEXTS[:2])

        workers = [threading.Thread(target=calls, args=(reranker,)) for reranker in rerankers]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        for reranker in rerankers:
            reranker.close()
        assert (emulator.throttled, len(stamped.times)) == (0, LIMITED_CALLS)
    assert stamped.busiest_second() == 10


# -- deadline ------------------------------------------------------------------------------------


def test_a_deadline_stops_a_slow_route_and_lists_it() -> None:
    with (
        Emulator(latency=1.5) as slow,
        Emulator() as b,
        with_fallback(slow.url, b.url, deadline=0.3) as reranker,
        pytest.raises(RerankTimeoutError) as caught,
    ):
        reranker.rerank(QUERY, TEXTS)
    assert "deadline of 0.3 s passed" in str(caught.value)
    assert [(item["provider"], item["error"]) for item in caught.value.attempts] == [("cohere", "RerankTimeoutError")]
    assert b.requests == []  # no time was left for it


async def test_an_async_deadline_cancels_the_requests_in_flight() -> None:
    from multirerank.registry import backend_from_model

    cancelled: list[int] = []
    with Emulator(latency=1.5) as slow, Emulator() as b:
        route = cohere(slow.url, max_documents_per_request=2)
        backend = backend_from_model(route.pop("model"), **route)
        sending = backend.arerank_batch

        async def watched(query: str, documents: Sequence[DocumentInput], top_n: int | None) -> Any:
            try:
                return await sending(query, documents, top_n)
            except asyncio.CancelledError:
                cancelled.append(len(documents))
                raise

        backend.arerank_batch = watched  # type: ignore[method-assign]
        try:
            async with Reranker(Router([backend, jina(b.url)]), deadline=0.3) as reranker:
                with pytest.raises(RerankTimeoutError) as caught:
                    await reranker.arerank(QUERY, TEXTS)
                assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
        finally:
            await backend.aclose()
    assert sorted(cancelled) == [2, 2, 2]  # each of the three requests in flight
    assert [(item["provider"], item["error"]) for item in caught.value.attempts] == [("cohere", "RerankTimeoutError")]
    assert "deadline of 0.3 s passed" in str(caught.value)
    assert b.requests == []


# -- frameworks ----------------------------------------------------------------------------------

FrameworkFactory = Callable[[str, str], Any]


def _framework_objects(package: str) -> dict[str, FrameworkFactory]:
    module = __import__(package)

    def by_model(a_url: str, b_url: str) -> Any:
        route = cohere(a_url)
        model = route.pop("model")
        return module.MultiRerank(model=model, backend_options=route, fallbacks=[jina(b_url)], top_n=None)

    def by_router(a_url: str, b_url: str) -> Any:
        return module.MultiRerank(router=Router([cohere(a_url), jina(b_url)]), top_n=None)

    def by_vendor_class(a_url: str, b_url: str) -> Any:
        return module.HTTPRerank(
            api_format="cohere",
            model=COHERE_MODEL,
            base_url=a_url + "/cohere",
            api_key=API_KEY,
            fallbacks=[jina(b_url)],
            top_n=None,
        )

    return {"model-fallbacks": by_model, "router": by_router, "vendor-class-fallbacks": by_vendor_class}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build", ["model-fallbacks", "router", "vendor-class-fallbacks"])
def test_langchain_falls_back(build: str, mode: Mode) -> None:
    from langchain_core.documents import Document

    documents = [Document(page_content=text, id=f"doc-{number}") for number, text in enumerate(TEXTS)]
    with Emulator() as b, closed_port() as down:
        compressor = _framework_objects("langchain_multirerank")[build](down, b.url)
        if mode == "sync":
            found = compressor.compress_documents(documents, QUERY)
        else:
            found = asyncio.run(compressor.acompress_documents(documents, QUERY))
        compressor.reranker.close()
        expected = b.ranked(QUERY, TEXTS)
    assert [(document.id, document.metadata["relevance_score"]) for document in found] == [
        (f"doc-{index}", score) for index, score in expected
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build", ["model-fallbacks", "router", "vendor-class-fallbacks"])
def test_llama_index_falls_back(build: str, mode: Mode) -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"node-{n}"), score=0.0) for n, text in enumerate(TEXTS)]
    with Emulator() as b, closed_port() as down:
        postprocessor = _framework_objects("llama_index_multirerank")[build](down, b.url)
        if mode == "sync":
            found = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
        else:
            found = asyncio.run(postprocessor.apostprocess_nodes(nodes, query_str=QUERY))
        postprocessor.reranker.close()
        expected = b.ranked(QUERY, TEXTS)
    assert [(node.node.node_id, node.score) for node in found] == [(f"node-{index}", score) for index, score in expected]


# -- the command line ----------------------------------------------------------------------------

#: The emulator the ``routing-test`` provider reaches (set by the test that registers it).
_FALLBACK_URL: list[str] = []


def routing_test_backend(rest: str | None, **options: Any) -> Backend:
    """A provider for the command's ``--fallback``: route B at the test's emulator."""
    from multirerank.registry import backend_from_model

    route = jina(_FALLBACK_URL[-1])
    return backend_from_model(route.pop("model"), **route)


def test_command_line_fallback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "docs.json"
    source.write_text(json.dumps(TEXTS))
    monkeypatch.setitem(registry.PROVIDERS, "routing-test", f"{__name__}:routing_test_backend")
    with Emulator() as b, closed_port() as down:
        monkeypatch.setattr(f"{__name__}._FALLBACK_URL", [b.url])
        arguments = ["--model", "tei", "-o", f"base_url={down}/tei", "--fallback", "routing-test"]
        assert main(["rerank", *arguments, "-q", QUERY, "--json", str(source)]) == 0
        expected = b.ranked(QUERY, TEXTS)
    report = json.loads(capsys.readouterr().out)
    assert (report["provider"], report["model"]) == ("jina", JINA_MODEL)
    assert [(item["index"], item["relevance_score"]) for item in report["results"]] == expected


# -- found by a new user's review ----------------------------------------------------------------


def test_route_options_given_as_fallbacks_stay_out_of_reprs_and_dumps() -> None:
    import langchain_multirerank
    import llama_index_multirerank

    fallbacks = [{"model": "cohere/rerank-v3.5", "base_url": "http://127.0.0.1:9/cohere", "api_key": "SEKRIT-FB"}]
    for package in (langchain_multirerank, llama_index_multirerank):
        made = package.MultiRerank(model="tei", backend_options={"base_url": "http://127.0.0.1:9/tei"}, fallbacks=fallbacks)
        for shown in (repr(made), str(made), json.dumps(made.model_dump(), default=str), made.model_dump_json()):
            assert "SEKRIT-FB" not in shown


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Router([{"model": "tei", "base_url": "http://h", "weight": float("inf")}]), r"routes\[0\]\.weight"),
        (lambda: Router([{"model": "tei", "base_url": "http://h", "bogus": 1}]), r"^routes\[0\]: "),
        (lambda: Reranker("local", fallbacks="local"), "fallbacks must be a list"),
        (lambda: Reranker(Router(["local"]), fallbacks=["local"]), "cannot be combined with a Router"),
        (lambda: Reranker("tei", base_url="http://h", deadline=float("inf")), "deadline"),
    ],
)
def test_wrong_routing_settings_are_named(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_retries_cut_short_by_the_deadline_raise_the_deadlines_error() -> None:
    with Emulator() as emulator:
        emulator.inject(status=503, vendor="tei", times=None)
        reranker = Reranker("tei", base_url=f"{emulator.url}/tei", deadline=1.0, max_retries=100)
        with pytest.raises(RerankTimeoutError, match="deadline"):
            reranker.rerank("q", ["a", "b"])
