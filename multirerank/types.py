"""Result and limit types shared by the engine, the backends and the adapters."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

#: A document as a backend receives it: plain text, or a JSON object for vendors that take one.
DocumentInput: TypeAlias = "str | Mapping[str, Any]"

N = TypeVar("N", int, float)


class IdentifiedText(str):
    """Document text that remembers the caller's id.

    It is a ``str`` everywhere, so backends that know nothing of ids are unaffected; a backend whose
    API accepts ids (the Bifrost gateway) reads ``document_id``.
    """

    document_id: str | None

    def __new__(cls, text: str, document_id: str | None) -> IdentifiedText:
        instance = super().__new__(cls, text)
        instance.document_id = document_id
        return instance

    def __reduce__(self) -> tuple[object, ...]:
        return (IdentifiedText, (str(self), self.document_id))


class IdentifiedMapping(dict):  # type: ignore[type-arg]
    """A JSON document (a mapping) that remembers the caller's id, as :class:`IdentifiedText` does
    for text: a plain ``dict`` to every backend, and ``document_id`` to one whose API takes ids."""

    document_id: str | None

    def __init__(self, document: Mapping[str, Any], document_id: str | None) -> None:
        super().__init__(document)
        self.document_id = document_id

    def __reduce__(self) -> tuple[object, ...]:
        return (IdentifiedMapping, (dict(self), self.document_id))


class TitledText(str):
    """Document text with a title, for vendors that take one beside the content (Vertex AI's
    record ``title``); a plain ``str`` to every other backend. Adapters make it from the metadata
    key a backend's ``title_field`` names."""

    document_title: str

    def __new__(cls, text: str, title: str) -> TitledText:
        instance = super().__new__(cls, text)
        instance.document_title = title
        return instance

    def __reduce__(self) -> tuple[object, ...]:
        return (TitledText, (str(self), self.document_title))


#: What a backend's scores mean, so callers can compare or threshold them knowingly.
#: ``probability``: 0..1, higher is more relevant (sigmoid of a cross-encoder, most vendor APIs).
#: ``logit``: unbounded raw cross-encoder output (watsonx.ai, TEI with raw_scores).
#: ``cosine``: -1..1 cosine similarity of embeddings.
#: ``lexical``: a 0..1 term-overlap score (the scale of the emulator's default scorer).
ScoreScale: TypeAlias = Literal["probability", "logit", "cosine", "lexical"]


@dataclass(frozen=True)
class Limits:
    """What one request to a backend may carry. ``None`` means no limit.

    The engine splits a candidate list so that every request respects ``max_documents`` and
    ``max_request_cost``; it rejects (or, when the backend truncates, cuts) texts longer than
    ``max_document_chars`` and queries longer than ``max_query_chars`` (or provably over
    ``max_query_tokens``). A request's cost is
    counted by the backend's ``request_overhead`` and ``document_cost`` in its ``cost_unit``
    (encoded bytes unless the backend counts, say, tokens).
    """

    max_documents: int | None = None
    max_document_chars: int | None = None
    max_query_chars: int | None = None
    max_request_cost: int | None = None
    #: The most tokens a query may have (Cohere: 2,048). The engine refuses a query whose
    #: :func:`multirerank.tokens.min_tokens` already exceeds it; a query the count cannot prove too long is sent and
    #: left to the vendor.
    max_query_tokens: int | None = None
    #: The vendor bills each request by blocks of this many documents (Cohere's search unit,
    #: Bedrock's and Vertex AI's query: 100): the engine then sizes the requests of a split list
    #: in whole blocks, so that splitting bills no more blocks than one request would.
    billing_block: int | None = None
    #: The most documents the vendor takes in one request, where that is more than the default
    #: ``max_documents`` (Cohere: 10,000 over 1,000). A list that would need more requests than
    #: the call may have in flight then goes as one request per slot, up to this many documents
    #: each: one round of larger requests finishes sooner than rounds of small ones
    #: (``benchmarks/bench_cohere_split.py``). ``None`` where the user set the request size.
    max_documents_ceiling: int | None = None


