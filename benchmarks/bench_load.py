"""Issue 8, load: 50 concurrent queries of 1,000 documents while the vendor throttles at random.

Run: .venv/bin/python benchmarks/bench_load.py [--queries 50] [--documents 1000] [--rate 0.05]

Against the wire emulator in a separate process (``harness.emulator_process``), through the HTTP
backend in two formats: Cohere (all 1,000 documents in one request per query) and TEI (32 per
request: 32 requests per query, 4 in flight per query). Each format runs:

1. without faults: every query at once, sync (a thread per query, one shared ``Reranker``) and
   async (``asyncio.gather`` of ``arerank``); the sync run's rankings are the reference, and
   the async run must match them;
2. against a second emulator answering a random ``--rate`` of requests (5%, seeded) with 429
   and ``Retry-After: 1``: the same two runs, with the engine's default retry settings.

It prints, per format and mode, the failed queries (must be 0), the queries ranked otherwise
than without faults (must be 0), and the wall times with and without faults. The wall times are
figures for reading, not targets; the script exits 1 when a query failed or ranked wrongly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import (
    COHERE_MODEL,
    emulator_process,
    isolate_environment,
    print_table,
    synthetic_texts,
    verdict,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from multirerank import Reranker
from tests.load_support import MODES, LoadResult, judge, make_queries, ranking, run

FORMATS = ("cohere", "tei")
SEED = 8
RETRY_AFTER = "1"


def reranker(api_format: str, url: str) -> Reranker:
    if api_format == "cohere":
        return Reranker(f"cohere/{COHERE_MODEL}", base_url=f"{url}/cohere", api_key="bench-key")
    return Reranker("tei", base_url=f"{url}/tei")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.05, help="share of requests answered 429")
    args = parser.parse_args()
    isolate_environment()
    texts = synthetic_texts(args.documents)
    queries = make_queries(args.queries)
    fault = {
        "status": 429,
        "headers": {"Retry-After": RETRY_AFTER},
        "times": None,
        "rate": args.rate,
        "seed": SEED,
    }

    references: dict[str, list[list[int] | None]] = {}
    clean: dict[tuple[str, str], LoadResult] = {}
    with emulator_process(0.0) as emulator:
        for api_format in FORMATS:
            with reranker(api_format, emulator.url) as ranks:
                for mode in MODES:
                    outcomes, wall = run(ranks, mode, queries, texts)
                    if mode == "sync":
                        references[api_format] = [ranking(outcome) for outcome in outcomes]
                    clean[api_format, mode] = judge(api_format, outcomes, references[api_format], wall)
    faulty: dict[tuple[str, str], LoadResult] = {}
    with emulator_process(0.0, faults=[fault]) as emulator:
        for api_format in FORMATS:
            with reranker(api_format, emulator.url) as ranks:
                for mode in MODES:
                    outcomes, wall = run(ranks, mode, queries, texts)
                    faulty[api_format, mode] = judge(api_format, outcomes, references[api_format], wall)

    print(
        f"{args.queries} concurrent queries x {args.documents} documents; faults: "
        f"{args.rate:.0%} of requests answered 429 with Retry-After: {RETRY_AFTER} (seed {SEED})"
    )
    print()
    rows = []
    for api_format in FORMATS:
        for mode in MODES:
            without, under = clean[api_format, mode], faulty[api_format, mode]
            failed = without.failed + under.failed
            wrong = without.wrong + under.wrong
            rows.append(
                (
                    f"{api_format} {mode}",
                    str(failed),
                    str(wrong),
                    f"{without.wall:.2f} s",
                    f"{under.wall:.2f} s",
                    verdict(failed == 0 and wrong == 0),
                )
            )
    print_table(
        ("format, mode", "failed", "wrong orders", "wall, no faults", "wall, with 429s", "result"), rows
    )
    problems = [problem for result in [*clean.values(), *faulty.values()] for problem in result.problems]
    for problem in problems[:20]:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
