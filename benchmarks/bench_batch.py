"""Throughput of multirerank.batch against the wire emulator, as a share of the ideal.

Two figures of issue 13, each on queries x documents pairs (2,000 x 100 = 200,000 by default),
the emulator in a process of its own answering every request after ``--latency`` seconds (50 ms)
in Cohere's API (up to 1,000 documents per request, so one request per query):

- one process, no Ray, ``--concurrency`` requests in flight (8): ideal = concurrency / latency;
- Ray Data, ``--actors`` actors (4) each with ``--actor-concurrency`` in flight (4):
  ideal = actors x concurrency per actor / latency. Each request costs the client about 2 ms of
  CPU (mostly httpx) and the emulator about 1 ms, so 4 actors x 8 in flight at 50 ms (640
  requests/s) need about 1.9 CPUs for the clients and emulator alone: on 2 cores, 4 per actor.

Throughput is requests answered per second; the target is 80% of the ideal. Ray's figure is given
twice: over the scoring window (first batch started to last batch finished, read from the
actors' clocks) and end to end (actors' start-up included). CPU seconds of this process tree and
of the emulator are printed beside each figure: on a small machine the emulator's own CPU (one
GIL) can be what limits the figure, not the client.

    .venv/bin/python benchmarks/bench_batch.py                       # both figures, about a minute
    .venv/bin/python benchmarks/bench_batch.py --queries 500 --no-ray
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Figure, emulator_process, isolate_environment, print_figures, verdict

from multirerank.batch import BatchReranker, RerankBatch

MODEL = "cohere/rerank-v3.5"
WORDS = ["solar", "battery", "wind", "storage", "grid", "turbine", "panel", "hydrogen", "inverter", "roof"]


def pairs(queries: int, documents: int) -> Any:
    import pyarrow as pa

    query_column, text_column = [], []
    for number in range(queries):
        query = f"query {number}: {WORDS[number % len(WORDS)]} {WORDS[(number * 7) % len(WORDS)]}"
        for document in range(documents):
            query_column.append(query)
            text_column.append(f"note {document} on {WORDS[(number + document) % len(WORDS)]} and {number}")
    return pa.table({"query": query_column, "text": text_column})


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU of the machine so far, from /proc/stat ((0, 0) elsewhere)."""
    try:
        fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return float(sum(fields) - idle), float(sum(fields))


def busy_since(start: tuple[float, float]) -> str:
    """The machine's CPU use since ``start`` (every process, other users' too), as a share."""
    busy, total = machine_busy()
    if total <= start[1]:
        return "unknown"
    return f"{(busy - start[0]) / (total - start[1]):.0%} of {os.cpu_count()} CPUs"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Ray's workers are not children)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one_process(table: Any, url: str, args: argparse.Namespace, emulator: Any) -> list[Figure]:
    ideal = args.concurrency / args.latency
    options = {"base_url": f"{url}/cohere", "api_key": "bench-key"}
    with BatchReranker(MODEL, concurrency=args.concurrency, **options) as batch:
        batch.rerank_pairs(pairs(4, 10))  # connections and imports warmed
        before = batch.usage.requests
        cpu, emulator_cpu, started = cpu_seconds(), emulator.cpu_seconds(), time.perf_counter()
        machine = machine_busy()
        result = batch.rerank_pairs(table)
        machine_use = busy_since(machine)
        elapsed = time.perf_counter() - started
        requests = batch.usage.requests - before
        cpu, emulator_cpu = cpu_seconds() - cpu, (emulator.cpu_seconds() or 0.0) - (emulator_cpu or 0.0)
    assert result.num_rows == table.num_rows and result.column("score").null_count == 0
    rate = requests / elapsed
    return [
        Figure(
            f"one process, {args.concurrency} in flight: requests/s ({requests} requests, {elapsed:.1f} s)",
            f"{rate:.1f} ({rate / ideal:.1%} of {ideal:.0f})",
            ">= 80% of ideal",
            verdict(rate >= 0.8 * ideal),
        ),
        Figure("  pairs/s", f"{table.num_rows / elapsed:,.0f}"),
        Figure("  CPU s: client / emulator", f"{cpu:.1f} / {emulator_cpu:.1f}"),
        Figure("  machine CPU busy (all processes)", machine_use),
    ]