@dataclass(frozen=True)
class Usage:
    """What a call used and, where known, what it cost.

    ``requests``: requests the vendor answered (pages and billed retries included);
    ``documents``: documents sent to the vendor (not those answered from the score cache);
    ``search_units`` and ``total_tokens``: the vendor's own billing counts, ``None`` when it
    reports none (Bedrock reports none but documents its rule, one query per 100 documents of a
    call: its backend derives ``search_units`` by it); ``cost_usd``: the call's cost in US dollars from the price table, ``None``
    when a price is unknown (never a guessed 0); ``cache_hits`` / ``cache_misses``: documents
    whose score the score cache held / did not hold.

    Adding usages sums every count; ``None`` counts add as nothing unless both are ``None``. For
    ``cost_usd`` an addend that sent no request (``requests == 0``) adds nothing, and one that sent
    requests at an unknown cost (``None``) makes the sum unknown: a partial sum is never shown as
    the whole cost.
    """

    total_tokens: int | None = None
    search_units: int | None = None
    requests: int = 0
    documents: int = 0
    cost_usd: float | None = None
    cache_hits: int = 0
    cache_misses: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            total_tokens=_add_optional(self.total_tokens, other.total_tokens),
            search_units=_add_optional(self.search_units, other.search_units),
            requests=self.requests + other.requests,
            documents=self.documents + other.documents,
            cost_usd=_add_cost(self, other),
            cache_hits=self.cache_hits + other.cache_hits,
            cache_misses=self.cache_misses + other.cache_misses,
        )


def _add_cost(left: Usage, right: Usage) -> float | None:
    if left.requests == 0 and left.cost_usd is None:
        return right.cost_usd
    if right.requests == 0 and right.cost_usd is None:
        return left.cost_usd
    if left.cost_usd is None or right.cost_usd is None:
        return None
    return left.cost_usd + right.cost_usd


def _add_optional(left: N | None, right: N | None) -> N | None:
    if left is None:
        return right
    if right is None:
        return left
    return left + right


@dataclass(frozen=True)
class BatchResult:
    """One backend request's answer: ``(index within the request, score)`` pairs in any order."""

    scores: list[tuple[int, float]]
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class RerankResult:
    """One ranked document: its index in the caller's list, its score, and its text when asked."""

    index: int
    relevance_score: float
    document: DocumentInput | None = None


@dataclass(frozen=True)
class RerankResponse:
    """The merged answer of one rerank call, best first."""

    results: list[RerankResult]
    provider: str
    model: str
    score_scale: ScoreScale
    usage: Usage | None = None
    elapsed_seconds: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[RerankResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Results in the ``[{"index": i, "relevance_score": s}]`` shape of langchain-aws."""
        return [{"index": r.index, "relevance_score": r.relevance_score} for r in self.results]


#: What :func:`numpy_scalar` returns for anything that is not one of numpy's scalars.
NOT_A_SCALAR = object()


def numpy_scalar(value: object) -> object:
    """The Python value one of numpy's scalars holds (``np.int64(3)`` -> ``3``, ``np.bool_`` ->
    ``bool``), or :data:`NOT_A_SCALAR` for anything else (an array of several values included);
    numpy itself is not imported."""
    if type(value).__module__ == "numpy":
        item = getattr(value, "item", None)
        if callable(item):
            try:
                return item()
            except (TypeError, ValueError):  # an array of several values
                pass
    return NOT_A_SCALAR


def json_value(value: object) -> object:
    """``json.dumps``'s ``default`` for documents: numpy's scalars as the Python numbers and
    booleans they hold (a table's columns hand them over), anything else the engine lets through
    (dates, decimals, UUIDs) as its text."""
    held = numpy_scalar(value)
    return str(value) if held is NOT_A_SCALAR else held


def document_text(document: DocumentInput) -> str:
    """A document as plain text, for vendors that accept no JSON documents."""
    if isinstance(document, str):
        return document
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=json_value)


def document_size(document: DocumentInput) -> int:
    """Characters the vendor will count for a document (its JSON form for mappings)."""
    return len(document) if isinstance(document, str) else len(document_text(document))


def is_blank(document: object) -> bool:
    if isinstance(document, str):
        return not document.strip()
    if isinstance(document, Mapping):
        return not document
    return False
