"""What the score cache saves: requests not sent, and what a call answered from it costs.

Run: .venv/bin/python benchmarks/bench_cache.py [--repeats N]

Against the wire emulator on 127.0.0.1 through the real httpx client (HTTP backend, TEI format:
32 documents per request, so 1,000 documents are 32 requests), with ``cache=True``:

1. Requests a repeated 1,000-document call sends (the emulator counts them): expected 0.
2. Documents sent by a call whose 1,000 documents overlap a cached call by half: expected 500.
3. A full in-memory hit per 1,000 documents: the same cached call over an in-memory backend that
   scores instantly, median of ``--repeats`` calls, against the same call without a cache (the
   engine alone, the baseline measured in this run); and the cache's own share (key hashing,
   lookup, merge), the difference between the two.

Figures only, no pass/fail: times depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.cache import InMemoryScoreCache
from multirerank.testing import Emulator
from multirerank.types import BatchResult, DocumentInput, Limits

QUERY = "solar battery storage on the grid"
WORDS = ["solar", "battery", "wind", "storage", "grid", "turbine", "panel", "hydrogen", "inverter", "meter"]


def documents(count: int, start: int = 0) -> list[str]:
    return [
        f"note {number}: " + " ".join(WORDS[(number * 7 + step) % len(WORDS)] for step in range(12))
        for number in range(start, start + count)
    ]


class InstantBackend(Backend):
    """Scores every document 0.5 at once: what is left to time is the engine (and the cache)."""

    provider = "instant"
    model = "flat"
    limits = Limits(max_documents=1000)

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        return BatchResult([(index, 0.5) for index in range(len(documents))])


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up (and, for the cached side, the call that fills the cache)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per figure of case 3")
    args = parser.parse_args()

    thousand, fresh = documents(1000), documents(500, start=1000)
    rows: list[tuple[str, str, str]] = []
    with Emulator() as emulator, Reranker("tei", base_url=emulator.url + "/tei", cache=True) as reranker:
        first = reranker.rerank(QUERY, thousand, top_n=10)
        sent_first = len(emulator.requests)
        again = reranker.rerank(QUERY, thousand, top_n=10)
        sent_again = len(emulator.requests) - sent_first
        rows.append(("1. 1,000 documents, first call: requests", str(sent_first), "(cache empty)"))
        rows.append(
            (
                "1. the same call repeated: requests",
                str(sent_again),
                f"usage: {again.usage.cache_hits if again.usage else '?'} hits; results equal: {again.results == first.results}",
            )
        )
        before = len(emulator.requests)
        half = reranker.rerank(QUERY, thousand[500:] + fresh, top_n=10)
        new_requests = emulator.requests[before:]
        sent = sum(len(request.json()["texts"]) for request in new_requests)
        hits = half.usage.cache_hits if half.usage else "?"
        rows.append(
            (
                "2. 1,000 documents, half cached: documents sent",
                str(sent),
                f"in {len(new_requests)} requests; usage: {hits} hits",
            )
        )

    plain = Reranker(InstantBackend())
    cached = Reranker(InstantBackend(), cache=InMemoryScoreCache())
    baseline = median_ms(lambda: plain.rerank(QUERY, thousand, top_n=10), args.repeats)
    hit = median_ms(lambda: cached.rerank(QUERY, thousand, top_n=10), args.repeats)
    rows.append(("3. full in-memory hit, 1,000 documents: ms per call", f"{hit:.3f}", "median"))
    rows.append(("3. same call, no cache, instant backend: ms per call", f"{baseline:.3f}", "baseline"))
    rows.append(
        (
            "3. the cache's own cost per 1,000 documents: ms",
            f"{hit - baseline:.3f}",
            f"ratio hit/baseline {hit / baseline:.2f}",
        )
    )

    width = max(len(row[0]) for row in rows)
    for label, figure, note in rows:
        print(f"{label:<{width}}  {figure:>8}  {note}")


if __name__ == "__main__":
    main()
