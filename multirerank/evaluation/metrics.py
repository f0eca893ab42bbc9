"""Ranking metrics, computed by ir-measures (which runs trec_eval's code through pytrec_eval).

ir-measures rather than ranx: it installs in under a megabyte beside numpy and scipy (which the
local model's libraries bring already) and answers its first call in a fraction of a second;
ranx brings numba and llvmlite (over 200 MB) and JIT-compiles its metrics on first use (about
30 s on this project's machines). Both gave the same figures on our fixture.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from multirerank.errors import ConfigurationError

#: Each reported metric's name and its ir-measures measure. Binary ones count grade >= 1 as
#: relevant (trec_eval's default); MAP is over the whole reranked list (``depth`` documents).
METRICS: dict[str, str] = {"nDCG@10": "nDCG@10", "MRR@10": "RR@10", "Recall@100": "R@100", "MAP": "AP"}


def rank_scores(order: Sequence[str]) -> dict[str, float]:
    """Scores that make trec_eval keep ``order`` exactly: ``len(order)`` down to 1.

    Rerankers' own scores may tie, and trec_eval breaks ties by document id, not by the order
    the reranker returned; ranks as scores leave nothing to break.
    """
    return {doc: float(len(order) - rank) for rank, doc in enumerate(order)}


def ir_measures() -> Any:
    """The ir_measures module; ConfigurationError naming the extra when it is not installed."""
    try:
        import ir_measures as library
    except ImportError:
        raise ConfigurationError("evaluation needs ir-measures: pip install 'multirerank[eval]'") from None
    return library


def measure(
    qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, Mapping[str, Sequence[str]]]
) -> dict[str, tuple[dict[str, float], dict[str, dict[str, float]]]]:
    """For each named run (``{query: doc ids best first}``): the mean of every metric in
    :data:`METRICS` and its value per query (``{metric: {query: value}}``).

    Queries are those of the run that have judgements (trec_eval's rule). Raises
    ConfigurationError when ir-measures is not installed.
    """
    library = ir_measures()
    by_name = {library.parse_measure(text): name for name, text in METRICS.items()}
    evaluator = library.evaluator(list(by_name), {q: dict(docs) for q, docs in qrels.items()})
    results: dict[str, tuple[dict[str, float], dict[str, dict[str, float]]]] = {}
    for run_name, run in runs.items():
        scored = {query: rank_scores(order) for query, order in run.items()}
        per_query: dict[str, dict[str, float]] = {name: {} for name in METRICS}
        for metric in evaluator.iter_calc(scored):
            per_query[by_name[metric.measure]][metric.query_id] = float(metric.value)
        means = _aggregate(evaluator, scored, by_name)
        results[run_name] = (means, per_query)
    return results


def _aggregate(
    evaluator: Any, scored: Mapping[str, Mapping[str, float]], by_name: Mapping[Any, str]
) -> dict[str, float]:
    aggregated = evaluator.calc_aggregate(scored)
    return {name: float(aggregated[measure]) for measure, name in by_name.items()}


def paired_p_values(
    model: Mapping[str, Mapping[str, float]], baseline: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Per metric, the two-sided p-value of a paired t-test over queries (scipy's ``ttest_rel``,
    the test TREC papers usually report) of ``model`` against ``baseline``, both
    ``{metric: {query: value}}``. 1.0 where every query scores the same (no difference to test)."""
    from scipy.stats import ttest_rel

    values: dict[str, float] = {}
    for metric in METRICS:
        queries = sorted(baseline[metric])
        ours = [model[metric][query] for query in queries]
        theirs = [baseline[metric][query] for query in queries]
        if ours == theirs or len(queries) < 2:
            values[metric] = 1.0
            continue
        p_value = float(ttest_rel(ours, theirs).pvalue)
        values[metric] = 1.0 if math.isnan(p_value) else p_value
    return values


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` (0..1) quantile of ``values`` by linear interpolation (numpy's default);
    None when there are none."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return float(cuts[round(share * 100) - 1])
