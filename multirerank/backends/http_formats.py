"""The wire formats of Cohere-compatible (and near-compatible) rerank APIs, held as data.

Each :class:`ApiFormat` says where a request goes, how one request's body is built and how the
answer is read. The HTTP backend looks a format up by name and never branches on the vendor.
Answers are read strictly (a missing key or a wrong type is a :class:`MalformedResponseError`
naming it); usage counts are read leniently, since a rerank must not fail over billing metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import urlsplit

from multirerank import vendors
from multirerank.errors import MalformedResponseError
from multirerank.redaction import module_logger
from multirerank.types import BatchResult, DocumentInput, ScoreScale, Usage, document_text
from multirerank.vendor_spec import VendorSpec

logger = module_logger(__name__)

ApiFormatName: TypeAlias = Literal[
    "cohere",
    "cohere-v1",
    "bifrost",
    "vllm",
    "tei",
    "jina",
    "voyage",
    "mixedbread",
    "pinecone",
    "nvidia",
    "together",
    "fireworks",
    "deepinfra",
    "infinity",
    "llamacpp",
    "openrouter",
    "azure-cohere",
]

#: Options that only some formats send; naming one for another format is a configuration error.
FormatOption: TypeAlias = Literal["max_tokens_per_doc", "truncate", "gateway_fallbacks", "rank_fields"]


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
    #: The task instruction, or ``None``; each format passes it its model's way.
    instruction: str | None = None
    #: Fields of mapping documents the vendor ranks on (Pinecone, Mixedbread); ``None``: texts.
    rank_fields: tuple[str, ...] | None = None


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
    #: The header the API key goes in, and what precedes the key there.
    key_header: tuple[str, str] = ("Authorization", "Bearer ")
    #: Other headers a user may put the key in instead (Azure's ``api-key``): one given in
    #: ``headers`` stands for ``api_key``.
    other_key_headers: tuple[str, ...] = ()
    #: Headers every request of the format carries (Pinecone's API version).
    fixed_headers: Mapping[str, str] = field(default_factory=dict)
    #: The key is needed only at the vendor's own host (NVIDIA's catalog; a self-hosted NIM takes none).
    key_only_at_default_host: bool = False
    #: Paths chosen from ``(base_url, model)`` where they depend on them (NVIDIA's catalog, Azure
    #: Foundry resources); ``None`` from it, or no function: ``paths``.
    choose_paths: Callable[[str, str], tuple[str, ...] | None] | None = None
    #: Whether a model takes an instruction when the vendor data does not say (``spec.instruction``
    #: set, model not listed with ``instruct=False``).
    instructable: Callable[[str], bool] = lambda model: True

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

    def takes_instruction(self, model: str) -> bool:
        """Whether ``model`` takes a task instruction through this format (see ``spec.instruction``)."""
        if not self.spec.instruction:
            return False
        known = self.spec.model(model)
        if known is not None and known.instruct is not None:
            return known.instruct
        return self.instructable(model)


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
    # The caller's id (from ``ids=``) wins over an "id" key of the document.
    caller_id = getattr(document, "document_id", None)
    # A mapping already in Bifrost's shape goes as is; any other mapping is scored as its JSON,
    # exactly as the other formats score it.
    if set(document) <= _BIFROST_DOCUMENT_KEYS and isinstance(text, str) and text.strip():
        sent = {"text": text}
        own_id = caller_id if caller_id is not None else document.get("id")
        if own_id is not None:
            sent["id"] = str(own_id)
        meta = document.get("meta")
        if isinstance(meta, Mapping):
            sent["meta"] = dict(meta)
        return sent
    sent = {"text": document_text(document)}
    if caller_id is not None:
        sent["id"] = str(caller_id)
    return sent


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


def _instructed_query(request: WireRequest) -> str:
    """The query with the instruction written before it (Voyage's rerank-2.5 family reads
    instructions in the query; its API has no field for one)."""
    if request.instruction is None:
        return request.query
    return f"{request.instruction}\n{request.query}"


def _voyage_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "query": _instructed_query(request),
        "documents": _texts(request.documents),
        "model": request.model,
        "top_k": request.top_n,
    }
    return _with_optional(body, truncation=request.truncate)


def _ranked_documents(request: WireRequest, text_key: str = "text") -> list[Any]:
    """Documents for APIs that rank object fields: mappings as they are when ``rank_fields``
    is set, otherwise every document as its text (a mapping as its JSON)."""
    if request.rank_fields is None:
        return [{text_key: text} for text in _texts(request.documents)]
    return [
        dict(document) if isinstance(document, Mapping) else {text_key: document}
        for document in request.documents
    ]


def _mixedbread_body(request: WireRequest) -> dict[str, Any]:
    documents: list[Any] = (
        _texts(request.documents)
        if request.rank_fields is None
        else [dict(d) if isinstance(d, Mapping) else d for d in request.documents]
    )
    body = {"model": request.model, "query": request.query, "input": documents}
    rank_fields = list(request.rank_fields) if request.rank_fields is not None else None
    return _with_optional(body, top_k=request.top_n, rank_fields=rank_fields)


def _pinecone_body(request: WireRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "query": request.query,
        "documents": _ranked_documents(request),
        "rank_fields": list(request.rank_fields or ("text",)),
        "return_documents": False,
        "top_n": _all_or(request),
    }
    parameters: dict[str, Any] = {}
    if request.truncate is not None:
        parameters["truncate"] = "END" if request.truncate else "NONE"
    if request.max_tokens_per_doc is not None:
        parameters["max_tokens_per_doc"] = request.max_tokens_per_doc
    return _with_optional(body, parameters=parameters or None)


def _nvidia_body(request: WireRequest) -> dict[str, Any]:
    # The default truncation is model dependent: say it, so every model scores the same way.
    return {
        "model": request.model,
        "query": {"text": request.query},
        "passages": [{"text": text} for text in _texts(request.documents)],
        "truncate": "NONE" if request.truncate is False else "END",
    }


def nvidia_paths(base_url: str, model: str) -> tuple[str, ...] | None:
    """At the API catalog, the model's own path: ``nvidia/llama-3.2-nv-rerankqa-1b-v2`` ->
    ``/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking`` (dots become underscores);
    elsewhere (a self-hosted NIM) the spec's ``/v1/ranking``."""
    if base_url != vendors.NVIDIA.default_base_url:
        return None
    return (f"/v1/retrieval/{model.replace('.', '_')}/reranking",)


