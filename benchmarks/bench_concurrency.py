"""Issue 7, concurrency: how the adapters scale with concurrent calls, and what they cost the loop.

Run: .venv/bin/python benchmarks/bench_concurrency.py [--repeats 5] [--quick] [--profile]

Against the wire emulator in a separate process, answering every request after 100 ms:

1. Async: 64 concurrent ``acompress_documents`` calls (``asyncio.gather``), 100 documents each,
   default settings. wall(64) / wall(1) for langchain_multirerank's ``BedrockRerank`` (target
   <= 2.5) beside langchain-aws's ``BedrockRerank`` on a boto3 client; for ``HTTPRerank`` in the
   Cohere format against a bare ``httpx.AsyncClient`` posting the same body (target: within 10%
   of raw httpx's ratio). For reference, a floor for a sync SDK: the same Bedrock request through
   bare boto3 on a 64-thread pool (``run_in_executor``), a connection per thread.
2. Event-loop stall during those 64 calls: a ticker coroutine sleeps 1 ms in a loop and records
   how late it wakes; the worst lateness of a run (target: HTTP <= 1.5x raw httpx's, Bedrock <=
   langchain-aws's). Measured in runs of their own, so the ticker does not slow the timed ones.
3. Sync: 16 threads each calling ``rerank`` once, 1,200 short documents per call (two Bedrock
   requests, 1,000 at most each), on one ``BedrockRerank`` and on one ``Reranker``: wall(16
   threads) / wall(1 call), target <= 2. For reference, a floor: bare boto3, 32 threads with one
   600-document request each against 2 threads, the same requests as the 16 calls make.

Every client is warmed up before timing; each figure is the median of ``--repeats`` runs (three
times as many for the two HTTP sides, whose runs are short), the sides interleaved run by run.
A full garbage collection precedes every timed run: this process holds well over 100,000
objects (boto3's and the frameworks' modules), so a full collection takes tens of milliseconds
or more, and one falling inside a run, at whichever side's allocation happens to trigger it,
would otherwise decide that run's stall and much of its wall time (the younger generations'
collections still run, and count). The detail tables add the event-loop thread's CPU time per
call (``time.thread_time``: the work done on the loop, without waits for the GIL), the emulator
process's CPU time during the 64-call or 16-thread run (near the run's wall time: the emulator
is the bottleneck, not the client), and how many connections urllib3 discarded because a boto3
pool was full. ``--profile`` prints a cProfile of the event-loop thread (top 20 by tottime)
during 64 calls of each async side: what runs on the loop. Its times are wall-clock, so they
include waits for the GIL held by worker threads.

A report: it exits 0 whether the figures pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import pstats
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from botocore.config import Config
from harness import (
    COHERE_MODEL,
    MODEL_ARN,
    MODEL_ID,
    QUERY,
    REGION,
    EmulatorProcess,
    Figure,
    emulator_process,
    isolate_environment,
    median,
    milliseconds,
    print_figures,
    print_table,
    synthetic_texts,
    verdict,
)
from langchain_aws import BedrockRerank as AWSBedrockRerank
from langchain_core.documents import Document

from langchain_multirerank import BedrockRerank, HTTPRerank
from multirerank import Reranker

LATENCY = 0.1  # seconds the emulator waits before each answer
CALLS = 64  # concurrent async calls
DOCUMENTS = 100  # per async call
THREADS = 16  # concurrent sync calls
SYNC_DOCUMENTS = 1200  # per sync call: two Bedrock requests
TICK = 0.001  # the loop-stall ticker's sleep
CALL_TIMEOUT = 120.0  # no gather may hang the run
KEY_ID, SECRET = "AKIDEXAMPLE", "not-a-real-secret"  # dummy keys: the emulator checks none

BEDROCK_TARGET = 2.5  # wall(64) / wall(1)
HTTP_TOLERANCE = 1.10  # HTTPRerank's ratio against raw httpx's
HTTP_STALL_TARGET = 1.5  # HTTPRerank's worst stall against raw httpx's
SYNC_TARGET = 2.0  # wall(16 threads) / wall(1 call)
#: The HTTP sides' runs last a quarter of a second, so the machine's hiccups weigh more on them:
#: they take this many timed runs for each of the Bedrock sides'.
HTTP_WEIGHT = 3


class PoolFullCounter(logging.Handler):
    """Counts urllib3's "connection pool is full, discarding connection" warnings (a boto3 client
    with more threads than ``max_pool_connections``) instead of printing each one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


