"""Checks on what callers pass in and on what vendors send back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from multirerank.backends.base import Backend
from multirerank.errors import MalformedResponseError, RerankInputError
from multirerank.types import BatchResult, DocumentInput, IdentifiedText, document_size, is_blank

# Worded as the Bifrost gateway words them, so gateway users meet familiar messages.
QUERY_REQUIRED = "query is required for rerank"
DOCUMENTS_REQUIRED = "documents are required for rerank"
DOCUMENT_TEXT_REQUIRED = "document text is required for rerank at index {index}"
TOP_N_TOO_SMALL = "top_n must be at least 1"


def check_query(query: object) -> str:
    if query is None or (isinstance(query, str) and not query.strip()):
        raise RerankInputError(QUERY_REQUIRED)
    if not isinstance(query, str):
        raise RerankInputError(f"query must be a string, got {type(query).__name__}")
    return query


def check_documents(documents: object) -> list[DocumentInput]:
    if isinstance(documents, (str, bytes)):
        raise RerankInputError("documents must be a list of texts, not a single string")
    if isinstance(documents, Mapping):
        # Iterating a mapping would silently rank its keys.
        raise RerankInputError("documents must be a list of texts or mappings, not a single mapping")
    if documents is None:
        raise RerankInputError(DOCUMENTS_REQUIRED)
    if not isinstance(documents, Sequence):
        try:
            documents = list(documents)  # type: ignore[call-overload]
        except TypeError:
            raise RerankInputError(
                f"documents must be a list of texts, got {type(documents).__name__}"
            ) from None
    checked: list[DocumentInput] = []
    document: object
    for index, document in enumerate(documents):  # type: ignore[arg-type]
        # The exact-type test first: isinstance against an ABC costs several times more, per document.
        if type(document) is not str and not isinstance(document, (str, Mapping)):
            raise RerankInputError.for_document(
                "document at index {index} must be a string or a mapping, got {kind}",
                index,
                kind=type(document).__name__,
            )
        if is_blank(document):
            raise RerankInputError.for_document(DOCUMENT_TEXT_REQUIRED, index)
        checked.append(document)
    if not checked:
        raise RerankInputError(DOCUMENTS_REQUIRED)
    return checked


def check_top_n(top_n: object) -> int | None:
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int):
        raise RerankInputError(f"top_n must be an integer or None, got {type(top_n).__name__}")
    if top_n < 1:
        raise RerankInputError(TOP_N_TOO_SMALL)
    return top_n


def check_score_threshold(score_threshold: object) -> float | None:
    if score_threshold is None:
        return None
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, Real):
        raise RerankInputError(
            f"score_threshold must be a number or None, got {type(score_threshold).__name__}"
        )
    if not math.isfinite(float(score_threshold)):
        raise RerankInputError("score_threshold must be a finite number")
    return float(score_threshold)


def fit_query(query: str, backend: Backend) -> str:
    limit = backend.limits.max_query_chars
    if limit is None or len(query) <= limit:
        return query
    if backend.truncate:
        return query[:limit]
    raise RerankInputError(
        f"query is {len(query)} characters; {backend.provider} accepts at most {limit} "
        "(set truncate=True to cut it)"
    )


def fit_documents(documents: list[DocumentInput], backend: Backend) -> list[DocumentInput]:
    """Documents within the backend's per-document limit, cut or rejected as it is set up."""
    limit = backend.limits.max_document_chars
    if limit is None:
        return documents
    fitted: list[DocumentInput] = []
    for index, document in enumerate(documents):
        size = document_size(document)
        if size <= limit:
            fitted.append(document)
        elif backend.truncate and isinstance(document, IdentifiedText):
            # Slicing returns a plain str; the id must survive the cut.
            fitted.append(IdentifiedText(document[:limit], document.document_id))
        elif backend.truncate and isinstance(document, str):
            fitted.append(document[:limit])
        else:
            hint = " (set truncate=True to cut it)" if isinstance(document, str) else ""
            raise RerankInputError.for_document(
                "document at index {index} is {size} characters; {provider} accepts at most {limit}{hint}",
                index,
                size=size,
                provider=backend.provider,
                limit=limit,
                hint=hint,
            )
    return fitted


def check_batch(result: Any, size: int, provider: str) -> BatchResult:
    """A backend's answer, proven usable: every index in range and unique, every score finite."""
    if not isinstance(result, BatchResult):
        raise MalformedResponseError(
            f"backend returned {type(result).__name__}, expected BatchResult", provider=provider
        )
    if not isinstance(result.scores, (list, tuple)):
        raise MalformedResponseError(
            f"backend returned scores as {type(result.scores).__name__}, expected a list of (index, score)",
            provider=provider,
        )
    seen: set[int] = set()
    for position, pair in enumerate(result.scores):
        try:
            index, score = pair
        except (TypeError, ValueError):
            raise MalformedResponseError(
                f"result {position} is not an (index, score) pair", provider=provider
            ) from None
        # numbers.Integral admits numpy integers, which model-serving code often returns; the
        # exact-type tests first skip the costly ABC checks for the usual int and float.
        if type(index) is not int and (isinstance(index, bool) or not isinstance(index, Integral)):
            raise MalformedResponseError(
                f"result {position} has a non-integer index {index!r}", provider=provider
            )
        if not 0 <= index < size:
            raise MalformedResponseError(
                f"result {position} has index {index}, outside the {size} documents sent",
                provider=provider,
            )
        if index in seen:
            raise MalformedResponseError(f"result {position} repeats index {index}", provider=provider)
        if (
            type(score) is not float and (isinstance(score, bool) or not isinstance(score, Real))
        ) or not math.isfinite(float(score)):
            raise MalformedResponseError(
                f"result {position} (index {index}) has a non-finite or non-numeric score {score!r}",
                provider=provider,
            )
        seen.add(index)
    return result
