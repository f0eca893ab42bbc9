"""What an evaluation found: one row per model (the retrieval order first), as a table, JSON or a chart."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multirerank.errors import ConfigurationError
from multirerank.evaluation.metrics import METRICS

#: The baseline row's name: the run's own order, reranked by nothing.
BASELINE = "retrieval"


@dataclass(frozen=True)
class QueryFailure:
    """A query whose rerank call failed: the error's type and message (secrets already masked)."""

    query_id: str
    error: str
    message: str


@dataclass(frozen=True)
class ModelScores:
    """One row: a model's (or the retrieval order's) figures over the evaluated queries.

    ``metrics``: the mean of each metric of :data:`~multirerank.evaluation.metrics.METRICS`
    (``{"nDCG@10": 0.71, ...}``); ``per_query``: ``{metric: {query_id: value}}``.
    ``latency_p50`` / ``latency_p95``: seconds per query's rerank call, wall clock, retries
    included (None for the baseline), over every call but the first; ``latency_first``: the first
    query's call, alone, which pays once for loading a model or opening connections. ``requests``, ``documents``: summed over the calls, failed
    ones' billed requests included; ``cost_usd``: likewise, None when any part's price is unknown.
    ``failures``: queries whose call failed; they were measured in the retrieval order.
    ``p_values``: per metric, the two-sided p-value of a paired t-test over queries against the
    retrieval order (None for the retrieval row): how likely a difference this large is by chance.
    """

    name: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(repr=False)
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_first: float | None = None
    requests: int | None = None
    documents: int | None = None
    cost_usd: float | None = None
    failures: list[QueryFailure] = field(default_factory=list)
    p_values: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": self.metrics,
            "latency_p50_seconds": self.latency_p50,
            "latency_p95_seconds": self.latency_p95,
            "latency_first_seconds": self.latency_first,
            "requests": self.requests,
            "documents": self.documents,
            "cost_usd": self.cost_usd,
            "failed_queries": len(self.failures),
            "failures": [vars(failure) for failure in self.failures],
            "p_values_vs_retrieval": self.p_values,
            "per_query": self.per_query,
        }


