"""What splitting, concurrency and async buy over a slow vendor, and what the engine costs.

Run: .venv/bin/python benchmarks/bench_engine.py [--quick]

Everything runs against the wire emulator (:mod:`multirerank.testing`) on 127.0.0.1, through the
real SDK clients (boto3 for Bedrock, httpx for the HTTP backend), with a fixed latency injected
into every request (cases 1 and 2) so the vendor's wait dominates, as it does in production:

1. Splitting + concurrency: 2,500 documents through Bedrock (3 requests of <= 1,000) with
   ``max_concurrency=1`` (the chunks one after another) against the default (4); and through the
   HTTP backend in TEI format (32 per request: 79 requests), sync and async, at 1, 4 and 8.
2. Async over a sync SDK: 16 queries at once with ``asyncio.gather`` of ``arerank`` on one Bedrock
   ``Reranker`` (boto3 runs on the reranker's own pool) against the same 16 ``rerank`` calls in turn.
3. Engine overhead: ``Reranker.rerank`` against ``backend.rerank_batch`` for 20 documents, with no
   injected latency, median per call.

Each figure is the median of a few timed runs after a warm-up; ratio = baseline / measured, so
above 1 means faster than the baseline. Figures only, no pass/fail: they depend on the machine.
The emulator shares this process (and its GIL) with the clients, so its own CPU work counts too.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from botocore.config import Config

from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.backends.bedrock import BedrockBackend, BedrockOptions
from multirerank.backends.http_api import HTTPBackend
from multirerank.testing import Emulator
from multirerank.types import RerankResponse

LATENCY = 0.050  # seconds the emulator waits before answering each request
DOCUMENTS = 2500
QUERIES = 16
QUERY_DOCUMENTS = 100  # per query in case 2: one Bedrock request each
SMALL = 20  # documents in the overhead case
REGION = "us-west-2"
MODEL_ID = "cohere.rerank-v3-5:0"
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


@dataclass(frozen=True)
class Settings:
    repeats: int  # timed runs of the slow cases (median)
    short_repeats: int  # timed runs of the sub-second cases (median)
    calls: int  # calls per side in the overhead case (median)


FULL = Settings(repeats=3, short_repeats=5, calls=300)
QUICK = Settings(repeats=1, short_repeats=1, calls=60)


@dataclass(frozen=True)
class Row:
    case: str
    baseline: float  # seconds
    measured: float  # seconds
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.baseline / self.measured


def isolate_environment() -> None:
    """Only 127.0.0.1 is reached: no AWS setting, profile or metadata service of this machine
    takes part, and no proxy is put between the clients and the emulator."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name, ""), "127.0.0.1"]))


def synthetic_documents(count: int, seed: int = 11) -> list[str]:
    chooser = random.Random(seed)
    return [
        f"note {number}: " + " ".join(chooser.choices(WORDS, k=chooser.randint(6, 40)))
        for number in range(count)
    ]


def synthetic_queries(count: int, seed: int = 5) -> list[str]:
    chooser = random.Random(seed)
    return [" ".join(chooser.sample(WORDS, 3)) for _ in range(count)]


