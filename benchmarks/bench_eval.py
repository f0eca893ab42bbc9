"""Evaluation metrics against pytrec_eval: ``multirerank.evaluate`` on the shipped ``household`` set
(30 queries, 100 BM25 candidates each) with the local model and two vendors on the wire emulator,
then every row's nDCG@10, MRR@10, Recall@100 and MAP recomputed by pytrec_eval (trec_eval's own
code) from the rankings the report holds, per query and averaged. Prints the largest absolute
difference per metric; PASS when every one is at most 1e-9. Also prints the report's table and
how long ir-measures took to import and answer its first call.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_eval.py [--no-local] [--depth 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytrec_eval

from multirerank import evaluate
from multirerank.evaluation import METRICS, dataset_files
from multirerank.evaluation.data import read_qrels
from multirerank.testing import Emulator

TOLERANCE = 1e-9
#: pytrec_eval's name for each metric's value, and the cut applied to the list first (trec_eval
#: has no cut for recip_rank).
PYTREC = {
    "nDCG@10": ("ndcg_cut_10", None),
    "MRR@10": ("recip_rank", 10),
    "Recall@100": ("recall_100", None),
    "MAP": ("map", None),
}
MEASURES = {"ndcg_cut.10", "recip_rank", "recall.100", "map"}


def pytrec_figures(
    qrels: dict[str, dict[str, int]], ranking: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """``{metric: {query: value}}`` by pytrec_eval, scores being ranks so its order is the given one."""
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, MEASURES)
    figures: dict[str, dict[str, float]] = {}
    for metric, (key, cut) in PYTREC.items():
        run = {
            query: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs[:cut])}
            for query, docs in ranking.items()
        }
        figures[metric] = {query: values[key] for query, values in evaluator.evaluate(run).items()}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-local", action="store_true", help="leave the local model out (faster)")
    parser.add_argument("--depth", type=int, default=100, help="candidates reranked per query (default: 100)")
    args = parser.parse_args()

    started = time.perf_counter()
    import ir_measures

    imported = time.perf_counter()
    ir_measures.calc_aggregate([ir_measures.nDCG @ 10], {"q": {"d": 1}}, {"q": {"d": 1.0}})
    answered = time.perf_counter()

    qrels = read_qrels(dataset_files("household").qrels)
    with Emulator() as emulator:
        models: list[object] = [] if args.no_local else ["local"]
        models += [
            {"model": "cohere/rerank-v3.5", "base_url": f"{emulator.url}/cohere", "api_key": "key"},
            {"model": "tei", "base_url": f"{emulator.url}/tei"},
        ]
        report = evaluate(models, dataset="household", depth=args.depth)  # type: ignore[arg-type]

    print(report.table())
    print()
    worst = dict.fromkeys(METRICS, 0.0)
    for row in report.rows:
        expected = pytrec_figures(qrels, report.rankings[row.name])
        for metric in METRICS:
            if set(expected[metric]) != set(row.per_query[metric]):
                print(f"FAIL: {row.name} {metric}: queries differ from pytrec_eval's")
                return 1
            per_query = max(abs(row.per_query[metric][q] - value) for q, value in expected[metric].items())
            mean = sum(expected[metric].values()) / len(expected[metric])
            worst[metric] = max(worst[metric], per_query, abs(row.metrics[metric] - mean))
    print(
        f"max |ours - pytrec_eval| over {len(report.rows)} rows x {report.queries} queries (per query and mean):"
    )
    for metric, difference in worst.items():
        print(f"  {metric:<11} {difference:.3e}")
    largest = max(worst.values())
    print(f"ir-measures: import {imported - started:.2f} s, first call {answered - imported:.3f} s")
    verdict = "PASS" if largest <= TOLERANCE else "FAIL"
    print(f"{verdict}: largest difference {largest:.3e} (limit {TOLERANCE:.0e})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
