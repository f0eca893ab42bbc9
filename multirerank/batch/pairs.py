"""Tables turned into rerank calls and back: pairs (one row per query-document pair) and groups
(one row per query with its candidates).

Every row is checked before anything is sent: a blank or missing query or text is an error of
that row alone (raised as :class:`RerankInputError` naming the row, or written to its ``error``
column). Output rows are the input rows, in order, one each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from multirerank.batch.runner import Job, OnError, Outcome, error_text
from multirerank.batch.tables import Table
from multirerank.errors import ConfigurationError, RerankInputError
from multirerank.types import DocumentInput

#: The columns every result gets.
RESULT_COLUMNS = ("score_scale", "provider", "model")

Progress = Callable[[int], None]


@dataclass
class Prepared:
    """Jobs made from a table, and how to write their outcomes back as a table."""

    jobs: list[Job]
    on_error: OnError
    progress: Progress | None
    finish: Callable[[list[Outcome]], Any]


def _check_on_error(on_error: object) -> OnError:
    if on_error not in ("raise", "column"):
        raise ConfigurationError(f"on_error must be 'raise' or 'column', got {on_error!r}")
    return on_error


def _row_name(row: int, ids: Sequence[Any] | None) -> str:
    return f"row {row}" if ids is None or ids[row] is None else f"row {row} (id {ids[row]!r})"


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def pairs_jobs(
    table: Any,
    *,
    query_column: str = "query",
    text_column: str = "text",
    id_column: str | None = None,
    on_error: OnError = "raise",
    progress: Progress | None = None,
) -> Prepared:
    """One job per distinct query (in order of first appearance) holding its rows' texts."""
    on_error = _check_on_error(on_error)
    source = Table(table)
    queries = source.column(query_column, "query_column")
    texts = source.column(text_column, "text_column")
    ids = source.column(id_column, "id_column") if id_column is not None else None
    columns = ["score", *RESULT_COLUMNS] + (["error"] if on_error == "column" else [])
    source.check_free(columns)
    errors: list[str | None] = [None] * source.rows
    groups: dict[str, list[int]] = {}
    for row, (query, text) in enumerate(zip(queries, texts, strict=True)):
        if not _blank(query) and not _blank(text):
            rows = groups.get(query)
            if rows is None:
                groups[query] = [row]
            else:
                rows.append(row)
            continue
        problem = "query is required for rerank" if _blank(query) else "document text is required for rerank"
        if on_error == "raise":
            raise RerankInputError(f"{_row_name(row, ids)}: {problem} ({query_column!r}, {text_column!r})")
        errors[row] = f"RerankInputError: {_row_name(row, ids)}: {problem}"
    jobs = [
        Job(
            query,
            [texts[row] for row in rows],
            rows,
            None if ids is None else [None if ids[row] is None else str(ids[row]) for row in rows],
        )
        for query, rows in groups.items()
    ]

    def finish(outcomes: list[Outcome]) -> Any:
        scores: list[float | None] = [None] * source.rows
        scales: list[str | None] = [None] * source.rows
        providers: list[str | None] = [None] * source.rows
        models: list[str | None] = [None] * source.rows
        for job, outcome in zip(jobs, outcomes, strict=True):
            response = outcome.response
            if response is None:
                if outcome.error is not None:
                    text = error_text(outcome.error)
                    for row in job.rows:
                        errors[row] = f"{_row_name(row, ids)}: {text}"
                continue
            by_position: list[float | None] = [None] * len(job.rows)
            for result in response.results:
                by_position[result.index] = result.relevance_score
            if job.ids is not None:
                # A repeated id is scored once, at its first position (the engine's rule).
                first_of_id: dict[str, int] = {}
                for position, key in enumerate(job.ids):
                    first = first_of_id.setdefault(key, position) if key is not None else position
                    by_position[position] = by_position[first]
            scale, provider, model = response.score_scale, response.provider, response.model
            for position, row in enumerate(job.rows):
                scores[row] = by_position[position]
                scales[row], providers[row], models[row] = scale, provider, model
        added: dict[str, tuple[str, list[Any]]] = {
            "score": ("float", scores),
            "score_scale": ("string", scales),
            "provider": ("string", providers),
            "model": ("string", models),
        }
        if on_error == "column":
            added["error"] = ("string", errors)
        return source.with_columns(added)

    return Prepared(jobs, on_error, progress, finish)


