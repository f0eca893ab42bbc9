"""What both framework adapters need beyond a bare rerank call.

A retriever's candidates can have blank text, repeat the same document under one id, or need
their text built from metadata. These rules live here once, so LangChain and LlamaIndex users
see the same behaviour.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from multirerank.engine import Reranker
from multirerank.errors import RerankInputError
from multirerank.types import DocumentInput, IdentifiedText, RerankResponse, is_blank
from multirerank.validation import check_query, check_score_threshold, check_top_n

logger = logging.getLogger("multirerank")


@dataclass(frozen=True)
class Candidate:
    """One retrieved item: what the backend scores, and the id that makes it a duplicate."""

    content: DocumentInput
    key: str | None = None


@dataclass(frozen=True)
class RankedCandidate:
    """A candidate's position in the caller's list and its score."""

    position: int
    score: float


def candidate_text(
    content: str,
    metadata: Mapping[str, Any],
    fields: Sequence[str] | None,
    content_field: str,
) -> str:
    """The text to score: ``content`` alone, or the named fields joined in order.

    ``content_field`` (``"page_content"`` or ``"text"``) stands for the content itself; other
    names are metadata keys. A field missing from one document is skipped for that document.
    """
    if not fields:
        return content
    parts: list[str] = []
    for field in fields:
        if field == content_field:
            value: object = content
        elif field in metadata:
            value = metadata[field]
        else:
            continue
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if text.strip():
            parts.append(text)
    return "\n".join(parts)


def check_items(items: object, what: str) -> Sequence[Any]:
    """A framework's list of documents or nodes, or an error saying what was passed instead."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise RerankInputError(f"{what} must be a list, got {type(items).__name__}")
    return items


def check_rerank_fields(fields: object) -> list[str] | None:
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise RerankInputError("rerank_fields must be a list of field names")
    for index, field in enumerate(fields):
        if not isinstance(field, str) or not field:
            raise RerankInputError(f"rerank_fields[{index}] must be a non-empty string")
    return list(fields)


def _select(candidates: Sequence[Candidate]) -> list[int]:
    """Positions worth sending: text not blank, and the first of each id."""
    kept: list[int] = []
    seen: set[str] = set()
    blank = duplicate = 0
    for position, candidate in enumerate(candidates):
        if is_blank(candidate.content):
            blank += 1
            continue
        if candidate.key is not None:
            if candidate.key in seen:
                duplicate += 1
                continue
            seen.add(candidate.key)
        kept.append(position)
    if blank:
        logger.warning("skipped %d document(s) with blank text; they are not reranked or returned", blank)
    if duplicate:
        logger.info("scored %d document(s) once that shared an id with an earlier one", duplicate)
    return kept


def _contents(candidates: Sequence[Candidate], kept: list[int]) -> list[DocumentInput]:
    """What is sent for each kept candidate; texts carry their id for backends that use ids."""
    contents: list[DocumentInput] = []
    for position in kept:
        candidate = candidates[position]
        if candidate.key is not None and isinstance(candidate.content, str):
            contents.append(IdentifiedText(candidate.content, candidate.key))
        else:
            contents.append(candidate.content)
    return contents


def _ranked(response: RerankResponse, kept: list[int]) -> list[RankedCandidate]:
    return [RankedCandidate(kept[result.index], result.relevance_score) for result in response.results]


def _kept(
    query: str, candidates: Sequence[Candidate], top_n: int | None, score_threshold: float | None
) -> list[int]:
    # Checked before the empty-input shortcut: a wrong call is wrong whatever was retrieved.
    check_query(query)
    check_top_n(top_n)
    check_score_threshold(score_threshold)
    return _select(candidates)


@contextmanager
def _callers_positions(kept: list[int]) -> Iterator[None]:
    """Errors about a sent document name it by its position in the caller's list."""
    try:
        yield
    except RerankInputError as error:
        if error.index is None:
            raise
        raise error.renumbered(kept[error.index]) from None


def rank_candidates(
    reranker: Reranker,
    query: str,
    candidates: Sequence[Candidate],
    *,
    top_n: int | None,
    score_threshold: float | None = None,
) -> list[RankedCandidate]:
    """Rank retrieved candidates; empty or all-blank input returns ``[]`` without a call."""
    kept = _kept(query, candidates, top_n, score_threshold)
    if not kept:
        return []
    with _callers_positions(kept):
        response = reranker.rerank(query, _contents(candidates, kept), top_n, score_threshold=score_threshold)
    return _ranked(response, kept)


async def arank_candidates(
    reranker: Reranker,
    query: str,
    candidates: Sequence[Candidate],
    *,
    top_n: int | None,
    score_threshold: float | None = None,
) -> list[RankedCandidate]:
    """The non-blocking twin of :func:`rank_candidates`."""
    kept = _kept(query, candidates, top_n, score_threshold)
    if not kept:
        return []
    with _callers_positions(kept):
        response = await reranker.arerank(
            query, _contents(candidates, kept), top_n, score_threshold=score_threshold
        )
    return _ranked(response, kept)