#: Installed on urllib3's logger by main(); each side's timed runs add what they caused.
DISCARDED = PoolFullCounter()


def boto3_client(url: str, pool: int | None = None) -> Any:
    """A bedrock-agent-runtime client at the emulator: dummy keys, otherwise boto3's defaults.

    With ``pool`` (the floors): that many pooled connections, and no parameter validation, as
    multirerank's own clients, so that a floor is the least a boto3 client costs, not a
    client doing more work than ours (validation is about half of botocore's CPU per request).
    """
    return boto3.client(
        "bedrock-agent-runtime",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(max_pool_connections=pool, parameter_validation=False) if pool is not None else None,
    )


def bedrock_rerank(url: str) -> BedrockRerank:
    """langchain_multirerank's compressor at the emulator, with default settings."""
    return BedrockRerank(
        model_arn=MODEL_ID,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def bedrock_request(texts: list[str]) -> dict[str, Any]:
    """The Rerank request both libraries send for ``texts`` with ``top_n=3``, for bare boto3."""
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": QUERY}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}}}
            for text in texts
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfResults": 3,
                "modelConfiguration": {"modelArn": MODEL_ARN},
            },
        },
    }


def documents(count: int) -> list[Document]:
    return [
        Document(page_content=text, metadata={"source": f"doc-{number}"})
        for number, text in enumerate(synthetic_texts(count))
    ]


# -- 1 and 2: concurrent async calls --------------------------------------------------------------


@dataclass
class AsyncSide:
    name: str
    call: Callable[[], Awaitable[object]]
    weight: int = 1  # timed runs per round: the fast sides take several, being noisier
    single: list[float] = field(default_factory=list)
    many: list[float] = field(default_factory=list)
    stall: list[float] = field(default_factory=list)
    loop_cpu: list[float] = field(default_factory=list)  # the loop thread's CPU per call
    emulator_cpu: list[float] = field(default_factory=list)  # the emulator's CPU in wall(64)
    discarded: int = 0  # boto3 connections thrown away in the timed runs (pool full)

    @property
    def ratio(self) -> float:
        return median(self.many) / median(self.single)


async def ticker(stop: asyncio.Event) -> float:
    """The worst lateness of a 1 ms sleep until ``stop`` is set: the longest the loop was blocked."""
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        worst = max(worst, time.perf_counter() - before - TICK)
    return worst