def azure_paths(base_url: str, model: str) -> tuple[str, ...] | None:
    """A Foundry resource (``*.services.ai.azure.com``) serves Cohere at the first spec path; a
    serverless deployment's target URL at the second."""
    host = urlsplit(base_url).hostname or ""
    foundry, serverless = vendors.AZURE_COHERE.paths
    return (foundry,) if host.endswith(".services.ai.azure.com") else (serverless,)


def _together_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "model": request.model,
        "query": request.query,
        "documents": _texts(request.documents),
        "return_documents": False,
    }
    return _with_optional(body, top_n=request.top_n)


def _fireworks_body(request: WireRequest) -> dict[str, Any]:
    return _with_optional(_together_body(request), task=request.instruction)


def _deepinfra_body(request: WireRequest) -> dict[str, Any]:
    # Queries pair with documents by position: the query goes once per document.
    texts = _texts(request.documents)
    body = {"queries": [request.query] * len(texts), "documents": texts}
    return _with_optional(body, instruction=request.instruction)


def _infinity_body(request: WireRequest) -> dict[str, Any]:
    body = {
        "query": request.query,
        "documents": _texts(request.documents),
        "return_documents": False,
        "raw_scores": False,
    }
    return _with_optional(body, model=request.model, top_n=request.top_n)


def _llamacpp_body(request: WireRequest) -> dict[str, Any]:
    body = {"query": request.query, "documents": _texts(request.documents)}
    return _with_optional(body, model=request.model, top_n=request.top_n)


def _openrouter_body(request: WireRequest) -> dict[str, Any]:
    body = {"model": request.model, "query": request.query, "documents": _texts(request.documents)}
    return _with_optional(body, top_n=request.top_n)


