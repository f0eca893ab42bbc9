"""Cohere-compatible rerank APIs for the wire emulator: Cohere, Bifrost, vLLM, TEI and Jina.

vLLM, Jina and Bifrost all answer ``POST /v1/rerank``, so each vendor lives under its own path
prefix and a test points its client at ``emulator.url + "/vllm"`` (or ``/cohere``, ``/bifrost``,
``/tei``, ``/jina``). Cohere's ``/v2/rerank`` is also served without a prefix.

Settings in ``emulator.state``:

- ``"<vendor>.api_key"``: requests must carry ``Authorization: Bearer <key>`` (401 otherwise).
- ``"cohere.max_documents"`` (10,000, Cohere's ceiling) and ``"tei.max_batch_size"`` (32):
  per-request limits. Cohere also refuses a query over 2,048 tokens (whitespace-separated words).
- ``"tei.max_input_words"``: a query plus text longer than this is refused unless ``truncate``.
- ``"vllm.v1_missing"``: ``/vllm/v1/rerank`` answers 404 like a server without that route.
- ``"cohere.models"``: the models Cohere serves (default: those of the vendor data, and any
  fine-tune, whose id ends in ``-ft``); other names get a 404.
- ``"vllm.model"``: the one model the vLLM server serves; other names get its 404. Unset:
  :data:`VLLM_MODELS`.
- ``"bifrost.failing_providers"``: providers whose calls fail, so ``fallbacks`` serve instead.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.tokens import min_tokens
from multirerank.vendors import BIFROST, COHERE, COHERE_V1, JINA, TEI, VLLM

_WORD = re.compile(r"\w+", re.UNICODE)
#: What the emulated vLLM server serves unless told (the vendor data lists no models: a server
#: serves what it was started with): the project's examples' models.
VLLM_MODELS = frozenset(
    {"BAAI/bge-reranker-v2-m3", *(f"Qwen/Qwen3-Reranker-{size}" for size in ("0.6B", "4B", "8B"))}
)


class _Rejected(Exception):
    """A request the vendor refuses: answered with that vendor's error body."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


Serve = Callable[[Emulator, Request], Response]
ErrorBody = Callable[[int, str | None, str], Response]


def _route(
    vendor: str, pattern: str, serve: Serve, error: ErrorBody, *, results: tuple[str, ...] = ("results",)
) -> Route:
    """A POST route whose 200 answers keep their results at ``results`` (see :attr:`Route.results`)."""

    def handler(emulator: Emulator, request: Request) -> Response:
        try:
            return serve(emulator, request)
        except _Rejected as rejected:
            return error(rejected.status, rejected.code, rejected.message)

    return Route(vendor, "POST", pattern, handler, error, results=results)


# -- shared checks ---------------------------------------------------------------------------


def _authorize(
    emulator: Emulator, request: Request, vendor: str, message: str, code: str | None = None
) -> None:
    key = emulator.state.get(f"{vendor}.api_key")
    if key is not None and request.header("Authorization") != f"Bearer {key}":
        raise _Rejected(401, message, code)


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise _Rejected(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Rejected(400, "request body must be a JSON object")
    return body


def _tokens(query: str, texts: list[str]) -> int:
    query_words = len(_WORD.findall(query))
    return sum(query_words + len(_WORD.findall(text)) for text in texts)


def _top_n(body: dict[str, Any], count: int, *, zero_means_all: bool = False) -> int:
    top_n = body.get("top_n")
    if top_n is None or (zero_means_all and top_n == 0):
        return count
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise _Rejected(400, "top_n must be a positive integer")
    return min(top_n, count)


# -- Cohere ----------------------------------------------------------------------------------


def cohere_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"id": str(uuid.uuid4()), "message": message})


def _cohere(version: int) -> Serve:
    def serve(emulator: Emulator, request: Request) -> Response:
        _authorize(emulator, request, "cohere", "invalid api token")
        body = _json_object(request)
        model = body.get("model")
        if version == 2 and not isinstance(model, str):
            raise _Rejected(400, "invalid request: model is required")
        served = emulator.state.get("cohere.models", [known.name for known in COHERE.models])
        if isinstance(model, str) and model not in served and not model.endswith("-ft"):
            raise _Rejected(404, f"model '{model}' not found")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _Rejected(400, "invalid request: query must be a non-empty string")
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents:
            raise _Rejected(400, "invalid request: list of documents must not be empty")
        texts = [_cohere_text(document, index, version) for index, document in enumerate(documents)]
        check_cohere_limits(emulator, "cohere", body, query, len(texts))
        ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
        show_text = version == 1 and body.get("return_documents") is True
        results = [
            {
                "index": index,
                "relevance_score": score,
                **({"document": {"text": texts[index]}} if show_text else {}),
            }
            for index, score in ranked
        ]
        meta = {
            "api_version": {"version": str(version)},
            "billed_units": {"search_units": math.ceil(len(texts) / 100)},
        }
        return Response(200, {"id": str(uuid.uuid4()), "results": results, "meta": meta})

    return serve


