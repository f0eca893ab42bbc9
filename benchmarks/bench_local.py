"""How fast the local backend scores, and what the engine costs on top of a backend.

Run: .venv/bin/python benchmarks/bench_local.py [--documents 512] [--batch-size 32] [--repeats 3]

1. Length-bucketed batching (what the backend does) against batches taken in input order, on
   the packaged all-MiniLM-L6-v2 with the same documents: documents per second and their ratio.
2. Engine overhead: ``Reranker.rerank`` over an instant in-memory backend against calling the
   backend directly, as time per call.

Figures only, no pass/fail: they depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.backends.local import LocalBackend, length_batches
from multirerank.types import BatchResult, DocumentInput, Limits, document_text

WORDS = [
    "capital",
    "city",
    "state",
    "river",
    "mountain",
    "island",
    "government",
    "history",
    "population",
    "language",
    "museum",
    "bridge",
    "harbour",
    "railway",
    "election",
    "council",
    "university",
    "festival",
    "climate",
    "forest",
    "desert",
]
QUERY = "What is the capital city of the state?"

T = TypeVar("T")


def synthetic_documents(count: int, seed: int = 7) -> list[str]:
    """Texts of a few to a few hundred words, skewed short the way retrieved passages are."""
    chooser = random.Random(seed)
    return [
        " ".join(chooser.choices(WORDS, k=int(chooser.lognormvariate(3.5, 0.9)) + 3)) for _ in range(count)
    ]


def input_order_batches(count: int, batch_size: int) -> list[list[int]]:
    return [list(range(start, min(start + batch_size, count))) for start in range(0, count, batch_size)]


def best_time(function: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The fastest of ``repeats`` runs, and what the last run returned."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def bench_batching(documents: list[str], batch_size: int, repeats: int) -> None:
    backend = LocalBackend(batch_size=batch_size)
    backend.rerank_batch(QUERY, documents[:8], None)  # load and warm up outside the timings
    bucketed = length_batches(documents, batch_size)
    ordered = input_order_batches(len(documents), batch_size)

    sorted_time, sorted_scores = best_time(lambda: backend.score_batches(QUERY, documents, bucketed), repeats)
    ordered_time, ordered_scores = best_time(
        lambda: backend.score_batches(QUERY, documents, ordered), repeats
    )
    # Same scores per document either way, or the comparison would be meaningless.
    difference = max(
        abs(a[1] - b[1]) for a, b in zip(sorted(sorted_scores), sorted(ordered_scores), strict=True)
    )
    lengths = [len(text.split()) for text in documents]
    print(f"local backend, {backend.model}, {len(documents)} documents, batch_size {batch_size}")
    print(
        f"  words per document: min {min(lengths)}, median {statistics.median(lengths):.0f}, max {max(lengths)}"
    )
    print(f"  length-bucketed batches: {len(documents) / sorted_time:8.1f} documents/s ({sorted_time:.2f} s)")
    print(
        f"  input-order batches:     {len(documents) / ordered_time:8.1f} documents/s ({ordered_time:.2f} s)"
    )
    print(f"  speed-up: {ordered_time / sorted_time:.2f}x; largest score difference {difference:.1e}")
    backend.close()


class InstantBackend(Backend):
    """Scores by text length, with no I/O, so only the engine's own work is timed."""

    provider = "instant"
    model = "length"

    def __init__(self, max_documents: int | None = None) -> None:
        self.limits = Limits(max_documents=max_documents)

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        return BatchResult([(index, len(document_text(doc)) / 1000) for index, doc in enumerate(documents)])


def _rerank_repeatedly(reranker: Reranker, documents: list[str], calls: int) -> None:
    for _ in range(calls):
        reranker.rerank(QUERY, documents, 10)


def bench_engine(documents: list[str], calls: int) -> None:
    direct_backend = InstantBackend()
    direct, _ = best_time(
        lambda: [direct_backend.rerank_batch(QUERY, documents, None) for _ in range(calls)], 3
    )
    print(f"engine overhead, {len(documents)} documents, best of 3 x {calls} calls")
    print(f"  backend called directly:        {direct / calls * 1e6:9.1f} us/call")
    for label, max_documents in (("one request", None), ("split into 8 requests", len(documents) // 8)):
        with Reranker(InstantBackend(max_documents)) as reranker:
            engine, _ = best_time(functools.partial(_rerank_repeatedly, reranker, documents, calls), 3)
        overhead = (engine - direct) / calls * 1e6
        print(f"  Reranker, {label + ':':22} {engine / calls * 1e6:9.1f} us/call (+{overhead:.1f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    documents = synthetic_documents(args.documents)
    bench_batching(documents, args.batch_size, args.repeats)
    print()
    bench_engine(documents, args.calls)


if __name__ == "__main__":
    main()