#: Qwen3-Reranker's prompt (its model card; vLLM's qwen3_reranker example sends the same): the
#: instruction sits in the query part, and the model answers "yes" or "no".
_QWEN3_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and "
    'the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
_QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def is_qwen3_reranker(model: str) -> bool:
    """Whether ``model`` names a Qwen3-Reranker checkpoint (which reads an instruction in its prompt)."""
    return "qwen3-reranker" in model.lower()


def _vllm_instructed_body(request: WireRequest) -> dict[str, Any]:
    body = _vllm_body(request)
    if request.instruction is not None:
        body["query"] = f"{_QWEN3_PREFIX}<Instruct>: {request.instruction}\n<Query>: {request.query}\n"
        body["documents"] = [f"<Document>: {text}{_QWEN3_SUFFIX}" for text in body["documents"]]
    return body


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


def _tokens_used(answer: Mapping[str, Any]) -> int | None:
    usage = answer.get("usage")
    tokens = _count(usage, "total_tokens")
    return tokens if tokens is not None else _count(usage, "prompt_tokens")


def _listed_answer(list_key: str, score_key: str) -> Callable[[Any, WireRequest], BatchResult]:
    """``{<list_key>:[{index, <score_key>}], usage:{total_tokens}}``: Voyage, Mixedbread, Fireworks."""

    def parse(body: object, request: WireRequest) -> BatchResult:
        answer = _object(body, "response")
        scores = _scores(_member(answer, list_key, "response"), score_key, list_key)
        return BatchResult(scores, Usage(total_tokens=_tokens_used(answer)))

    return parse


def _pinecone_answer(body: object, request: WireRequest) -> BatchResult:
    answer = _object(body, "response")
    scores = _scores(_member(answer, "data", "response"), "score", "data")
    # Pinecone bills rerank units, counted like search units (one query with its documents).
    return BatchResult(scores, Usage(search_units=_count(answer, "usage", "rerank_units")))


def _nvidia_answer(body: object, request: WireRequest) -> BatchResult:
    answer = _object(body, "response")
    return BatchResult(_scores(_member(answer, "rankings", "response"), "logit", "rankings"))


def _deepinfra_answer(body: object, request: WireRequest) -> BatchResult:
    """``{scores:[float] in input order, input_tokens}``: positions are the indices."""
    answer = _object(body, "response")
    scores = _member(answer, "scores", "response")
    if not isinstance(scores, list):
        raise MalformedResponseError(f"scores must be a JSON array, got {_kind(scores)}")
    if len(scores) != len(request.documents):
        raise MalformedResponseError(
            f"scores has {len(scores)} values for {len(request.documents)} documents"
        )
    pairs: list[tuple[int, float]] = []
    for index, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise MalformedResponseError(f"scores[{index}] must be a number, got {_kind(score)}")
        pairs.append((index, float(score)))
    return BatchResult(pairs, Usage(total_tokens=_count(answer, "input_tokens")))


def _infinity_answer(body: object, request: WireRequest) -> BatchResult:
    # Older Infinity releases answer ``data`` where newer ones answer ``results``.
    answer = _object(body, "response")
    key = "results" if "results" in answer or "data" not in answer else "data"
    scores = _scores(_member(answer, key, "response"), "relevance_score", key)
    return BatchResult(scores, Usage(total_tokens=_tokens_used(answer)))