def check_cohere_limits(
    emulator: Emulator,
    vendor: str,
    body: dict[str, Any],
    query: str,
    count: int,
    query_tokens: int | None = None,
) -> None:
    """Cohere's documented request limits (best-practices page): 1 to 10,000 documents, a query of
    at most 2,048 tokens (counted here as :func:`multirerank.tokens.min_tokens` counts them, the
    emulator's tokenizer; ``query_tokens`` for a host with another limit), ``max_tokens_per_doc`` a
    positive integer. The wording is the emulator's."""
    limit = emulator.state.get(f"{vendor}.max_documents", COHERE.documents_ceiling)
    if limit is not None and count > limit:
        raise _Rejected(400, f"invalid request: too many documents, got {count} but the limit is {limit}")
    known = COHERE.model(body["model"]) if isinstance(body.get("model"), str) else None
    if query_tokens is not None:
        query_limit: int | None = query_tokens
    elif known is not None and known.max_query_tokens is not None:
        query_limit = known.max_query_tokens or None  # 0: none documented (Rerank 5)
    else:
        query_limit = COHERE.limits.max_query_tokens
    tokens = min_tokens(query)
    if query_limit is not None and tokens > query_limit:
        raise _Rejected(
            400, f"invalid request: query is {tokens} tokens, but the limit is {query_limit} tokens"
        )
    cut = body.get("max_tokens_per_doc")
    if cut is not None and (isinstance(cut, bool) or not isinstance(cut, int) or cut < 1):
        raise _Rejected(400, "invalid request: max_tokens_per_doc must be a positive integer")


def _cohere_text(document: object, index: int, version: int) -> str:
    if isinstance(document, str):
        return document
    text = document.get("text") if version == 1 and isinstance(document, dict) else None
    if isinstance(text, str):
        return text
    raise _Rejected(400, f"invalid request: documents[{index}] must be a string")


# -- Bifrost ---------------------------------------------------------------------------------


def bifrost_error(status: int, code: str | None, message: str) -> Response:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["type"] = code
    return Response(status, {"is_bifrost_error": True, "status_code": status, "error": error})


def _bifrost(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "bifrost", "invalid virtual key", "authentication_error")
    body = _json_object(request)
    model = body.get("model")
    if not isinstance(model, str) or "/" not in model.strip("/"):
        raise _Rejected(400, "model should be in provider/model format", "invalid_request_error")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _Rejected(400, "query is required for rerank")
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise _Rejected(400, "documents are required for rerank")
    texts: list[str] = []
    ids: list[str | None] = []
    for index, document in enumerate(documents):
        text = document.get("text") if isinstance(document, dict) else document
        if not isinstance(text, str) or not text.strip():
            raise _Rejected(400, f"document text is required for rerank at index {index}")
        texts.append(text)
        ids.append(document.get("id") if isinstance(document, dict) else None)
    if body.get("top_n") is not None and (not isinstance(body["top_n"], int) or body["top_n"] < 1):
        raise _Rejected(400, "top_n must be at least 1")
    serving = _bifrost_serving(emulator, [model, *body.get("fallbacks", [])])
    ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
    results = [
        {"index": index, "relevance_score": score, **({"id": ids[index]} if ids[index] is not None else {})}
        for index, score in ranked
    ]
    provider, _, served_model = serving.partition("/")
    tokens = _tokens(query, texts)
    return Response(
        200,
        {
            "id": str(uuid.uuid4()),
            "results": results,
            "model": served_model,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
            "extra_fields": {
                "request_type": "rerank",
                "provider": provider,
                "model_requested": model,
                "latency": 3,
            },
        },
    )


def _bifrost_serving(emulator: Emulator, chain: list[Any]) -> str:
    """The first model of the chain whose provider is up, as the gateway's fallbacks work."""
    failing = set(emulator.state.get("bifrost.failing_providers", ()))
    for name in chain:
        if not isinstance(name, str) or "/" not in name:
            raise _Rejected(
                400, f"fallback {name!r} should be in provider/model format", "invalid_request_error"
            )
        if name.partition("/")[0] not in failing:
            return name
    response_error = f"all providers failed: {', '.join(str(name) for name in chain)}"
    raise _Rejected(503, response_error, "provider_error")


# -- vLLM ------------------------------------------------------------------------------------


def vllm_error(status: int, code: str | None, message: str) -> Response:
    kind = code or VLLM.errors.code_for_status(status)
    return Response(status, {"error": {"message": message, "type": kind, "param": None, "code": status}})