def groups_jobs(
    table: Any,
    *,
    query_column: str = "query",
    candidates_column: str = "candidates",
    text_key: str = "text",
    top_n: int | None = None,
    on_error: OnError = "raise",
    progress: Progress | None = None,
) -> Prepared:
    """One job per row: its query and its list of candidates (texts, or mappings with ``text_key``)."""
    on_error = _check_on_error(on_error)
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise RerankInputError("top_n must be at least 1")
    source = Table(table)
    queries = source.column(query_column, "query_column")
    candidates = source.column(candidates_column, "candidates_column")
    columns = ["ranked", "scores", "indices", *RESULT_COLUMNS] + (["error"] if on_error == "column" else [])
    source.check_free(columns)
    errors: list[str | None] = [None] * source.rows
    jobs: list[Job] = []
    for row in range(source.rows):
        problem, texts = _group_texts(queries[row], candidates[row], text_key)
        if problem is not None:
            if on_error == "raise":
                raise RerankInputError(f"row {row}: {problem} ({query_column!r}, {candidates_column!r})")
            errors[row] = f"RerankInputError: row {row}: {problem}"
            continue
        jobs.append(Job(queries[row], texts, [row], top_n=top_n))

    def finish(outcomes: list[Outcome]) -> Any:
        ranked: list[list[Any] | None] = [None] * source.rows
        scores: list[list[float] | None] = [None] * source.rows
        indices: list[list[int] | None] = [None] * source.rows
        scales: list[str | None] = [None] * source.rows
        providers: list[str | None] = [None] * source.rows
        models: list[str | None] = [None] * source.rows
        for job, outcome in zip(jobs, outcomes, strict=True):
            row = job.rows[0]
            response = outcome.response
            if response is None:
                if outcome.error is not None:
                    errors[row] = f"row {row}: {error_text(outcome.error)}"
                else:  # no candidates: an empty ranking, no request
                    ranked[row], scores[row], indices[row] = [], [], []
                continue
            items = _items(candidates[row])
            ranked[row] = [items[result.index] for result in response.results]
            scores[row] = [result.relevance_score for result in response.results]
            indices[row] = [result.index for result in response.results]
            scales[row], providers[row], models[row] = response.score_scale, response.provider, response.model
        added: dict[str, tuple[str, list[Any]]] = {
            "ranked": ("list", ranked),
            "scores": ("list", scores),
            "indices": ("list", indices),
            "score_scale": ("string", scales),
            "provider": ("string", providers),
            "model": ("string", models),
        }
        if on_error == "column":
            added["error"] = ("string", errors)
        return source.with_columns(added)

    return Prepared(jobs, on_error, progress, finish)


def _items(value: Any) -> list[Any]:
    return list(value.tolist() if hasattr(value, "tolist") else value)


def _group_texts(query: object, value: object, text_key: str) -> tuple[str | None, list[DocumentInput]]:
    """A row's candidate texts, or the problem that keeps it from being sent."""
    if _blank(query):
        return "query is required for rerank", []
    if value is None or isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        return f"candidates must be a list, got {type(value).__name__}", []
    texts: list[DocumentInput] = []
    for index, item in enumerate(_items(value)):
        text = item.get(text_key) if isinstance(item, Mapping) else item
        if not isinstance(text, str) or not text.strip():
            return f"document text is required for rerank at index {index}", []
        texts.append(text)
    return None, texts
