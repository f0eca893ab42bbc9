"""What callers pass in, checked once and turned into the requests a backend can take.

One pass over the caller's items checks each, skips blank ones (in pipelines), scores a repeated
id once, fits texts to the backend's limits, and remembers each sent text's position in the
caller's list, so every result and every error names the caller's own index.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import numbers
import reprlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Annotated, Any, cast

from pydantic import Field, TypeAdapter, ValidationError

from multirerank.backends.base import Backend
from multirerank.errors import RerankInputError
from multirerank.redaction import module_logger
from multirerank.tokens import min_tokens
from multirerank.types import (
    NOT_A_SCALAR,
    DocumentInput,
    IdentifiedMapping,
    IdentifiedText,
    TitledText,
    document_size,
    numpy_scalar,
)

logger = module_logger(__name__)

# Worded as the Bifrost gateway words them, so gateway users meet familiar messages.
QUERY_REQUIRED = "query is required for rerank"
DOCUMENTS_REQUIRED = "documents are required for rerank"
DOCUMENT_TEXT_REQUIRED = "document text is required for rerank at index {index}"
TOP_N_TOO_SMALL = "top_n must be at least 1"

#: The one rule for a number of seconds or a score, at construction, on assignment and per call:
#: ints and floats (numpy's too) but never a bool or a string. Framework fields say
#: ``Field(strict=True)``, which is this same pydantic rule.
_STRICT_FLOAT: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(strict=True)])


@dataclass(frozen=True)
class Chunk:
    """One request's share of the sent documents: ``documents`` start at ``offset`` in the plan."""

    offset: int
    documents: list[DocumentInput]


@dataclass(frozen=True)
class Plan:
    """One call, checked and split.

    ``positions[k]`` is the caller's index of the k-th sent document and ``originals[k]`` what the
    caller gave for it (before any cut); ``chunks`` cover the sent documents in order.
    """

    query: str
    top_n: int | None
    threshold: float | None
    positions: Sequence[int]
    originals: list[DocumentInput]
    chunks: list[Chunk]
    #: The requests the call may have in flight, which the split was sized for.
    concurrency: int = 1


def subplan(backend: Backend, plan: Plan, keep: Sequence[int]) -> Plan:
    """The plan of ``plan``'s sent documents at ``keep`` (sent indices, in order) alone, split
    afresh, and asking every score (no ``top_n`` or threshold): what the score cache lacks."""
    sent = [document for chunk in plan.chunks for document in chunk.documents]
    documents = [sent[index] for index in keep]
    positions = [plan.positions[index] for index in keep]
    originals = [plan.originals[index] for index in keep]
    chunks = _split(backend, plan.query, documents, positions, plan.concurrency) if documents else []
    return Plan(plan.query, None, None, positions, originals, chunks, plan.concurrency)


def request_top_n(plan: Plan, size: int) -> int | None:
    """How many results to ask a request carrying ``size`` documents for; ``None``: all of them.

    With a threshold, a request's best few may all fall below it while others pass: everything
    is asked for then, and cut after the merge.
    """
    if plan.threshold is not None or plan.top_n is None:
        return None
    return min(plan.top_n, size)


def check_query(query: object) -> str:
    if query is None or (isinstance(query, str) and not query.strip()):
        raise RerankInputError(QUERY_REQUIRED)
    if not isinstance(query, str):
        raise RerankInputError(f"query must be a string, got {type(query).__name__}")
    if not _encodable(query):
        raise RerankInputError("query is not valid text: it has a lone surrogate, which UTF-8 cannot encode")
    return query