def raw_httpx(table: Any, url: str, args: argparse.Namespace) -> list[Figure]:
    """The same requests sent by httpx alone, ``--concurrency`` at a time: what the emulator and
    this machine allow with no multirerank code at all, the ceiling of the figure above."""
    import asyncio

    import httpx

    ideal = args.concurrency / args.latency
    queries = table.column("query").to_pylist()[:: args.documents]
    texts = table.column("text").to_pylist()
    bodies = [
        {
            "model": "rerank-v3.5",
            "query": query,
            "documents": texts[n * args.documents : (n + 1) * args.documents],
        }
        for n, query in enumerate(queries)
    ]

    async def send_all() -> float:
        pending = iter(bodies)
        headers = {"Authorization": "Bearer bench-key"}
        async with httpx.AsyncClient(base_url=f"{url}/cohere", headers=headers) as client:

            async def worker() -> None:
                for body in pending:
                    (await client.post("/v2/rerank", json=body)).raise_for_status()

            await client.post("/v2/rerank", json=bodies[0])
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            return time.perf_counter() - started

    elapsed = asyncio.run(send_all())
    rate = len(bodies) / elapsed
    return [
        Figure(
            f"  httpx alone, {args.concurrency} in flight, same requests (ceiling)",
            f"{rate:.1f} ({rate / ideal:.1%} of {ideal:.0f})",
        )
    ]


class TimedRerankBatch(RerankBatch):
    """RerankBatch that also writes when each batch started and finished (actor clock, epoch s)."""

    def __call__(self, batch: Any) -> Any:
        started = time.time()
        result = super().__call__(batch)
        finished = time.time()
        rows = result.num_rows
        result = result.append_column("_started", [[started] * rows])
        return result.append_column("_finished", [[finished] * rows])


def on_ray(table: Any, url: str, args: argparse.Namespace, emulator: Any) -> list[Figure]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import ray
    import ray.data

    ideal = args.actors * args.actor_concurrency / args.latency
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="error")
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    requests = table.num_rows // args.documents
    emulator_cpu, started, machine = emulator.cpu_seconds(), time.perf_counter(), machine_busy()
    rows = args.documents * args.queries_per_batch
    # One block per batch, so that every actor has work from the start.
    blocks = [table.slice(start, rows) for start in range(0, table.num_rows, rows)]
    dataset = ray.data.from_arrow(blocks).map_batches(
        TimedRerankBatch,
        fn_constructor_kwargs={
            "model": MODEL,
            "concurrency": args.actor_concurrency,
            "base_url": f"{url}/cohere",
            "api_key": "bench-key",
        },
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        num_cpus=args.ray_cpus / (args.actors + 1),
        batch_size=rows,
        batch_format="pyarrow",
    )
    result = pa.concat_tables(ray.get(dataset.to_arrow_refs()))
    elapsed = time.perf_counter() - started
    machine_use = busy_since(machine)
    emulator_cpu = (emulator.cpu_seconds() or 0.0) - (emulator_cpu or 0.0)
    ray.shutdown()
    assert result.num_rows == table.num_rows and result.column("score").null_count == 0
    assert result.column("text").equals(table.column("text"))  # rows in input order
    window = pc.max(result.column("_finished")).as_py() - pc.min(result.column("_started")).as_py()
    rate, end_to_end = requests / window, requests / elapsed
    return [
        Figure(
            f"Ray, {args.actors} actors x {args.actor_concurrency} in flight: requests/s over the scoring window ({window:.1f} s)",
            f"{rate:.1f} ({rate / ideal:.1%} of {ideal:.0f})",
            ">= 80% of ideal",
            verdict(rate >= 0.8 * ideal),
        ),
        Figure(
            f"  end to end, actor start-up included ({elapsed:.1f} s)",
            f"{end_to_end:.1f} ({end_to_end / ideal:.1%} of {ideal:.0f})",
        ),
        Figure("  CPU s: emulator", f"{emulator_cpu:.1f}"),
        Figure("  machine CPU busy, end to end (all processes)", machine_use),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--documents", type=int, default=100, help="documents per query")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in the one process")
    parser.add_argument(
        "--actor-concurrency",
        type=int,
        default=4,
        help="requests in flight per Ray actor (default 4: at 8, four actors' clients and the emulator "
        "need more CPU than 2 cores have)",
    )
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument(
        "--queries-per-batch",
        type=int,
        default=250,
        help="Ray batch size, in queries (default 250: 2 batches per actor; each batch ends with its last requests alone in flight)",
    )
    parser.add_argument("--ray-cpus", type=float, default=float(os.cpu_count() or 2))
    parser.add_argument("--ray", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--local", action=argparse.BooleanOptionalAction, default=True, help="the one-process figure"
    )
    args = parser.parse_args()
    isolate_environment()
    table = pairs(args.queries, args.documents)
    print(
        f"{args.queries} queries x {args.documents} documents = {table.num_rows:,} pairs; "
        f"{args.latency * 1000:.0f} ms per request; {os.cpu_count()} CPUs"
    )
    figures: list[Figure] = []
    with emulator_process(args.latency) as emulator:
        if args.local:
            figures += one_process(table, emulator.url, args, emulator)
            figures += raw_httpx(table, emulator.url, args)
        if args.ray:
            figures += on_ray(table, emulator.url, args, emulator)
    print_figures(figures)


if __name__ == "__main__":
    main()
