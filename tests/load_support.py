"""Many queries at once, sync (a thread each) and async (``asyncio.gather``), through one reranker,
each judged against a ranking made without faults.

Used by ``tests/test_load.py`` (a small load, always run) and ``benchmarks/bench_load.py`` (50
queries of 1,000 documents against an emulator in a process of its own).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from multirerank import Reranker, RerankResponse

MODES = ("sync", "async")
#: Words the queries are made of (the emulator's lexical scorer ranks by them).
QUERY_WORDS = (
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
)


def make_queries(count: int, *, seed: int = 5) -> list[str]:
    """``count`` different queries of two to four words."""
    chooser = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        query = " ".join(chooser.sample(QUERY_WORDS, chooser.randint(2, 4)))
        if query not in queries:
            queries.append(query)
    return queries


Outcome = RerankResponse | BaseException


def run_sync(reranker: Reranker, queries: Sequence[str], texts: Sequence[str]) -> tuple[list[Outcome], float]:
    """Every query's full ranking, each called from a thread of its own, all at once; and the
    wall time of them all."""

    def call(query: str) -> Outcome:
        try:
            return reranker.rerank(query, texts, top_n=None)
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="load") as threads:
        started = time.perf_counter()
        outcomes = list(threads.map(call, queries))
        return outcomes, time.perf_counter() - started


def run_async(
    reranker: Reranker, queries: Sequence[str], texts: Sequence[str]
) -> tuple[list[Outcome], float]:
    """The async twin of :func:`run_sync`: one ``arerank`` task per query, gathered."""

    async def calls() -> tuple[list[Outcome], float]:
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(reranker.arerank(query, texts, top_n=None) for query in queries), return_exceptions=True
        )
        return list(outcomes), time.perf_counter() - started

    return asyncio.run(calls())


def run(
    reranker: Reranker, mode: str, queries: Sequence[str], texts: Sequence[str]
) -> tuple[list[Outcome], float]:
    return (run_sync if mode == "sync" else run_async)(reranker, queries, texts)


def ranking(outcome: Outcome) -> list[int] | None:
    return [result.index for result in outcome] if isinstance(outcome, RerankResponse) else None


@dataclass
class LoadResult:
    """How a load of queries went: ``failed`` raised, ``wrong`` returned another ranking than
    the fault-free one; ``problems`` says which and how."""

    name: str
    queries: int
    wall: float
    failed: int = 0
    wrong: int = 0
    problems: list[str] = field(default_factory=list)


def judge(
    name: str, outcomes: Sequence[Outcome], reference: Sequence[list[int] | None], wall: float
) -> LoadResult:
    result = LoadResult(name, len(outcomes), wall)
    for number, (outcome, expected) in enumerate(zip(outcomes, reference, strict=True)):
        if isinstance(outcome, BaseException):
            result.failed += 1
            result.problems.append(f"query {number}: {type(outcome).__name__}: {outcome}")
        elif ranking(outcome) != expected:
            result.wrong += 1
            result.problems.append(f"query {number}: another ranking than without faults")
    return result