def _encodable(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (a lone surrogate, as from a bad decode, does not)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: Values a mapping document may hold beside JSON's own: written as their text (see
#: ``types.json_value``), as a table's date, time, decimal or id columns hold them.
_AS_TEXT = (datetime.date, datetime.time, decimal.Decimal, uuid.UUID)


def _json_problem(value: object, depth: int = 0) -> str | None:
    """What keeps a mapping document from being sent as JSON, or ``None``."""
    if depth > 100:
        return "is nested too deeply (or refers to itself)"
    if isinstance(value, str):
        return None if _encodable(value) else "has text with a lone surrogate, which UTF-8 cannot encode"
    if value is None or isinstance(value, (bool, int, _AS_TEXT)):
        return None
    if isinstance(value, numbers.Real):  # floats, and numpy's numbers, which tables hand over
        return None if math.isfinite(value) else f"has the number {value!r}, which JSON cannot hold"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"has a key of type {type(key).__name__}; JSON keys must be strings"
            problem = _json_problem(key, depth + 1) or _json_problem(item, depth + 1)
            if problem is not None:
                return problem
    elif isinstance(value, (list, tuple)):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem is not None:
                return problem
    else:
        held = numpy_scalar(value)
        if held is not NOT_A_SCALAR:  # np.bool_, np.int64...: sent as the Python value they hold
            return _json_problem(held, depth + 1)
        # Written as str() it would be scored as text such as "<object object at 0x7f...>".
        return (
            f"has a value of type {type(value).__name__}, which JSON cannot hold "
            "(give text, numbers, booleans, None, lists, mappings, dates or decimals)"
        )
    return None


def check_top_n(top_n: object) -> int | None:
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int):
        raise RerankInputError(f"top_n must be an integer or None, got {type(top_n).__name__}")
    if top_n < 1:
        raise RerankInputError(TOP_N_TOO_SMALL)
    return top_n


def strict_float(value: object) -> float | None:
    """``value`` as a float if it is a number pydantic's strict float takes, else ``None``.

    Ints and floats (numpy's too) pass; bools, strings and anything else do not.
    """
    try:
        return _STRICT_FLOAT.validate_python(value)
    except ValidationError:
        return None


def check_score_threshold(score_threshold: object) -> float | None:
    if score_threshold is None:
        return None
    threshold = strict_float(score_threshold)
    if threshold is None:
        raise RerankInputError(
            f"score_threshold must be a number or None, got {type(score_threshold).__name__}"
        )
    if not math.isfinite(threshold):
        raise RerankInputError("score_threshold must be a finite number")
    return threshold


def check_items(items: object, what: str) -> Sequence[Any]:
    """A framework's list of documents or nodes, or an error saying what was passed instead."""
    if type(items) is list:  # the usual case, without the slower checks against the ABCs
        return items
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
        text = value if isinstance(value, str) else _field_text(value)
        if text.strip():
            parts.append(text)
    return "\n".join(parts)


def titled(text: str, metadata: Mapping[str, Any], title_field: str | None) -> str:
    """``text``, as :class:`~multirerank.types.TitledText` when ``title_field`` names a metadata
    value that is not blank (for vendors that take a title beside the content)."""
    if title_field is None:
        return text
    value = metadata.get(title_field)
    if value is None:
        return text
    title = value if isinstance(value, str) else _field_text(value)
    return TitledText(text, title) if title.strip() else text


def lacks_fields(metadata: Mapping[str, Any], fields: Sequence[str] | None, content_field: str) -> bool:
    """Whether ``rerank_fields`` are set and name nothing this document has (a typo, most
    likely): its text is then blank."""
    if not fields:
        return False
    return not any(field == content_field or metadata.get(field) is not None for field in fields)


def warn_fieldless(count: int, total: int, fields: Sequence[str] | None, what: str) -> None:
    """A WARNING that ``count`` of ``total`` framework documents have none of ``fields``; nothing
    when ``count`` is 0. Blank texts are otherwise only noted (INFO): an empty result from a
    misspelt field deserves more."""
    if count:
        logger.warning(
            "%d of %d %s(s) have none of rerank_fields %s: their text is blank, so they are not reranked "
            "or returned (check the field names)",
            count,
            total,
            what,
            list(fields or ()),
        )


#: The key a framework document's own text goes under when the backend ranks document fields
#: (Pinecone's default rank field, and the name Mixedbread's examples use).
RANKED_TEXT_KEY = "text"