@dataclass(frozen=True)
class EvaluationReport:
    """Every row (``rows[0]`` is the retrieval order), and what was measured.

    ``queries``: how many queries were reranked and measured (those of the run with judgements);
    ``unjudged``: run queries without judgements (skipped); ``missing``: judged queries absent
    from the run (not measured, as trec_eval does); ``rankings``: each row's order per query,
    ``{name: {query_id: [doc ids, best first]}}``.
    """

    rows: list[ModelScores]
    depth: int
    queries: int
    unjudged: int = 0
    missing: int = 0
    rankings: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> ModelScores:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no row named {name!r}; rows: {[row.name for row in self.rows]}")

    @property
    def failed(self) -> int:
        """Failed query calls over every model."""
        return sum(len(row.failures) for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``multirerank evaluate --json`` prints)."""
        return {
            "depth": self.depth,
            "queries": self.queries,
            "unjudged_queries": self.unjudged,
            "missing_queries": self.missing,
            "metrics": list(METRICS),
            "rows": [row.as_dict() for row in self.rows],
        }

    def table(self) -> str:
        """The rows as aligned text columns; unknown figures show as ``n/a``, the baseline's as ``-``."""
        header = [
            "model",
            *METRICS,
            "p50 ms",
            "p95 ms",
            "requests",
            "cost USD",
            "failed",
            "p nDCG@10",
        ]
        lines = [header]
        for row in self.rows:
            baseline = row.name == BASELINE
            lines.append(
                [
                    row.name,
                    *(f"{row.metrics[name]:.4f}" for name in METRICS),
                    "-" if baseline else _milliseconds(row.latency_p50),
                    "-" if baseline else _milliseconds(row.latency_p95),
                    "-" if baseline else str(row.requests),
                    "-" if baseline else ("n/a" if row.cost_usd is None else f"{row.cost_usd:.6f}"),
                    "-" if baseline else str(len(row.failures)),
                    "-" if row.p_values is None else f"{row.p_values['nDCG@10']:.3g}",
                ]
            )
        widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
        text = [
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        ]
        notes = (
            f"{_count(self.queries, 'query', 'queries')}, top {self.depth} candidates each; "
            "p: paired t-test against the retrieval order"
        )
        if self.missing:
            notes += (
                f"; {_count(self.missing, 'judged query', 'judged queries')} not in the run (not measured)"
            )
        if self.unjudged:
            notes += f"; {_count(self.unjudged, 'run query', 'run queries')} without judgements (skipped)"
        if self.failed:
            notes += "; failed queries were measured in the retrieval order"
        return "\n".join([*text, notes])

    def write_runs(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Each row's ranking as a TREC run file in ``folder`` (made if missing), named after the
        row (characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``), for
        trec_eval or any other tool; scores are ranks (``depth`` down to 1). Returns the paths."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for row in self.rows:
            tag = re.sub(r"[^A-Za-z0-9._-]", "_", row.name)
            # Two names may clean up alike ("a/b", "a_b"): the later one gets a number.
            tag = next(
                name
                for name in (tag, *(f"{tag}_{n}" for n in range(2, len(self.rows) + 2)))
                if target / f"{name}.trec" not in written
            )
            path = target / f"{tag}.trec"
            with open(path, "w", encoding="utf-8", newline="\n") as stream:
                for query, docs in self.rankings[row.name].items():
                    stream.writelines(
                        f"{query} Q0 {doc} {rank} {len(docs) - rank + 1} {tag}\n"
                        for rank, doc in enumerate(docs, start=1)
                    )
            written.append(path)
        return written

    def chart(self, path: str | os.PathLike[str]) -> None:
        """A PNG comparing the rows: each metric's bars side by side, and each model's p50/p95 latency.

        Needs matplotlib (``pip install 'multirerank[eval]'``; ConfigurationError otherwise);
        draws with its Agg backend, so no display is needed. The file's folder is made if
        missing; OSError when the file cannot be written.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ConfigurationError("the chart needs matplotlib: pip install 'multirerank[eval]'") from None
        names = list(METRICS)
        figure, (quality, latency) = plt.subplots(
            1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]}
        )
        width = 0.8 / len(self.rows)
        for number, row in enumerate(self.rows):
            positions = [index + (number - (len(self.rows) - 1) / 2) * width for index in range(len(names))]
            bars = quality.bar(positions, [row.metrics[name] for name in names], width, label=row.name)
            quality.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        quality.set_xticks(range(len(names)), names)
        quality.set_ylim(0, 1.2)
        quality.set_title(
            f"Quality over {_count(self.queries, 'query', 'queries')} (top {self.depth} reranked)"
        )
        quality.legend(fontsize=8, loc="upper left", ncol=min(len(self.rows), 4))
        timed = [row for row in self.rows if row.latency_p50 is not None]
        labels = [row.name for row in timed]
        p50 = [1000 * (row.latency_p50 or 0.0) for row in timed]
        p95 = [1000 * (row.latency_p95 or 0.0) for row in timed]
        places = list(range(len(timed)))
        for offset, values, label in ((-0.2, p50, "p50"), (0.2, p95, "p95")):
            bars = latency.barh([place + offset for place in places], values, 0.4, label=label)
            latency.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        latency.set_yticks(places, labels, fontsize=8)
        latency.invert_yaxis()
        # Local models and remote APIs differ by orders of magnitude: a log axis shows both.
        if p50 and min(p50) > 0 and max(p95) > 20 * min(p50):
            latency.set_xscale("log")
        latency.set_xlabel("milliseconds per query")
        latency.set_title("Latency per query call")
        latency.legend(fontsize=8)
        figure.tight_layout()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(os.fspath(path), format="png", dpi=110)
        finally:
            plt.close(figure)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _milliseconds(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{1000 * seconds:.1f}"
