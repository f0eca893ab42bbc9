"""Comparing rerankers on labelled queries: ``multirerank.evaluate`` and ``multirerank evaluate``.

Each judged query's top candidates from a TREC run are reranked by every model and measured
with ir-measures (nDCG@10, MRR@10, Recall@100, MAP), beside the run's own order and each model's
latency, requests and cost. ir-measures and matplotlib (the chart) come with the ``eval`` extra
and are imported only when used.
"""

from multirerank.evaluation.data import SHIPPED, dataset_files
from multirerank.evaluation.metrics import METRICS
from multirerank.evaluation.report import BASELINE, EvaluationReport, ModelScores, QueryFailure
from multirerank.evaluation.runner import ModelSpec, evaluate

__all__ = [
    "BASELINE",
    "METRICS",
    "SHIPPED",
    "EvaluationReport",
    "ModelScores",
    "ModelSpec",
    "QueryFailure",
    "dataset_files",
    "evaluate",
]