def framework_candidate(
    content: str,
    metadata: Mapping[str, Any],
    index: int,
    *,
    fields: Sequence[str] | None,
    content_field: str,
    backend: Backend,
    what: str,
) -> DocumentInput:
    """What the engine ranks for one framework document (LangChain ``Document``, LlamaIndex node).

    ``content`` is the document's text (``content_field`` names it: ``"page_content"`` or
    ``"text"``), ``fields`` the class's ``rerank_fields``. When ``backend.rank_fields`` is set
    (Pinecone, Mixedbread), a dict ``{"text": text, field: metadata value, ...}`` with every named
    field (non-string values as JSON); a document lacking one raises :class:`RerankInputError`
    naming ``what``, its index and the field, before anything is sent. Otherwise the text, titled
    per ``backend.title_field``.
    """
    text = candidate_text(content, metadata, fields, content_field) if fields else content
    rank_fields = backend.rank_fields
    if not rank_fields:
        return titled(text, metadata, backend.title_field)
    document: dict[str, str] = {RANKED_TEXT_KEY: text}
    for field in rank_fields:
        if field in (RANKED_TEXT_KEY, content_field):
            document[field] = text
            continue
        value = metadata.get(field)
        if value is None:
            raise RerankInputError(
                f"{what} at index {index} has no metadata field {field!r}, which rank_fields names "
                f"({backend.provider} ranks on it)"
            )
        document[field] = value if isinstance(value, str) else _field_text(value)
    return document