def _openrouter_answer(body: object, request: WireRequest) -> BatchResult:
    answer = _object(body, "response")
    scores = _scores(_member(answer, "results", "response"), "relevance_score", "results")
    usage = answer.get("usage")
    return BatchResult(
        scores, Usage(total_tokens=_count(usage, "total_tokens"), search_units=_count(usage, "search_units"))
    )


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
        ApiFormat(
            vendors.VLLM,
            build_body=_vllm_instructed_body,
            parse_body=_token_answer,
            needs_model=False,
            instructable=is_qwen3_reranker,
        ),
        ApiFormat(
            vendors.TEI,
            build_body=_tei_body,
            parse_body=_tei_answer,
            needs_model=False,
            sends_model=False,
            options=frozenset({"truncate"}),
        ),
        ApiFormat(vendors.JINA, build_body=_jina_body, parse_body=_token_answer),
        ApiFormat(
            vendors.VOYAGE,
            build_body=_voyage_body,
            parse_body=_listed_answer("data", "relevance_score"),
            options=frozenset({"truncate"}),
        ),
        ApiFormat(
            vendors.MIXEDBREAD,
            build_body=_mixedbread_body,
            parse_body=_listed_answer("data", "score"),
            options=frozenset({"rank_fields"}),
        ),
        ApiFormat(
            vendors.PINECONE,
            build_body=_pinecone_body,
            parse_body=_pinecone_answer,
            options=frozenset({"rank_fields", "truncate", "max_tokens_per_doc"}),
            key_header=("Api-Key", ""),
            # The version the docs' examples use; newer SDKs send later ones with the same rerank shape.
            fixed_headers={"X-Pinecone-Api-Version": "2025-10"},
        ),
        ApiFormat(
            vendors.NVIDIA,
            build_body=_nvidia_body,
            parse_body=_nvidia_answer,
            options=frozenset({"truncate"}),
            key_only_at_default_host=True,
            choose_paths=nvidia_paths,
        ),
        ApiFormat(vendors.TOGETHER, build_body=_together_body, parse_body=_token_answer),
        ApiFormat(
            vendors.FIREWORKS,
            build_body=_fireworks_body,
            parse_body=_listed_answer("data", "relevance_score"),
            # Both hosts also serve rerankers that read no instruction (bge-reranker-v2-m3): of
            # the models not in the data, only Qwen3-Reranker checkpoints are known to take one.
            instructable=is_qwen3_reranker,
        ),
        ApiFormat(
            vendors.DEEPINFRA,
            build_body=_deepinfra_body,
            parse_body=_deepinfra_answer,
            instructable=is_qwen3_reranker,
        ),
        ApiFormat(
            vendors.INFINITY, build_body=_infinity_body, parse_body=_infinity_answer, needs_model=False
        ),
        ApiFormat(vendors.LLAMACPP, build_body=_llamacpp_body, parse_body=_token_answer, needs_model=False),
        ApiFormat(
            vendors.OPENROUTER,
            build_body=_openrouter_body,
            parse_body=_openrouter_answer,
            provider_prefixed_model=True,
        ),
        ApiFormat(
            vendors.AZURE_COHERE,
            build_body=_cohere_v2_body,
            parse_body=_cohere_answer,
            options=frozenset({"max_tokens_per_doc"}),
            other_key_headers=("api-key",),
            choose_paths=azure_paths,
        ),
    )
}


# -- error bodies ----------------------------------------------------------------------------


def error_details(body: object) -> tuple[str | None, str | None]:
    """``(message, code)`` from any of the error bodies these APIs send.

    One reader serves every format because gateways pass upstream bodies through:
    ``{"message"}`` (Cohere), ``{"error": {"message", "type", "code"}}`` (vLLM, Bifrost),
    ``{"error", "error_type"}`` (TEI), ``{"detail"}`` (Jina, Voyage, NVIDIA and other FastAPI
    servers; DeepInfra's ``{"detail": {"error"}}``), ``{"type", "message"}`` (Mixedbread),
    ``{"message", "code", "type": "error"}`` (Fireworks).
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
    elif isinstance(body.get("code"), str):
        # Fireworks: {"message": ..., "param": "model", "code": "NOT_FOUND", "type": "error"}
        code = body["code"]
    elif isinstance(body.get("type"), str):
        # Mixedbread: {"type": "too_many_requests_error", "message": ...}
        code = body["type"]
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
    if isinstance(detail, Mapping) and isinstance(detail.get("error"), str):
        # DeepInfra: {"detail": {"error": "..."}}
        return str(detail["error"])
    if isinstance(detail, list):
        # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and isinstance(item.get("msg"), str):
                location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
                parts.append(f"{location}: {item['msg']}" if location else item["msg"])
        return "; ".join(parts) or None
    return None
