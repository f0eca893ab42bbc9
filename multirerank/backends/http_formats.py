"""The wire formats of Cohere-compatible rerank APIs, held as data.

Each :class:`ApiFormat` says where a request goes, how one request's body is built and how the
answer is read. The HTTP backend looks a format up by name and never branches on the vendor.
Answers are read strictly (a missing key or a wrong type is a :class:`MalformedResponseError`
naming it); usage counts are read leniently, since a rerank must not fail over billing metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

from multirerank import vendors
from multirerank.errors import MalformedResponseError
from multirerank.redaction import module_logger
from multirerank.types import BatchResult, DocumentInput, ScoreScale, Usage, document_text
from multirerank.vendor_spec import VendorSpec

logger = module_logger(__name__)

ApiFormatName: TypeAlias = Literal["cohere", "cohere-v1", "bifrost", "vllm", "tei", "jina"]

#: Options that only some formats send; naming one for another format is a configuration error.
FormatOption: TypeAlias = Literal["max_tokens_per_doc", "truncate", "gateway_fallbacks"]


@dataclass(frozen=True)
class WireRequest:
    """One request as the format builders see it; ``top_n`` is ``None`` for all documents."""

    model: str | None
    query: str
    documents: Sequence[DocumentInput]
    top_n: int | None
    max_tokens_per_doc: int | None = None
    truncate: bool | None = None
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiFormat:
    """How one family of rerank APIs is spoken: its bodies here, its facts in ``spec``.

    Path, document limit, score scale, base URL, key variables and status rules come from the
    format's :class:`~multirerank.vendor_spec.VendorSpec` (see :mod:`multirerank.vendors`).
    """

    spec: VendorSpec
    build_body: Callable[[WireRequest], Any]
    parse_body: Callable[[Any, WireRequest], BatchResult]
    needs_model: bool = True
    #: Whether the model name is sent (TEI serves one model and takes no name).
    sends_model: bool = True
    #: Model names must be ``provider/model`` (gateways).
    provider_prefixed_model: bool = False
    options: frozenset[FormatOption] = field(default_factory=frozenset)

    @property
    def name(self) -> ApiFormatName:
        return cast(ApiFormatName, self.spec.name)

    @property
    def provider(self) -> str:
        """The provider name errors, responses and model strings carry."""
        return self.spec.provider

    @property
    def paths(self) -> tuple[str, ...]:
        """Paths tried in order; the next one is tried when a path answers a ``fallback_statuses`` status."""
        return self.spec.paths

    @property
    def fallback_statuses(self) -> frozenset[int]:
        return self.spec.fallback_statuses

    @property
    def max_documents(self) -> int | None:
        """Documents one request may carry unless the user sets ``max_documents_per_request``."""
        return self.spec.limits.max_documents

    @property
    def score_scale(self) -> ScoreScale:
        return self.spec.score_scale

    @property
    def default_base_url(self) -> str | None:
        """Where the service lives when it has one public host; ``None`` means base_url is required."""
        return self.spec.default_base_url

    @property
    def api_key_env(self) -> tuple[str, ...]:
        """Environment variables read, in order, for the API key when none is given."""
        return self.spec.env_names("api_key")

    @property
    def needs_api_key(self) -> bool:
        """Whether the API needs a key (a missing one is caught before the first request)."""
        return self.spec.needs_api_key


# -- request bodies --------------------------------------------------------------------------


def _texts(documents: Sequence[DocumentInput]) -> list[str]:
    return [document_text(document) for document in documents]


def _all_or(request: WireRequest) -> int:
    # Some servers read a missing or zero top_n as "all", others as a default; say it explicitly.
    return request.top_n if request.top_n is not None else len(request.documents)


def _with_optional(body: dict[str, Any], **values: Any) -> dict[str, Any]:
    body.update({key: value for key, value in values.items() if value is not None})
    return body


def _cohere_v2_body(request: WireRequest) -> dict[str, Any]:
    body = {"model": request.model, "query": request.query, "documents": _texts(request.documents)}
    return _with_optional(body, top_n=request.top_n, max_tokens_per_doc=request.max_tokens_per_doc)


def _cohere_v1_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "model": request.model,
        "query": request.query,
        "documents": _texts(request.documents),
        "return_documents": False,
    }
    return _with_optional(body, top_n=request.top_n)


_BIFROST_DOCUMENT_KEYS = frozenset({"text", "id", "meta"})


def _bifrost_document(document: DocumentInput) -> dict[str, Any]:
    """A Bifrost document object; the caller's id travels with it so results can be traced."""
    if isinstance(document, str):
        sent: dict[str, Any] = {"text": str(document)}
        document_id = getattr(document, "document_id", None)
        if document_id is not None:
            sent["id"] = str(document_id)
        return sent
    text = document.get("text")
    # A mapping already in Bifrost's shape goes as is; any other mapping is scored as its JSON,
    # exactly as the other formats score it.
    if set(document) <= _BIFROST_DOCUMENT_KEYS and isinstance(text, str) and text.strip():
        sent = {"text": text}
        if document.get("id") is not None:
            sent["id"] = str(document["id"])
        meta = document.get("meta")
        if isinstance(meta, Mapping):
            sent["meta"] = dict(meta)
        return sent
    return {"text": document_text(document)}


def _bifrost_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "model": request.model,
        "query": request.query,
        "documents": [_bifrost_document(document) for document in request.documents],
        "return_documents": False,
    }
    return _with_optional(
        body,
        top_n=request.top_n,
        max_tokens_per_doc=request.max_tokens_per_doc,
        fallbacks=list(request.fallbacks) or None,
    )