def _field_text(value: object) -> str:
    """A metadata value as text: its JSON, or ``str`` where JSON cannot take it (a tuple key, a
    value that contains itself), so odd metadata never fails a call."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return str(value)
    except RecursionError:
        return reprlib.repr(value)


def _item_list(documents: object) -> Sequence[object]:
    if type(documents) is list:
        return documents
    if isinstance(documents, (str, bytes)):
        raise RerankInputError("documents must be a list of texts, not a single string")
    if isinstance(documents, Mapping):
        # Iterating a mapping would silently rank its keys.
        raise RerankInputError("documents must be a list of texts or mappings, not a single mapping")
    if documents is None:
        raise RerankInputError(DOCUMENTS_REQUIRED)
    if isinstance(documents, AbstractSet):
        # Its order is arbitrary: each result's index would point at nothing the caller holds.
        raise RerankInputError(
            f"documents must be a list, not a {type(documents).__name__}: results are given by position"
        )
    if isinstance(documents, Sequence):
        return documents
    try:
        return list(cast("Iterable[object]", documents))
    except TypeError:
        raise RerankInputError(f"documents must be a list of texts, got {type(documents).__name__}") from None


def _id_list(ids: object, count: int) -> Sequence[str | None] | None:
    if ids is None:
        return None
    if isinstance(ids, (str, bytes, Mapping)) or not isinstance(ids, Sequence):
        raise RerankInputError(f"ids must be a list with one id (or None) per document, got {type(ids).__name__}")
    if len(ids) != count:
        raise RerankInputError(f"ids has {len(ids)} entries for {count} documents; give one per document")
    # Each id's type is checked where it is used, in the one pass over the documents.
    return ids


def fit_query(query: str, backend: Backend) -> str:
    tokens_limit = backend.limits.max_query_tokens
    if tokens_limit is not None and len(query) > tokens_limit:
        # Only a query longer in characters than the limit can hold more tokens than it.
        tokens = min_tokens(query)
        if tokens > tokens_limit:
            raise RerankInputError(
                f"query is at least {tokens} tokens (counting its whitespace-separated words); "
                f"{backend.provider} accepts at most {tokens_limit} tokens in a query"
            )
    limit = backend.limits.max_query_chars
    if limit is None or len(query) <= limit:
        return query
    if backend.truncate:
        return query[:limit]
    hint = " (set truncate=True to cut it)" if backend.cuts_when_told else ""
    raise RerankInputError(f"query is {len(query)} characters; {backend.provider} accepts at most {limit}{hint}")


def _fit(document: DocumentInput, index: int, limit: int, backend: Backend) -> DocumentInput:
    size = document_size(document)
    if size <= limit:
        return document
    if backend.truncate and isinstance(document, IdentifiedText):
        # Slicing returns a plain str; the id must survive the cut.
        return IdentifiedText(document[:limit], document.document_id)
    if backend.truncate and isinstance(document, str):
        return document[:limit]
    # Only a backend with a truncate option can cut, and only plain texts.
    hint = " (set truncate=True to cut it)" if backend.cuts_when_told and isinstance(document, str) else ""
    raise RerankInputError.for_document(
        "document at index {index} is {size} characters; {provider} accepts at most {limit}{hint}",
        index,
        size=size,
        provider=backend.provider,
        limit=limit,
        hint=hint,
    )


def plan_call(
    backend: Backend,
    query: object,
    documents: object,
    top_n: object,
    score_threshold: object,
    *,
    ids: object = None,
    skip_blank: bool,
    concurrency: int = 1,
) -> Plan:
    """Every input checked and the documents split into requests the backend accepts.

    ``documents`` holds texts and JSON mappings; ``ids``, when given, one id (or ``None``) per
    document. Blank documents are an error, or with ``skip_blank`` are left out (with a
    warning), and then a list with nothing to score gives a plan without chunks. A document
    whose id an earlier one has is scored once, at the first position. Raises
    :class:`RerankInputError` naming the argument or the caller's index of the document at fault.
    """
    checked_query = fit_query(check_query(query), backend)
    checked_top_n = check_top_n(top_n)
    threshold = check_score_threshold(score_threshold)
    items = _item_list(documents)
    id_list = _id_list(ids, len(items))
    limit = backend.limits.max_document_chars
    if id_list is not None and not any(id_list):
        id_list = None  # no document has an identity (LangChain Documents mostly have no id)
    if id_list is None and _plain_texts(items, limit):
        texts = cast("list[DocumentInput]", list(items))
        every = range(len(texts))  # sent k is the caller's k
        chunks = _split(backend, checked_query, texts, every, concurrency)
        return Plan(checked_query, checked_top_n, threshold, every, texts, chunks, concurrency)
    sends_ids = backend.sends_ids
    positions: list[int] = []
    originals: list[DocumentInput] = []
    sent: list[DocumentInput] = []
    seen: set[str] = set()
    blank = repeated = 0
    for index, item in enumerate(items):
        # str before Mapping: this loop runs per document on every call, and isinstance against
        # an ABC costs several times more.
        content: DocumentInput
        if isinstance(item, str):
            content = item
            is_blank = not item or item.isspace()
            if not is_blank and not _encodable(item):
                raise RerankInputError.for_document(
                    "document at index {index} is not valid text: it has a lone surrogate, "
                    "which UTF-8 cannot encode",
                    index,
                )
        elif isinstance(item, Mapping):
            content = item
            is_blank = not item
            problem = None if is_blank else _json_problem(item)
            if problem is not None:
                raise RerankInputError.for_document(
                    "document at index {index} cannot be sent as JSON: it {problem}", index, problem=problem
                )
        else:
            raise RerankInputError.for_document(
                "document at index {index} must be a string or a mapping, got {kind}",
                index,
                kind=type(item).__name__,
            )
        if is_blank:
            if not skip_blank:
                raise RerankInputError.for_document(DOCUMENT_TEXT_REQUIRED, index)
            blank += 1
            continue
        wire = content
        document_id = id_list[index] if id_list is not None else None
        if document_id is not None and not isinstance(document_id, str):
            raise RerankInputError(f"ids[{index}] must be a string or None, got {type(document_id).__name__}")
        if document_id and not _encodable(document_id):
            # APIs that take ids would fail to encode it; the others refuse it alike.
            raise RerankInputError.for_document(
                "the id of the document at index {index} is not valid text: it has a lone surrogate, "
                "which UTF-8 cannot encode",
                index,
            )
        if document_id:
            if document_id in seen:
                repeated += 1
                continue
            seen.add(document_id)
            if sends_ids:
                wire = (
                    IdentifiedText(content, document_id)
                    if isinstance(content, str)
                    else IdentifiedMapping(content, document_id)
                )
        if limit is not None and (not isinstance(content, str) or len(content) > limit):
            wire = _fit(wire, index, limit, backend)
        positions.append(index)
        originals.append(content)
        sent.append(wire)
    if blank:
        # Retriever pipelines skip blanks as a matter of course: worth a note, not a warning.
        logger.info("skipped %d document(s) with blank text; they are not reranked or returned", blank)
    if repeated:
        logger.info("scored %d document(s) once that shared an id with an earlier one", repeated)
    if not sent and not skip_blank:
        raise RerankInputError(DOCUMENTS_REQUIRED)
    chunks = _split(backend, checked_query, sent, positions, concurrency) if sent else []
    return Plan(checked_query, checked_top_n, threshold, positions, originals, chunks, concurrency)


def _plain_texts(items: Sequence[object], limit: int | None) -> bool:
    """Whether every item is ASCII text, not blank, within ``limit``: the usual list, checked in
    a few passes in C, which then needs no per-document step."""
    # Passes that read each string's header only (CPython keeps "ASCII only" as a flag): a call's
    # own work runs with cold caches between the SDK's, where touching the texts' bytes costs.
    return (
        bool(items)
        and set(map(type, items)) == {str}
        and all(items)
        and all(map(str.isascii, items))  # type: ignore[arg-type]
        and not any(map(str.isspace, items))  # type: ignore[arg-type]
        and (limit is None or max(map(len, items)) <= limit)  # type: ignore[arg-type]
    )


def _split(
    backend: Backend,
    query: str,
    documents: list[DocumentInput],
    positions: Sequence[int],
    concurrency: int = 1,
) -> list[Chunk]:
    """Chunks within the backend's count and cost limits, as even in size as possible (in whole
    billing blocks where the vendor bills by them). Where the vendor takes more documents than
    the default request size (``Limits.max_documents_ceiling``), a list needing more requests
    than ``concurrency`` goes in ``concurrency`` larger ones instead."""
    limits = backend.limits
    if limits.max_request_cost is None and len(documents) <= (limits.max_documents or len(documents)):
        return [Chunk(0, documents)]  # the usual call: one request (the list is the plan's own)
    per_request = limits.max_documents or len(documents)
    count = math.ceil(len(documents) / per_request)
    ceiling = limits.max_documents_ceiling
    if ceiling is not None and count > concurrency:
        stretched = math.ceil(len(documents) / concurrency)
        if limits.billing_block:  # whole blocks, so that the split bills none more
            stretched = math.ceil(stretched / limits.billing_block) * limits.billing_block
        per_request = max(per_request, min(ceiling, stretched))
        count = math.ceil(len(documents) / per_request)
    chunks: list[Chunk] = []
    offset = 0
    for size in _sizes(len(documents), count, per_request, limits.billing_block):
        chunks.append(Chunk(offset, documents[offset : offset + size]))
        offset += size
    if limits.max_request_cost is None:
        return chunks
    budget = limits.max_request_cost
    return [piece for chunk in chunks for piece in _split_by_cost(backend, query, chunk, budget, positions)]


def _sizes(total: int, count: int, per_request: int, block: int | None) -> list[int]:
    """``count`` request sizes adding up to ``total``, none over ``per_request``: as even as
    possible, in whole ``block``s of documents when the vendor bills by them (2,500 documents
    over 1,000 a request go as 900 + 900 + 700, 25 blocks, not 834 + 833 + 833, 27)."""
    if block and count > 1 and per_request >= block:
        blocks = math.ceil(total / block)
        base, extra = divmod(blocks, count)
        if base + (1 if extra else 0) <= per_request // block:
            sizes = [(base + (1 if number < extra else 0)) * block for number in range(count)]
            sizes[-1] -= sum(sizes) - total  # the last request takes the partial block
            if sizes[-1] > 0:
                return sizes
    base, extra = divmod(total, count)
    return [base + (1 if number < extra else 0) for number in range(count)]


def _split_by_cost(
    backend: Backend, query: str, chunk: Chunk, budget: int, positions: Sequence[int]
) -> Iterator[Chunk]:
    """Pieces of ``chunk`` whose cost, as the backend counts it, stays within ``budget``."""
    overhead = backend.request_overhead(query)
    if overhead >= budget:
        raise RerankInputError(
            f"the query alone costs {overhead} {backend.cost_unit}; "
            f"{backend.provider} accepts at most {budget} {backend.cost_unit} per request"
        )
    start = chunk.offset
    current: list[DocumentInput] = []
    used = overhead
    for offset, document in enumerate(chunk.documents, start=chunk.offset):
        cost = backend.document_cost(query, document)
        if overhead + cost > budget:
            raise RerankInputError.for_document(
                "document at index {index} costs {cost} {unit}; with the query it exceeds "
                "the {budget} {unit} {provider} accepts per request",
                positions[offset],
                cost=cost,
                unit=backend.cost_unit,
                budget=budget,
                provider=backend.provider,
            )
        if current and used + cost > budget:
            yield Chunk(start, current)
            start, current, used = offset, [], overhead
        current.append(document)
        used += cost
    if current:
        yield Chunk(start, current)