async def gathered(call: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    """Wall time of ``count`` concurrent calls, and the CPU time the loop's thread spent on them
    (other threads' work, and waiting for the GIL, not included)."""
    started, cpu = time.perf_counter(), time.thread_time()
    await asyncio.wait_for(asyncio.gather(*(call() for _ in range(count))), CALL_TIMEOUT)
    return time.perf_counter() - started, time.thread_time() - cpu


async def stalled(call: Callable[[], Awaitable[object]], count: int) -> float:
    stop = asyncio.Event()
    watch = asyncio.ensure_future(ticker(stop))
    await asyncio.sleep(TICK * 5)  # the ticker is running before the calls start
    try:
        await gathered(call, count)
    finally:
        stop.set()
    return await watch


def async_sides(url: str, docs: list[Document]) -> tuple[list[AsyncSide], Callable[[], Awaitable[None]]]:
    """The sides of figures 1 and 2 (ours and the baselines, then a bare-boto3 floor for
    reference), and how to close what they opened."""
    ours_bedrock = bedrock_rerank(url)
    theirs_bedrock = AWSBedrockRerank(model_arn=MODEL_ARN, client=boto3_client(url))
    floor_client = boto3_client(url, pool=CALLS)
    floor_pool = ThreadPoolExecutor(max_workers=CALLS, thread_name_prefix="bench-floor")
    floor_request = bedrock_request([document.page_content for document in docs])
    ours_http = HTTPRerank(api_format="cohere", base_url=f"{url}/cohere", api_key="x", model=COHERE_MODEL)
    raw = httpx.AsyncClient(base_url=f"{url}/cohere", headers={"Authorization": "Bearer x"})

    async def raw_call() -> object:
        # What HTTPRerank sends for these documents, and the least a caller does with the answer.
        body = {
            "model": COHERE_MODEL,
            "query": QUERY,
            "documents": [document.page_content for document in docs],
            "top_n": 3,
        }
        response = await raw.post("/v2/rerank", json=body)
        response.raise_for_status()
        return response.json()["results"]

    async def floor_call() -> object:
        # A sync SDK under asyncio at its best: a thread per call, a connection per thread.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(floor_pool, lambda: floor_client.rerank(**floor_request))

    sides = [
        AsyncSide("multirerank BedrockRerank", lambda: ours_bedrock.acompress_documents(docs, QUERY)),
        AsyncSide("langchain-aws BedrockRerank", lambda: theirs_bedrock.acompress_documents(docs, QUERY)),
        AsyncSide(
            "multirerank HTTPRerank(cohere)",
            lambda: ours_http.acompress_documents(docs, QUERY),
            weight=HTTP_WEIGHT,
        ),
        AsyncSide("raw httpx.AsyncClient", raw_call, weight=HTTP_WEIGHT),
        AsyncSide(f"floor: bare boto3, {CALLS} threads", floor_call),
    ]

    async def close() -> None:
        await raw.aclose()
        await ours_http.reranker.aclose()
        await ours_bedrock.reranker.aclose()
        floor_pool.shutdown(wait=True)
        floor_client.close()

    return sides, close


def cpu_delta(emulator: EmulatorProcess, before: float | None) -> float:
    after = emulator.cpu_seconds()
    return after - before if after is not None and before is not None else float("nan")


async def measure_async(
    emulator: EmulatorProcess, repeats: int, profile: bool
) -> tuple[list[AsyncSide], str]:
    docs = documents(DOCUMENTS)
    sides, close = async_sides(emulator.url, docs)
    profiles = ""
    try:
        for side in sides:  # warm-up: connections, thread pools, lazy imports, botocore caches
            await side.call()
            await gathered(side.call, CALLS)
        for number in range(repeats * max(side.weight for side in sides)):
            order = sides if number % 2 == 0 else sides[::-1]
            for side in order:
                if number >= repeats * side.weight:
                    continue
                before = DISCARDED.count
                gc.collect()
                started = time.perf_counter()
                await asyncio.wait_for(side.call(), CALL_TIMEOUT)
                side.single.append(time.perf_counter() - started)
                gc.collect()
                emulator_before = emulator.cpu_seconds()
                wall, cpu = await gathered(side.call, CALLS)
                side.emulator_cpu.append(cpu_delta(emulator, emulator_before))
                side.many.append(wall)
                side.loop_cpu.append(cpu / CALLS)
                gc.collect()
                side.stall.append(await stalled(side.call, CALLS))
                side.discarded += DISCARDED.count - before
        if profile:
            profiles = await loop_profiles(sides)
    finally:
        await close()
    return sides, profiles


async def loop_profiles(sides: Sequence[AsyncSide]) -> str:
    """cProfile of the event-loop thread during one run of 64 calls per side: what runs on the
    loop (and so stalls it) per call."""
    parts = []
    for side in sides:
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        await gathered(side.call, CALLS)
        profiler.disable()
        parts.append(profile_text(profiler, f"{side.name}: event-loop thread, {CALLS} calls"))
    return "\n".join(parts)


def profile_text(profiler: cProfile.Profile, title: str, limit: int = 20) -> str:
    import io

    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(limit)
    return f"== {title} (top {limit} by tottime)\n" + stream.getvalue().strip() + "\n"


# -- 3: concurrent sync calls in threads ------------------------------------------------------------


@dataclass
class SyncSide:
    name: str
    call: Callable[[], object]
    threads: int  # concurrent calls in the many-threads run
    baseline_threads: int = 1  # concurrent calls in the baseline run
    single: list[float] = field(default_factory=list)
    many: list[float] = field(default_factory=list)
    emulator_cpu: list[float] = field(default_factory=list)  # the emulator's CPU in the many-run
    client_cpu: list[float] = field(default_factory=list)  # this process's CPU in the many-run
    discarded: int = 0

    @property
    def ratio(self) -> float:
        return median(self.many) / median(self.single)


def in_threads(pool: ThreadPoolExecutor, call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    futures = [pool.submit(call) for _ in range(count)]
    for future in futures:
        future.result(timeout=CALL_TIMEOUT)
    return time.perf_counter() - started


def measure_sync(emulator: EmulatorProcess, repeats: int) -> list[SyncSide]:
    url = emulator.url
    texts = synthetic_texts(SYNC_DOCUMENTS, low=2, high=4)
    half = texts[: SYNC_DOCUMENTS // 2]
    ours = bedrock_rerank(url)
    engine = Reranker(
        f"bedrock/{MODEL_ID}",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    raw_client = boto3_client(url, pool=2 * THREADS)
    raw_request = bedrock_request(half)
    sides = [
        SyncSide("multirerank BedrockRerank.rerank", lambda: ours.rerank(texts, QUERY), THREADS),
        # top_n=3 as BedrockRerank's default: both send the floor's requests (numberOfResults=3).
        SyncSide("multirerank Reranker.rerank", lambda: engine.rerank(QUERY, texts, top_n=3), THREADS),
        SyncSide(
            f"floor: bare boto3, {SYNC_DOCUMENTS // 2} docs a request",
            lambda: raw_client.rerank(**raw_request),
            2 * THREADS,
            baseline_threads=2,
        ),
    ]
    pool = ThreadPoolExecutor(max_workers=2 * THREADS, thread_name_prefix="bench-caller")
    try:
        for side in sides:  # warm-up: every caller thread, the engines' pools, the connections
            in_threads(pool, side.call, side.baseline_threads)
            in_threads(pool, side.call, side.threads)
        for number in range(repeats):
            for side in sides if number % 2 == 0 else sides[::-1]:
                before = DISCARDED.count
                gc.collect()
                side.single.append(in_threads(pool, side.call, side.baseline_threads))
                gc.collect()
                emulator_before, client_before = emulator.cpu_seconds(), time.process_time()
                side.many.append(in_threads(pool, side.call, side.threads))
                side.client_cpu.append(time.process_time() - client_before)
                side.emulator_cpu.append(cpu_delta(emulator, emulator_before))
                side.discarded += DISCARDED.count - before
    finally:
        pool.shutdown(wait=True)
        engine.close()
        ours.reranker.close()
        raw_client.close()
    return sides


# -- report -----------------------------------------------------------------------------------------


def report(async_results: list[AsyncSide], sync_results: list[SyncSide]) -> list[Figure]:
    ours_bedrock, theirs_bedrock, ours_http, raw, floor = async_results
    figures = [
        Figure(
            f"{ours_bedrock.name}: wall({CALLS})/wall(1)",
            f"{ours_bedrock.ratio:.2f}x",
            f"<= {BEDROCK_TARGET:.2f}x",
            verdict(ours_bedrock.ratio <= BEDROCK_TARGET),
        ),
        Figure(f"{theirs_bedrock.name}: wall({CALLS})/wall(1)", f"{theirs_bedrock.ratio:.2f}x"),
        Figure(f"{floor.name}: wall({CALLS})/wall(1)", f"{floor.ratio:.2f}x"),
        Figure(
            f"{ours_http.name}: wall({CALLS})/wall(1)",
            f"{ours_http.ratio:.2f}x",
            f"<= {raw.ratio * HTTP_TOLERANCE:.2f}x",
            verdict(ours_http.ratio <= raw.ratio * HTTP_TOLERANCE),
        ),
        Figure(f"{raw.name}: wall({CALLS})/wall(1)", f"{raw.ratio:.2f}x"),
    ]
    http_stall, raw_stall = median(ours_http.stall), median(raw.stall)
    figures.append(
        Figure(
            f"loop stall, HTTPRerank / raw httpx ({milliseconds(http_stall)} / {milliseconds(raw_stall)})",
            f"{http_stall / raw_stall:.2f}x",
            f"<= {HTTP_STALL_TARGET:.2f}x",
            verdict(http_stall <= HTTP_STALL_TARGET * raw_stall),
        )
    )
    ours_stall, theirs_stall = median(ours_bedrock.stall), median(theirs_bedrock.stall)
    figures.append(
        Figure(
            "loop stall, Bedrock: multirerank / langchain-aws "
            f"({milliseconds(ours_stall)} / {milliseconds(theirs_stall)})",
            f"{ours_stall / theirs_stall:.2f}x",
            "<= 1.00x",
            verdict(ours_stall <= theirs_stall),
        )
    )
    for side in sync_results:
        label = f"{side.name}: wall({side.threads} threads)/wall({side.baseline_threads})"
        if side.baseline_threads == 1:
            figures.append(
                Figure(
                    label, f"{side.ratio:.2f}x", f"<= {SYNC_TARGET:.2f}x", verdict(side.ratio <= SYNC_TARGET)
                )
            )
        else:
            figures.append(Figure(label, f"{side.ratio:.2f}x"))
    return figures


def spread(values: Sequence[float]) -> str:
    """How far the slowest run was above the fastest: a run-to-run noise gauge."""
    return f"{(max(values) / min(values) - 1) * 100:.0f}%" if min(values) > 0 else "-"


def details(async_results: list[AsyncSide], sync_results: list[SyncSide]) -> None:
    rows = [
        (
            side.name,
            milliseconds(median(side.single)),
            milliseconds(median(side.many)),
            spread(side.many),
            f"{side.ratio:.2f}x",
            milliseconds(median(side.stall)),
            milliseconds(max(side.stall)),
            milliseconds(median(side.loop_cpu)),
            milliseconds(median(side.emulator_cpu)),
            str(side.discarded),
        )
        for side in async_results
    ]
    header = (
        "async side",
        "wall(1)",
        f"wall({CALLS})",
        "spread",
        "ratio",
        "stall",
        "worst stall",
        "loop CPU/call",
        f"emulator CPU in wall({CALLS})",
        "pool discards",
    )
    print_table(header, rows)
    print()
    sync_rows = [
        (
            side.name,
            f"{side.baseline_threads}",
            milliseconds(median(side.single)),
            f"{side.threads}",
            milliseconds(median(side.many)),
            spread(side.many),
            f"{side.ratio:.2f}x",
            milliseconds(median(side.client_cpu)),
            milliseconds(median(side.emulator_cpu)),
            str(side.discarded),
        )
        for side in sync_results
    ]
    print_table(
        (
            "sync side",
            "threads",
            "wall",
            "threads",
            "wall",
            "spread",
            "ratio",
            "client CPU",
            "emulator CPU",
            "pool discards",
        ),
        sync_rows,
    )
    print(
        "\nstall: median over the runs of each run's worst ticker lateness; spread: slowest run over "
        "fastest;\nloop CPU/call: the event-loop thread's CPU time in the 64-call run / 64; emulator CPU: "
        "its process's CPU time in that run (10 ms ticks);\nclient CPU: this process's CPU time (all threads) in the many-threads run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="two timed runs per figure")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the event-loop thread during 64 calls of each async side",
    )
    args = parser.parse_args()
    repeats = 2 if args.quick else max(1, args.repeats)
    isolate_environment()
    logging.getLogger("urllib3.connectionpool").addHandler(DISCARDED)
    logging.getLogger("urllib3.connectionpool").propagate = False
    started = time.perf_counter()
    with emulator_process(LATENCY) as emulator:
        async_results, profiles = asyncio.run(measure_async(emulator, repeats, args.profile))
        sync_results = measure_sync(emulator, repeats)
    print(
        f"issue 7, concurrency: emulator in its own process on 127.0.0.1, {LATENCY * 1e3:.0f} ms per "
        f"request; median of {repeats} timed run(s) after a warm-up "
        f"({repeats * HTTP_WEIGHT} for the HTTP sides)"
    )
    print()
    print_figures(report(async_results, sync_results))
    print()
    details(async_results, sync_results)
    if DISCARDED.count:
        print(
            f"\nurllib3 discarded {DISCARDED.count} connection(s) in all (warm-up included): a boto3 "
            "client had more requests in flight than max_pool_connections (10 by default)"
        )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if profiles:
        print()
        print(profiles)


if __name__ == "__main__":
    main()