def _vllm_body(request: WireRequest) -> dict[str, Any]:
    body = {"query": request.query, "documents": _texts(request.documents), "top_n": _all_or(request)}
    return _with_optional(body, model=request.model)


def _tei_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "query": request.query,
        "texts": _texts(request.documents),
        "raw_scores": False,
        "return_text": False,
    }
    return _with_optional(body, truncate=request.truncate)


def _jina_body(request: WireRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "query": request.query,
        "documents": _texts(request.documents),
        "top_n": _all_or(request),
        "return_documents": False,
    }


# -- answers ---------------------------------------------------------------------------------


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"{where} must be a JSON object, got {_kind(value)}")
    return value


def _member(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise MalformedResponseError(f"{where} has no {key!r}")
    return mapping[key]


def _scores(items: object, score_key: str, where: str) -> list[tuple[int, float]]:
    if not isinstance(items, list):
        raise MalformedResponseError(f"{where} must be a JSON array, got {_kind(items)}")
    pairs: list[tuple[int, float]] = []
    for position, item in enumerate(items):
        place = f"{where}[{position}]"
        result = _object(item, place)
        index = _member(result, "index", place)
        score = _member(result, score_key, place)
        if isinstance(index, bool) or not isinstance(index, int):
            raise MalformedResponseError(f"{place}.index must be an integer, got {_kind(index)}")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise MalformedResponseError(f"{place}.{score_key} must be a number, got {_kind(score)}")
        pairs.append((index, float(score)))
    return pairs


def _count(container: object, *path: str) -> int | None:
    """An integer at ``path`` inside nested objects, or ``None`` when absent or not a count."""
    value = container
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return int(value)


def _cohere_answer(body: object, request: WireRequest) -> BatchResult:
    answer = _object(body, "response")
    scores = _scores(_member(answer, "results", "response"), "relevance_score", "results")
    return BatchResult(scores, Usage(search_units=_count(answer, "meta", "billed_units", "search_units")))


def _token_answer(body: object, request: WireRequest) -> BatchResult:
    """``{results:[{index, relevance_score}], usage:{total_tokens}}``: vLLM, Jina and Bifrost."""
    answer = _object(body, "response")
    scores = _scores(_member(answer, "results", "response"), "relevance_score", "results")
    usage = answer.get("usage")
    tokens = _count(usage, "total_tokens")
    if tokens is None:
        tokens = _count(usage, "prompt_tokens")
    return BatchResult(scores, Usage(total_tokens=tokens))


def _bifrost_answer(body: object, request: WireRequest) -> BatchResult:
    result = _token_answer(body, request)
    extra = _object(body, "response").get("extra_fields")
    served_by = extra.get("provider") if isinstance(extra, Mapping) else None
    requested = (request.model or "").partition("/")[0]
    if isinstance(served_by, str) and served_by and served_by != requested:
        # Scores from a fallback model are on that model's scale: worth knowing when they differ.
        logger.info("bifrost served the rerank with fallback provider %r instead of %r", served_by, requested)
    return result


def _tei_answer(body: object, request: WireRequest) -> BatchResult:
    return BatchResult(_scores(body, "score", "response"))


#: Every format by name.
API_FORMATS: dict[str, ApiFormat] = {
    api_format.name: api_format
    for api_format in (
        ApiFormat(
            vendors.COHERE,
            build_body=_cohere_v2_body,
            parse_body=_cohere_answer,
            options=frozenset({"max_tokens_per_doc"}),
        ),
        ApiFormat(vendors.COHERE_V1, build_body=_cohere_v1_body, parse_body=_cohere_answer),
        ApiFormat(
            vendors.BIFROST,
            build_body=_bifrost_body,
            parse_body=_bifrost_answer,
            provider_prefixed_model=True,
            options=frozenset({"max_tokens_per_doc", "gateway_fallbacks"}),
        ),
        ApiFormat(vendors.VLLM, build_body=_vllm_body, parse_body=_token_answer, needs_model=False),
        ApiFormat(
            vendors.TEI,
            build_body=_tei_body,
            parse_body=_tei_answer,
            needs_model=False,
            sends_model=False,
            options=frozenset({"truncate"}),
        ),
        ApiFormat(vendors.JINA, build_body=_jina_body, parse_body=_token_answer),
    )
}


# -- error bodies ----------------------------------------------------------------------------


def error_details(body: object) -> tuple[str | None, str | None]:
    """``(message, code)`` from any of the error bodies these APIs send.

    One reader serves every format because gateways pass upstream bodies through:
    ``{"message"}`` (Cohere), ``{"error": {"message", "type", "code"}}`` (vLLM, Bifrost),
    ``{"error", "error_type"}`` (TEI), ``{"detail"}`` (Jina and other FastAPI servers).
    """
    if not isinstance(body, Mapping):
        return None, None
    message: object = None
    code: object = None
    error = body.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
    elif isinstance(error, str):
        message, code = error, body.get("error_type")
    if not isinstance(message, str) or not message:
        message = body.get("message")
    if not isinstance(message, str) or not message:
        message = _detail(body.get("detail"))
    return (message if isinstance(message, str) and message else None), (
        code if isinstance(code, str) and code else None
    )


def _detail(detail: object) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and isinstance(item.get("msg"), str):
                location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
                parts.append(f"{location}: {item['msg']}" if location else item["msg"])
        return "; ".join(parts) or None
    return None
