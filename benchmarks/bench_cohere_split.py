"""Cohere: one request of up to 10,000 documents, or several smaller ones sent concurrently?

The last row of each list is the default (no ``max_documents_per_request``): 1,000 documents a
request, or, when a list needs more requests than the call has slots, one larger request per slot.

Cohere's rerank API takes up to 10,000 documents per request and advises 1,000. This script
measures, for lists of 1,000, 2,500 and 10,000 documents, the wall time of
``Reranker("cohere/rerank-v3.5").rerank`` with requests of at most 10,000, 5,000, 2,500, 1,000
and 500 documents (``max_documents_per_request``) at the default concurrency (4), through the
real HTTP client against the wire emulator in a process of its own, and prints the requests,
search units and time of each, with the speed-up over sending the list in one request.

The emulator stands in for Cohere's servers with a server time per request of ``fixed`` seconds
plus ``per_document`` seconds per document, slept in the request's server thread (requests in
flight are served in parallel, as by a fleet). The defaults come from the one published latency
table found for a Cohere reranker by document count: Oracle's benchmark of Cohere Rerank 3.5 on
one dedicated OCI unit (docs.oracle.com, "Cohere Rerank 3.5" benchmarks, 64-token documents,
read 2026-11-30): 0.11 s for 2 to 8 documents, 0.17 s for 96, i.e. about 0.11 s plus 0.68 ms a
document. Cohere's hosted latency is not published; change the model with ``--fixed`` and
``--per-document``. What is measured for real: the client's work (JSON bodies of up to 10,000
texts, the engine's split and merge) and the overlap of concurrent requests.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_cohere_split.py   # about 1 min; --quick: 1 run each
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import isolate_environment, median, print_table, server_process

from multirerank import Reranker
from tests.cost_support import QUERY, texts

#: The emulator with Cohere's server time modelled in its scorer (which runs once per request).
_EMULATOR_MAIN = """
import http.server, os, sys, time
http.server.ThreadingHTTPServer.request_queue_size = max(
    http.server.ThreadingHTTPServer.request_queue_size, 1024
)
from multirerank.testing import Emulator
from multirerank.testing.server import lexical_scorer
fixed, per_document = float(sys.argv[3]), float(sys.argv[4])
def scorer(query, texts):
    time.sleep(fixed + per_document * len(texts))
    return lexical_scorer(query, texts)
Emulator(sys.argv[1], int(sys.argv[2]), scorer=scorer, record=0).start()
sys.stdin.read()
os._exit(0)
"""

LISTS = (1000, 2500, 10_000)
SIZES = (10_000, 5000, 2500, 1000, 500)
#: The request-size key of the default: no ``max_documents_per_request``, so 1,000 a request
#: until a list needs more requests than slots, then one request per slot (up to 10,000).
DEFAULT = 0


@contextlib.contextmanager
def cohere_emulator(fixed: float, per_document: float) -> Iterator[str]:
    with server_process(_EMULATOR_MAIN, repr(fixed), repr(per_document)) as served:
        yield served.url


def measure(url: str, repeats: int, concurrency: int | None) -> dict[tuple[int, int], tuple[float, int, int]]:
    """(list length, request size) -> (median wall seconds, requests, search units)."""
    cells: dict[tuple[int, int], tuple[float, int, int]] = {}
    for total in LISTS:
        documents = texts(total)
        # The whole list in one request first: the row the others are compared with.
        for size in (total, *(size for size in SIZES if size < total), DEFAULT):
            sized = {"max_documents_per_request": size} if size != DEFAULT else {}
            with Reranker(
                "cohere/rerank-v3.5", api_key="k", base_url=url, max_concurrency=concurrency, **sized
            ) as reranker:
                reranker.rerank(QUERY, documents[:10], top_n=1)  # connect, warm up
                timings = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    usage = reranker.rerank(QUERY, documents, top_n=10).usage
                    timings.append(time.perf_counter() - started)
            assert usage is not None and usage.search_units is not None
            cells[total, size] = (median(timings), usage.requests, usage.search_units)
    return cells


def regret(cells: dict[tuple[int, int], tuple[float, int, int]], default: int) -> float:
    """The worst, over the lists, of the time with requests of at most ``default`` documents
    against the fastest request size measured for that list."""
    worst = 0.0
    for total in LISTS:
        best = min(wall for (length, _), (wall, _, _) in cells.items() if length == total)
        worst = max(worst, cells[total, default if default == DEFAULT else min(default, total)][0] / best)
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed", type=float, default=0.11, help="server seconds per request")
    parser.add_argument(
        "--per-document",
        type=float,
        action="append",
        help="server seconds per document (repeatable; default: 0.00068 and a 7x faster 0.0001)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="max_concurrency (default: the backend's)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one timed run per cell")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    models = args.per_document or [0.00068, 0.0001]
    isolate_environment()
    results = {}
    for per_document in models:
        with cohere_emulator(args.fixed, per_document) as url:
            cells = measure(url, repeats, args.concurrency)
        results[per_document] = cells
        print(
            f"\nCohere rerank-v3.5 on the emulator: server time {args.fixed:g} s + "
            f"{per_document * 1000:g} ms per document per request; max_concurrency "
            f"{args.concurrency or 'default (4)'}; median of {repeats}"
        )
        rows = []
        for (total, size), (wall, requests, units) in cells.items():
            single = cells[total, total][0]
            rows.append(
                [
                    f"{total:,}",
                    f"{size:,}" if size != DEFAULT else "default",
                    str(requests),
                    str(units),
                    f"{wall:.3f} s",
                    f"{single / wall:.2f}x",
                ]
            )
        print_table(["documents", "per request", "requests", "search units", "wall", "vs one request"], rows)
    print("\nA fixed default request size: its worst slowdown against the fastest size measured per list")
    rows = []
    worst_of: dict[int, float] = {}
    for size in SIZES:
        regrets = [regret(cells, size) for cells in results.values()]
        worst_of[size] = max(regrets)
        requests = results[models[0]][LISTS[-1], size][1]
        rows.append(
            [f"{size:,}", *(f"{value:.2f}x" for value in regrets), f"{worst_of[size]:.2f}x", str(requests)]
        )
    header = [
        "default size",
        *(f"at {value * 1000:g} ms/doc" for value in models),
        "worst",
        "requests for 10,000",
    ]
    print_table(header, rows)
    chosen = min(SIZES, key=lambda size: (worst_of[size], -size))
    print(f"least worst slowdown of a fixed size: {chosen:,} documents per request")
    default_regrets = [regret(cells, DEFAULT) for cells in results.values()]
    print(
        "the default (1,000 a request, or one request per slot when a list needs more requests than "
        f"slots): worst slowdown {max(default_regrets):.2f}x "
        f"({', '.join(f'{value:.2f}x' for value in default_regrets)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
