"""Tables turned into rerank calls and back: pairs (one row per query-document pair) and groups
(one row per query with its candidates).

Every row is checked before anything is sent: a blank or missing query or text, one that is
not a string, or one UTF-8 cannot encode (a lone surrogate), is an error of that row alone
(raised as :class:`RerankInputError` naming the row, or written to its ``error`` column as
``"row 5: RerankInputError: ..."``, the form a vendor's error takes there too). Output rows are
the input rows, in order, one each.
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


def _row_name(row: int, ids: Sequence[Any] | None, numbers: Sequence[Any] | None = None) -> str:
    """How errors name a row: its number (``numbers[row]`` when given, the row's number in a
    table that was cut into batches) and its id when it has one."""
    number = row if numbers is None else numbers[row]
    return f"row {number}" if ids is None or _missing(ids[row]) else f"row {number} (id {ids[row]!r})"


def _numbers(source: Table, row_column: str | None) -> list[Any] | None:
    return None if row_column is None else source.column(row_column, "row_column")


def _unencodable(text: str) -> bool:
    """Whether UTF-8 cannot encode ``text`` (a lone surrogate): no vendor could be sent it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _missing(value: object) -> bool:
    """None, NaN, pandas' NA or NaT: a row without an id."""
    if value is None or (isinstance(value, float) and value != value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _id_key(value: object) -> str | None:
    """The id the engine gets: text; None when missing. A whole float is written as an integer
    (pandas turns a column of integer ids with a missing one into floats)."""
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_problem(value: object, name: str) -> str | None:
    """Why ``value`` cannot be sent as a row's ``name`` ("query", "document text"), or None.
    A missing value (None, NaN: pandas' empty cell) is required; any other non-string is the
    wrong type, said as such rather than as missing."""
    if not isinstance(value, str):
        if _missing(value):
            return f"{name} is required for rerank"
        return f"{name} must be a string, got {type(value).__name__}"
    if not value.strip():
        return f"{name} is required for rerank"
    if _unencodable(value):
        return f"{name} is not valid text: it has a lone surrogate, which UTF-8 cannot encode"
    return None


def _row_problem(query: object, text: object) -> str | None:
    """Why a row cannot be sent, or None."""
    return _text_problem(query, "query") or _text_problem(text, "document text")


def _id_clash(
    row: int, first: int, ids: Sequence[Any], texts: Sequence[Any], first_name: object
) -> str | None:
    """Why ``row`` cannot share the id of ``first``, an earlier row of its query, or None when
    it is the same document again (scored once)."""
    mine, theirs = ids[row], ids[first]
    if type(mine) is not type(theirs) or mine != theirs:
        return (
            f"its id {mine!r} reads as {_id_key(mine)!r}, as row {first_name}'s id {theirs!r} does; "
            "ids of one query must differ as text"
        )
    if texts[row] != texts[first]:
        return (
            f"row {first_name} of the same query has this id with a different text; rows sharing an "
            "id are scored once, so an id must name one text"
        )
    return None


def pairs_jobs(
    table: Any,
    *,
    query_column: str = "query",
    text_column: str = "text",
    id_column: str | None = None,
    on_error: OnError = "raise",
    progress: Progress | None = None,
    row_column: str | None = None,
) -> Prepared:
    """One job per distinct query (in order of first appearance) holding its rows' texts.
    ``row_column`` names a column of row numbers that errors name rows by (a batch cut from a
    larger table numbers its rows from 0 otherwise)."""
    on_error = _check_on_error(on_error)
    source = Table(table)
    queries = source.column(query_column, "query_column")
    texts = source.column(text_column, "text_column")
    ids = source.column(id_column, "id_column") if id_column is not None else None
    numbers = _numbers(source, row_column)
    columns = ["score", *RESULT_COLUMNS] + (["error"] if on_error == "column" else [])
    source.check_free(columns)
    errors: list[str | None] = [None] * source.rows
    keys = None if ids is None else [_id_key(value) for value in ids]
    groups: dict[str, list[int]] = {}
    first_of_id: dict[tuple[str, str], int] = {}
    for row, (query, text) in enumerate(zip(queries, texts, strict=True)):
        problem = _row_problem(query, text)
        key = None if keys is None else keys[row]
        if problem is None and ids is not None and key is not None:
            first = first_of_id.setdefault((query, key), row)
            name = first if numbers is None else numbers[first]
            problem = None if first == row else _id_clash(row, first, ids, texts, name)
        if problem is None:
            groups.setdefault(query, []).append(row)
            continue
        if on_error == "raise":
            raise RerankInputError(f"{_row_name(row, ids, numbers)}: {problem}")
        # As a vendor's error is written below: the row, then the error's type and message.
        errors[row] = f"{_row_name(row, ids, numbers)}: RerankInputError: {problem}"
    jobs = [
        Job(query, [texts[row] for row in rows], rows, None if keys is None else [keys[row] for row in rows])
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
                    index = getattr(outcome.error, "index", None)
                    if isinstance(index, int) and 0 <= index < len(job.rows):
                        text += f" (index {index} of this query's rows: {_row_name(job.rows[index], ids, numbers)})"
                    for row in job.rows:
                        errors[row] = f"{_row_name(row, ids, numbers)}: {text}"
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
    row_column: str | None = None,
) -> Prepared:
    """One job per row: its query and its list of candidates (texts, or mappings with ``text_key``);
    ``row_column`` as for :func:`pairs_jobs`."""
    on_error = _check_on_error(on_error)
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise RerankInputError("top_n must be at least 1")
    source = Table(table)
    queries = source.column(query_column, "query_column")
    candidates = source.column(candidates_column, "candidates_column")
    numbers = _numbers(source, row_column)
    columns = ["ranked", "scores", "indices", *RESULT_COLUMNS] + (["error"] if on_error == "column" else [])
    source.check_free(columns)
    errors: list[str | None] = [None] * source.rows
    jobs: list[Job] = []
    for row in range(source.rows):
        problem, texts = _group_texts(queries[row], candidates[row], text_key)
        if problem is not None:
            if on_error == "raise":
                raise RerankInputError(f"{_row_name(row, None, numbers)}: {problem}")
            errors[row] = f"{_row_name(row, None, numbers)}: RerankInputError: {problem}"
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
                    errors[row] = f"{_row_name(row, None, numbers)}: {error_text(outcome.error)}"
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
    problem = _text_problem(query, "query")
    if problem is not None:
        return problem, []
    if value is None or isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        return f"candidates must be a list, got {type(value).__name__}", []
    texts: list[DocumentInput] = []
    for index, item in enumerate(_items(value)):
        text = item.get(text_key) if isinstance(item, Mapping) else item
        if not isinstance(text, str) and not _missing(text):
            return f"document text at index {index} must be a string, got {type(text).__name__}", []
        if not isinstance(text, str) or not text.strip():
            return f"document text is required for rerank at index {index}", []
        if _unencodable(text):
            return f"document text at index {index} has a lone surrogate, which UTF-8 cannot encode", []
        texts.append(text)
    return None, texts
