"""Concurrent queries while the vendor throttles some requests at random: every query succeeds,
with the ranking it gets without faults (issue 8's load figure, small enough to always run;
``benchmarks/bench_load.py`` runs 50 queries of 1,000 documents).

10 queries of 200 documents at once, in the Cohere format (one request per query) and the TEI
format (32 documents per request: seven requests per query), sync (a thread per query) and
async; 10% of the requests answered 429 with ``Retry-After: 0.05``. And the HTTP backend's
async client under many requests at once: no more in flight than its pool's connections.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import pytest

from multirerank import Reranker, RerankResponse
from multirerank.backends import http_api
from multirerank.backends.http_api import HTTPBackend
from multirerank.testing import Emulator, Request, Response, Route
from multirerank.testing.server import default_routes
from tests.http_support import SETUPS, http_options
from tests.load_support import MODES, QUERY_WORDS, judge, make_queries, ranking, run

QUERIES = make_queries(10)
TEXTS = [
    f"note {number}: "
    + " ".join(word for bit, word in enumerate(QUERY_WORDS) if (number * 37 + 11) >> bit & 1)
    for number in range(200)
]
#: Documents per request of each format (TEI's batch limit; Cohere takes them all).
PER_REQUEST = {"cohere": len(TEXTS), "tei": 32}


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize("api_format", list(PER_REQUEST))
def test_throttled_at_random_every_query_gets_its_fault_free_ranking(
    server: Emulator, api_format: str
) -> None:
    server.clear()
    path = SETUPS[api_format]["path"]
    requests_per_run = len(QUERIES) * math.ceil(len(TEXTS) / PER_REQUEST[api_format])
    with Reranker(HTTPBackend(**http_options(server, api_format, max_retries=2))) as reranker:
        outcomes, _ = run(reranker, "sync", QUERIES, TEXTS)
        reference = [ranking(outcome) for outcome in outcomes]
        assert all(order is not None and sorted(order) == list(range(len(TEXTS))) for order in reference)
        # One request in ten throttled, at random (seeded): retried after the vendor's wait.
        server.inject(status=429, headers={"Retry-After": "0.05"}, times=None, rate=0.1, seed=8)
        for mode in MODES:
            before = len(server.requests_to(path))
            outcomes, wall = run(reranker, mode, QUERIES, TEXTS)
            result = judge(f"{api_format} {mode}", outcomes, reference, wall)
            assert (result.failed, result.wrong) == (0, 0), result.problems
            # Some requests were throttled and sent again.
            assert len(server.requests_to(path)) - before > requests_per_run
    server.clear()


def test_an_async_client_hands_httpx_at_most_its_connection_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests beyond the pool's connections wait in the backend's own queue, not httpcore's
    (whose bookkeeping grows with the square of the requests waiting there)."""
    monkeypatch.setattr(http_api, "MAX_CONNECTIONS", 3)
    cohere = next(route for route in default_routes() if route.pattern == "/cohere/v2/rerank")
    lock = threading.Lock()
    now = [0]
    most = [0]

    def counted(emulator: Emulator, request: Request) -> Response:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.02)  # long enough for the others to arrive, if they were let through
        with lock:
            now[0] -= 1
        return cohere.handler(emulator, request)

    route = Route("cohere", "POST", "/counted/v2/rerank", counted, cohere.error)
    with Emulator(routes=[route]) as emulator:
        options = http_options(emulator, "cohere") | {"base_url": f"{emulator.url}/counted"}
        backend = HTTPBackend(**options)
        assert backend._client_settings["limits"].max_connections == 3

        async def calls() -> list[RerankResponse]:
            async with Reranker(backend) as reranker:
                return list(await asyncio.gather(*(reranker.arerank(query, TEXTS[:5]) for query in QUERIES)))

        responses = asyncio.run(calls())
        # Every connection kept alive and used again: no more connections than the pool holds.
        connections = {request.client for request in emulator.requests}
    assert len(responses) == len(QUERIES) == 10
    assert most[0] == 3
    assert 1 <= len(connections) <= 3