def _vllm(*, v1: bool) -> Serve:
    def serve(emulator: Emulator, request: Request) -> Response:
        if v1 and emulator.state.get("vllm.v1_missing"):
            return Response(404, {"detail": "Not Found"})
        key = emulator.state.get("vllm.api_key")
        if key is not None and request.header("Authorization") != f"Bearer {key}":
            return Response(401, {"error": "Unauthorized"})
        body = _json_object(request)
        served = emulator.state.get("vllm.model")
        model = body.get("model", served or "BAAI/bge-reranker-v2-m3")
        if model != served and (served is not None or model not in VLLM_MODELS):
            raise _Rejected(404, f"The model `{model}` does not exist.", "NotFoundError")
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise _Rejected(400, "query must be a non-empty string")
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
            raise _Rejected(400, "documents must be a non-empty list of strings")
        ranked = emulator.ranked(query, documents)[: _top_n(body, len(documents), zero_means_all=True)]
        results = [
            {"index": index, "document": {"text": documents[index]}, "relevance_score": score}
            for index, score in ranked
        ]
        return Response(
            200,
            {
                "id": f"rerank-{uuid.uuid4().hex}",
                "model": model,
                "usage": {"total_tokens": _tokens(query, documents)},
                "results": results,
            },
        )

    return serve


# -- Hugging Face TEI ------------------------------------------------------------------------


def tei_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"error": message, "error_type": code or TEI.errors.code_for_status(status)})


def _tei(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "tei", "Unauthorized", "Unauthorized")
    body = _json_object(request)
    query = body.get("query")
    texts = body.get("texts")
    if not isinstance(query, str) or not query:
        raise _Rejected(400, "`query` cannot be empty", "Empty")
    if not isinstance(texts, list) or not texts:
        raise _Rejected(400, "`texts` cannot be empty", "Empty")
    if not all(isinstance(text, str) for text in texts):
        raise _Rejected(422, "`texts` must be a list of strings", "Validation")
    limit = emulator.state.get("tei.max_batch_size", TEI.limit("max_documents"))
    if len(texts) > limit:
        raise _Rejected(422, f"batch size {len(texts)} > maximum allowed batch size {limit}", "Validation")
    window = emulator.state.get("tei.max_input_words")
    if window is not None and body.get("truncate") is not True:
        for text in texts:
            words = _tokens(query, [text])
            if words > window:
                raise _Rejected(
                    413,
                    f"Input validation error: `inputs` must have less than {window} tokens. Given: {words}",
                    "Validation",
                )
    results = []
    for index, score in emulator.ranked(query, texts):
        value = _logit(score) if body.get("raw_scores") is True else score
        results.append(
            {"index": index, "score": value, **({"text": texts[index]} if body.get("return_text") else {})}
        )
    return Response(200, results)


def _logit(probability: float) -> float:
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(clipped / (1 - clipped))


# -- Jina ------------------------------------------------------------------------------------


def jina_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"detail": message})


def _jina(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "jina", "Invalid API key. Please get a new API key from https://jina.ai")
    body = _json_object(request)
    missing = [name for name in ("model", "query", "documents") if name not in body]
    if missing:
        raise _Rejected(422, "; ".join(f"{name}: Field required" for name in missing))
    query = body["query"]
    documents = body["documents"]
    if not isinstance(query, str) or not query.strip():
        raise _Rejected(400, "query must be a non-empty string")
    if not isinstance(documents, list) or not documents:
        raise _Rejected(400, "documents must be a non-empty list")
    texts = [_jina_text(document, index) for index, document in enumerate(documents)]
    ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
    show_text = body.get("return_documents", True) is not False
    results = [
        {
            "index": index,
            "relevance_score": score,
            **({"document": {"text": texts[index]}} if show_text else {}),
        }
        for index, score in ranked
    ]
    tokens = _tokens(query, texts)
    return Response(
        200,
        {
            "model": body["model"],
            "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
            "results": results,
        },
    )


def _jina_text(document: object, index: int) -> str:
    if isinstance(document, str):
        return document
    text = document.get("text") if isinstance(document, dict) else None
    if isinstance(text, str):
        return text
    raise _Rejected(422, f"documents.{index}: Input should be a valid string")


# Each vendor under its own prefix; vLLM also serves /v2/rerank, which no client here asks for.
ROUTES: list[Route] = [
    _route("cohere", f"/cohere{COHERE.paths[0]}", _cohere(2), cohere_error),
    _route("cohere", COHERE.paths[0], _cohere(2), cohere_error),
    _route("cohere", f"/cohere{COHERE_V1.paths[0]}", _cohere(1), cohere_error),
    _route("bifrost", f"/bifrost{BIFROST.paths[0]}", _bifrost, bifrost_error),
    _route("vllm", f"/vllm{VLLM.paths[0]}", _vllm(v1=True), vllm_error),
    _route("vllm", r"/vllm/(?:v2/)?rerank", _vllm(v1=False), vllm_error),
    _route("tei", f"/tei{TEI.paths[0]}", _tei, tei_error, results=()),  # a bare list
    _route("jina", f"/jina{JINA.paths[0]}", _jina, jina_error),
]
