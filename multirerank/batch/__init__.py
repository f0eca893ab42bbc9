"""Offline scoring of many query-document pairs: tables in, the same rows with scores out.

No distributed engine is needed; Ray Data, Spark and Dask call the same functions per batch
(:class:`RerankBatch` for Ray's ``map_batches``). Tables are pandas DataFrames, pyarrow Tables or
mappings of column names to values (``pip install 'multirerank[batch]'`` for pandas and pyarrow).

- :func:`rerank_pairs`: one row per (query, text) pair; adds ``score``, ``score_scale``,
  ``provider``, ``model`` (and ``error`` with ``on_error="column"``).
- :func:`rerank_groups`: one row per query with a list of candidates; adds ``ranked`` (the
  candidates best first, cut to ``top_n``), ``scores``, ``indices`` (positions in the input
  list), ``score_scale``, ``provider``, ``model`` (and ``error``).

Rows of the same query go out as one rerank call, which the engine splits only where the vendor's
per-request limits require; ``concurrency`` requests (8 by default) are in flight at once across
queries. With a score cache (``cache="sqlite:///scores.db"`` or a Redis URL) a re-run sends only
the pairs not scored yet.
"""

from __future__ import annotations

from typing import Any

from multirerank.backends.base import Backend
from multirerank.batch.ray_actor import RerankBatch
from multirerank.batch.runner import DEFAULT_CONCURRENCY, BatchReranker, OnError
from multirerank.engine import Reranker

__all__ = ["BatchReranker", "RerankBatch", "arerank_pairs", "rerank_groups", "rerank_pairs"]


def rerank_pairs(
    table: Any,
    model_or_reranker: str | Backend | Reranker,
    *,
    query_column: str = "query",
    text_column: str = "text",
    id_column: str | None = None,
    on_error: OnError = "raise",
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Any = None,
    **reranker_options: Any,
) -> Any:
    """Score every (query, text) row of ``table``; the same rows, in order, with result columns.

    ``table`` is a pandas DataFrame, a pyarrow Table or a mapping of columns; the result is the
    same kind (the input is not modified). ``score`` is the backend's score (``score_scale`` says
    what it means; ``normalize_scores=True`` maps it into 0..1). ``id_column`` names each row in
    errors, and rows of one query repeating an id with the same text are scored once; a missing
    id (None, NaN, pandas' NA) is no id, and a later row of the query giving an id to another
    text, or an id reading alike as text (``1`` and ``"1"``), is an error of that row.
    ``on_error="raise"`` raises the first failure (:class:`~multirerank.RerankInputError` naming
    the row for a blank query or text, one that is not a string (``row 0: document text must be a
    string, got int``), or one with a lone surrogate, before anything is sent; a
    vendor's :class:`~multirerank.RerankError` otherwise) and ``"column"`` writes it to the failed
    rows' ``error`` column (``"row 7 (id 'd3'): ThrottledError: ..."``, and
    ``"row 5: RerankInputError: ..."`` for a row refused before sending), their score left empty;
    an authentication, configuration or not-found error, which every call would repeat, is
    raised either way, and nothing more is sent.
    ``progress`` is called with the number of rows each finished query held.
    ``reranker_options`` (``api_key``, ``base_url``, ``cache``, ``rate_limit``...) build the
    reranker a model string names; a :class:`~multirerank.Reranker`
    given is used as it is and left open.
    """
    with BatchReranker(model_or_reranker, concurrency=concurrency, **reranker_options) as batch:
        return batch.rerank_pairs(
            table,
            query_column=query_column,
            text_column=text_column,
            id_column=id_column,
            on_error=on_error,
            progress=progress,
        )


async def arerank_pairs(
    table: Any,
    model_or_reranker: str | Backend | Reranker,
    *,
    query_column: str = "query",
    text_column: str = "text",
    id_column: str | None = None,
    on_error: OnError = "raise",
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Any = None,
    **reranker_options: Any,
) -> Any:
    """The non-blocking twin of :func:`rerank_pairs`, its calls on the caller's event loop."""
    async with BatchReranker(model_or_reranker, concurrency=concurrency, **reranker_options) as batch:
        return await batch.arerank_pairs(
            table,
            query_column=query_column,
            text_column=text_column,
            id_column=id_column,
            on_error=on_error,
            progress=progress,
        )


def rerank_groups(
    table: Any,
    model_or_reranker: str | Backend | Reranker,
    *,
    query_column: str = "query",
    candidates_column: str = "candidates",
    text_key: str = "text",
    top_n: int | None = None,
    on_error: OnError = "raise",
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Any = None,
    **reranker_options: Any,
) -> Any:
    """Rank each row's candidates (a list of texts, or of mappings whose ``text_key`` is the
    text) by relevance to its query: the same rows with ``ranked`` (candidates best first, at
    most ``top_n``), ``scores``, ``indices``, ``score_scale``, ``provider``, ``model`` (and
    ``error`` with ``on_error="column"``). Errors and options as in :func:`rerank_pairs`; a
    blank candidate is an error of its row naming the candidate's index.
    """
    with BatchReranker(model_or_reranker, concurrency=concurrency, **reranker_options) as batch:
        return batch.rerank_groups(
            table,
            query_column=query_column,
            candidates_column=candidates_column,
            text_key=text_key,
            top_n=top_n,
            on_error=on_error,
            progress=progress,
        )