def median_time(function: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def amedian_time(function: Callable[[], Awaitable[object]], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        await function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def checked(response: RerankResponse, documents: int, requests: int) -> RerankResponse:
    """A sanity check of what was timed (every document ranked, as many requests as expected)."""
    sent = response.usage.requests if response.usage is not None else 0
    if len(response) != documents or sent != requests:
        raise RuntimeError(
            f"expected {documents} results over {requests} requests, got {len(response)} over {sent}"
        )
    return response


def bedrock_backend(emulator: Emulator, pool: int) -> BedrockBackend:
    """A real boto3 client at the emulator: dummy keys, one attempt (no botocore retries)."""
    return BedrockOptions(
        model_arn=MODEL_ID,
        region_name=REGION,
        endpoint_url=emulator.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-a-real-secret",
        config=Config(
            retries={"total_max_attempts": 1},
            max_pool_connections=pool,
            connect_timeout=5,
            read_timeout=30,
        ),
    ).build_backend()


def tei_backend(emulator: Emulator) -> HTTPBackend:
    return HTTPBackend(api_format="tei", base_url=emulator.url + "/tei", max_retries=0)


# -- 1. splitting + concurrency -----------------------------------------------------------------


def bench_bedrock_split(emulator: Emulator, documents: list[str], settings: Settings) -> list[Row]:
    backend = bedrock_backend(emulator, pool=8)
    requests = -(-len(documents) // (backend.limits.max_documents or len(documents)))
    sequential = Reranker(backend, max_concurrency=1)
    default = Reranker(backend)
    try:
        for reranker in (default, sequential):  # warm-up: connections, thread pools, botocore
            checked(reranker.rerank(QUERY, documents), len(documents), requests)
        baseline = median_time(functools.partial(sequential.rerank, QUERY, documents), settings.short_repeats)
        measured = median_time(functools.partial(default.rerank, QUERY, documents), settings.short_repeats)
    finally:
        sequential.close()
        default.close()
    return [
        Row(
            f"bedrock {len(documents)} docs: concurrency {default.max_concurrency} vs 1",
            baseline,
            measured,
            f"{requests} requests",
        )
    ]


def bench_tei_split(emulator: Emulator, documents: list[str], settings: Settings) -> list[Row]:
    backend = tei_backend(emulator)
    per_request = backend.limits.max_documents or len(documents)
    requests = -(-len(documents) // per_request)
    rerankers = {level: Reranker(backend, max_concurrency=level) for level in (1, 4, 8)}
    # Warm-up: a list of as many requests as the reranker runs at once (at least two, so the
    # engine's pool is used): one latency round each, opening the connections and the pools.
    warm = {level: documents[: max(2, level) * per_request] for level in rerankers}
    rows: list[Row] = []

    # Sync: the engine's thread pool.
    for level, reranker in rerankers.items():
        checked(reranker.rerank(QUERY, warm[level]), len(warm[level]), max(2, level))
    sync = {
        level: median_time(functools.partial(reranker.rerank, QUERY, documents), settings.repeats)
        for level, reranker in rerankers.items()
    }

    # Async: httpx.AsyncClient awaited on the loop, no threads; all on one loop, closed on it.
    async def run_async() -> dict[int, float]:
        try:
            for level, reranker in rerankers.items():
                checked(await reranker.arerank(QUERY, warm[level]), len(warm[level]), max(2, level))
            return {
                level: await amedian_time(
                    functools.partial(reranker.arerank, QUERY, documents), settings.repeats
                )
                for level, reranker in rerankers.items()
            }
        finally:
            for reranker in rerankers.values():
                await reranker.aclose()

    asynchronous = asyncio.run(run_async())

    note = f"{requests} requests"
    for mode, timings in (("sync", sync), ("async", asynchronous)):
        for level in (4, 8):
            rows.append(
                Row(
                    f"tei {len(documents)} docs {mode}: concurrency {level} vs 1",
                    timings[1],
                    timings[level],
                    note,
                )
            )
    rows.append(
        Row(f"tei {len(documents)} docs: async vs sync, concurrency 8", sync[8], asynchronous[8], note)
    )
    return rows


# -- 2. async over a sync SDK -------------------------------------------------------------------


def bench_async_sync_sdk(
    emulator: Emulator, documents: list[str], queries: list[str], settings: Settings
) -> list[Row]:
    backend = bedrock_backend(emulator, pool=len(queries))
    subset = documents[:QUERY_DOCUMENTS]
    default = Reranker(backend)
    wide = Reranker(backend, max_concurrency=len(queries))

    def one_after_another() -> list[RerankResponse]:
        return [default.rerank(query, subset) for query in queries]

    async def gathered(reranker: Reranker) -> list[RerankResponse]:
        return list(await asyncio.gather(*(reranker.arerank(query, subset) for query in queries)))

    async def run_async() -> dict[int, float]:
        try:
            for reranker in (default, wide):  # warm-up: pool threads and connections
                for response in await gathered(reranker):
                    checked(response, len(subset), 1)
            return {
                reranker.max_concurrency: await amedian_time(
                    functools.partial(gathered, reranker), settings.short_repeats
                )
                for reranker in (default, wide)
            }
        finally:
            await default.aclose()
            await wide.aclose()

    # The sync baseline first: aclose() below closes the shared boto3 client.
    for query in queries[:2]:  # warm-up
        checked(default.rerank(query, subset), len(subset), 1)
    baseline = median_time(one_after_another, settings.short_repeats)
    measured = asyncio.run(run_async())
    label = f"bedrock {len(queries)} queries x {len(subset)} docs: gather(arerank)"
    return [
        Row(
            f"{label}, concurrency {level} vs rerank in turn",
            baseline,
            measured[level],
            f"engine pool of {level} threads" + (" (default)" if reranker is default else ""),
        )
        for level, reranker in ((default.max_concurrency, default), (wide.max_concurrency, wide))
    ]


# -- 3. engine overhead -------------------------------------------------------------------------


def bench_overhead(name: str, backend: Backend, documents: list[str], calls: int) -> Row:
    reranker = Reranker(backend)
    try:
        for _ in range(max(3, calls // 10)):  # warm-up
            backend.rerank_batch(QUERY, documents, None)
            checked(reranker.rerank(QUERY, documents), len(documents), 1)
        sides: list[tuple[Callable[[], object], list[float]]] = [
            (functools.partial(backend.rerank_batch, QUERY, documents, None), []),
            (functools.partial(reranker.rerank, QUERY, documents), []),
        ]
        # Interleaved, and each side first half the time, so drift in the machine's load and
        # whatever one call leaves to the next fall on both sides alike.
        for number in range(calls):
            for function, timings in sides if number % 2 else sides[::-1]:
                started = time.perf_counter()
                function()
                timings.append(time.perf_counter() - started)
        direct, engine = (timings for _, timings in sides)
    finally:
        reranker.close()
    baseline, measured = statistics.median(direct), statistics.median(engine)
    return Row(
        f"{name} {len(documents)} docs, no latency: Reranker.rerank vs rerank_batch",
        baseline,
        measured,
        f"{(measured - baseline) * 1e6:+.0f} us/call, median of {calls}",
    )


# -- report -------------------------------------------------------------------------------------


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.3f} ms"


def print_table(rows: Sequence[Row]) -> None:
    header = ("case", "baseline", "measured", "ratio", "note")
    cells = [
        (row.case, milliseconds(row.baseline), milliseconds(row.measured), f"{row.ratio:.2f}x", row.note)
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *cells]) for column in range(len(header))]
    for number, line in enumerate([header, *cells]):
        print(
            "  ".join(
                cell.ljust(width) if column in (0, 4) else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            print("  ".join("-" * width for width in widths))


def timed(settings: Settings) -> str:
    if settings.repeats == settings.short_repeats:
        return f"median of {settings.repeats} timed run(s) per figure"
    return (
        f"median of {settings.repeats} timed runs (multi-second figures) or "
        f"{settings.short_repeats} (sub-second ones)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 15 s)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    isolate_environment()
    documents = synthetic_documents(DOCUMENTS)
    queries = synthetic_queries(QUERIES)
    started = time.perf_counter()
    rows: list[Row] = []
    with Emulator() as emulator:
        emulator.inject(latency=LATENCY, times=None)  # every request, every vendor
        rows += bench_bedrock_split(emulator, documents, settings)
        rows += bench_tei_split(emulator, documents, settings)
        rows += bench_async_sync_sdk(emulator, documents, queries, settings)
        emulator.clear()  # no latency from here on
        small = documents[:SMALL]
        bedrock = bedrock_backend(emulator, pool=4)
        rows.append(bench_overhead("bedrock", bedrock, small, settings.calls))
        rows.append(bench_overhead("tei", tei_backend(emulator), small, settings.calls))
    print(
        f"multirerank engine against the emulator on 127.0.0.1; {LATENCY * 1e3:.0f} ms injected per "
        f"request except in the last two rows; {timed(settings)} after a warm-up; "
        "ratio = baseline / measured (above 1: faster than the baseline)"
    )
    print()
    print_table(rows)
    print()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
