"""What reranking costs: per vendor on the wire emulator, 2,500 documents in one call, the usage
the response reports (requests, documents, the vendor's billing count) and its ``cost_usd``
beside the cost computed by hand from the requests the emulator received, the price table and
the vendor's billing unit (Cohere's search units of up to 100 documents, Bedrock's per-query
billing, the token vendors' tokens). PASS when the two agree (both ``None`` for an unknown
price). Vendors the table has no price for are also run with a ``prices=`` override, so their
counts are still checked in dollars.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_cost.py [--documents 2500]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import isolate_environment, print_table, verdict

from multirerank import Reranker
from multirerank.testing import Emulator
from tests.cost_support import CASES, QUERY, WATSONX_ENV, texts


def _dollars(value: float | None) -> str:
    return "None" if value is None else f"${value:.6f}"


def _agree(reported: float | None, by_hand: float | None) -> bool:
    if reported is None or by_hand is None:
        return reported is by_hand
    return math.isclose(reported, by_hand, rel_tol=1e-12, abs_tol=1e-15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2500)
    parser.add_argument("--no-local", action="store_true", help="leave out the local model's row")
    args = parser.parse_args()
    isolate_environment()
    for name in WATSONX_ENV:
        os.environ.pop(name, None)
    documents = texts(args.documents)
    rows: list[list[str]] = []
    passed = True
    with Emulator() as plain, Emulator(tls=True) as secure:
        for case in CASES:
            emulator = secure if case.tls else plain
            emulator.clear()
            with case.reranker(emulator) as reranker:
                usage = reranker.rerank(QUERY, documents, top_n=10).usage
                count, by_hand = case.by_hand(reranker, emulator)
                price = reranker.price
            assert usage is not None
            counted = case.unit in ("search units", "queries", "rerank units")
            reported = usage.search_units if counted else usage.total_tokens
            ok = (
                _agree(usage.cost_usd, by_hand)
                and reported == count
                and usage.requests == len(case.requests(emulator))
                and usage.documents == len(documents)
            )
            passed = passed and ok
            rows.append(
                [
                    case.name,
                    str(usage.documents),
                    str(usage.requests),
                    f"{reported if reported is not None else '-'} {case.unit}",
                    "unknown" if price is None or price.usd is None else f"${price.usd:g} per {price.per}",
                    _dollars(usage.cost_usd),
                    _dollars(by_hand),
                    verdict(ok),
                ]
            )
    if not args.no_local:
        with Reranker("local") as reranker:
            usage = reranker.rerank(QUERY, documents, top_n=10).usage
        assert usage is not None
        ok = usage.cost_usd == 0.0 and usage.documents == len(documents)
        passed = passed and ok
        rows.append(
            [
                "local",
                str(usage.documents),
                str(usage.requests),
                "- (no vendor)",
                "free",
                _dollars(usage.cost_usd),
                _dollars(0.0),
                verdict(ok),
            ]
        )
    print(f"One call of {len(documents)} documents per vendor on the emulator; query {QUERY!r}.")
    print_table(
        ("vendor", "documents", "requests", "billed", "list price", "cost_usd", "by hand", "result"), rows
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
