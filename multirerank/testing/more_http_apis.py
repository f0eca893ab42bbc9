"""More rerank APIs for the wire emulator: Voyage, Mixedbread, Pinecone, NVIDIA, Together,
Fireworks, DeepInfra, Infinity, llama.cpp, OpenRouter and Azure AI Foundry (Cohere).

Each vendor lives under its own prefix (``/voyage/v1/rerank``, ``/pinecone/rerank``...), with the
vendor's path, body shape, limits and error body (facts from :mod:`multirerank.vendors`).

Settings in ``emulator.state``:

- ``"<vendor>.api_key"``: requests must carry the key (``Api-Key`` for Pinecone, else Bearer).
- ``"<vendor>.max_documents"``: a per-request limit other than the vendor's (Pinecone: per model).
- ``"deepinfra.model"``: the one model DeepInfra serves (others get its 404); unset, those of
  the vendor data.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from multirerank.testing.http_apis import (
    Serve,
    _authorize,
    _json_object,
    _Rejected,
    _route,
    _tokens,
    _top_n,
    check_cohere_limits,
    cohere_error,
)
from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendor_spec import VendorSpec
from multirerank.vendors import (
    AZURE_COHERE,
    DEEPINFRA,
    FIREWORKS,
    INFINITY,
    LLAMACPP,
    MIXEDBREAD,
    NVIDIA,
    OPENROUTER,
    PINECONE,
    TOGETHER,
    VOYAGE,
)

# -- shared checks ---------------------------------------------------------------------------


def _query(body: dict[str, Any], key: str = "query") -> str:
    query = body.get(key)
    if not isinstance(query, str) or not query.strip():
        raise _Rejected(400, f"{key} must be a non-empty string")
    return query


def _strings(body: dict[str, Any], key: str) -> list[str]:
    values = body.get(key)
    if not isinstance(values, list) or not values:
        raise _Rejected(400, f"{key} must be a non-empty list")
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise _Rejected(400, f"{key}[{index}] must be a string")
    return values


def _check_count(emulator: Emulator, vendor: str, count: int, limit: int | None) -> None:
    limit = emulator.state.get(f"{vendor}.max_documents", limit)
    if limit is not None and count > limit:
        raise _Rejected(400, f"too many documents: {count} > {limit}")


def _openai_error(default: VendorSpec) -> Any:
    def error(status: int, code: str | None, message: str) -> Response:
        kind = (
            code
            or default.errors.code_for_status(status)
            or ("server_error" if status >= 500 else "invalid_request_error")
        )
        return Response(status, {"error": {"message": message, "type": kind, "param": None, "code": kind}})

    return error


def _results(ranked: list[tuple[int, float]], score_key: str = "relevance_score") -> list[dict[str, Any]]:
    return [{"index": index, score_key: score} for index, score in ranked]


# -- Voyage ----------------------------------------------------------------------------------


def voyage_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"detail": message})


def _voyage(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "voyage", "Provided API key is invalid.")
    body = _json_object(request)
    if not isinstance(body.get("model"), str):
        raise _Rejected(400, "model is required")
    query = _query(body)
    texts = _strings(body, "documents")
    _check_count(emulator, "voyage", len(texts), VOYAGE.limits.max_documents)
    top_k = body.get("top_k")
    ranked = emulator.ranked(query, texts)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise _Rejected(400, "top_k must be a positive integer")
        ranked = ranked[:top_k]
    return Response(
        200,
        {
            "object": "list",
            "data": _results(ranked),
            "model": body["model"],
            "usage": {"total_tokens": _tokens(query, texts)},
        },
    )


# -- Mixedbread ------------------------------------------------------------------------------


def mixedbread_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"type": code or MIXEDBREAD.errors.code_for_status(status), "message": message})


def _mixedbread_text(item: object, index: int, fields: list[str] | None) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and fields:
        return " ".join(str(item[name]) for name in fields if name in item)
    raise _Rejected(422, f"input[{index}] must be a string, or an object with rank_fields")


def _mixedbread(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "mixedbread", "Invalid API key", "unauthorized_error")
    body = _json_object(request)
    query = _query(body)
    items = body.get("input")
    if not isinstance(items, list) or not items:
        raise _Rejected(422, "input must be a non-empty list")
    fields = body.get("rank_fields")
    texts = [_mixedbread_text(item, index, fields) for index, item in enumerate(items)]
    _check_count(emulator, "mixedbread", len(texts), MIXEDBREAD.limits.max_documents)
    top_k = body.get("top_k")
    ranked = emulator.ranked(query, texts)[: top_k if isinstance(top_k, int) else None]
    tokens = _tokens(query, texts)
    return Response(
        200,
        {
            "object": "list",
            "model": body.get("model", MIXEDBREAD.default_model),
            "top_k": len(ranked),
            "return_input": False,
            "data": [{**item, "object": "rank_result"} for item in _results(ranked, "score")],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


# -- Pinecone --------------------------------------------------------------------------------


def pinecone_error(status: int, code: str | None, message: str) -> Response:
    kind = code or PINECONE.errors.code_for_status(status)
    return Response(status, {"error": {"code": kind, "message": message}, "status": status})


def _pinecone(emulator: Emulator, request: Request) -> Response:
    key = emulator.state.get("pinecone.api_key")
    if key is not None and request.header("Api-Key") != key:
        raise _Rejected(401, "Invalid API Key", "UNAUTHENTICATED")
    if not request.header("X-Pinecone-Api-Version"):
        raise _Rejected(400, "missing X-Pinecone-Api-Version header")
    body = _json_object(request)
    model = body.get("model")
    known = PINECONE.model(model) if isinstance(model, str) else None
    if known is None:
        raise _Rejected(404, f"Model '{model}' not found", "NOT_FOUND")
    query = _query(body)
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise _Rejected(400, "documents must be a non-empty list")
    fields = body.get("rank_fields", ["text"])
    if not isinstance(fields, list) or not fields:
        raise _Rejected(400, "rank_fields must be a non-empty list")
    texts = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or not all(isinstance(document.get(name), str) for name in fields):
            raise _Rejected(400, f"documents[{index}] lacks rank field(s) {fields}")
        texts.append(" ".join(document[name] for name in fields))
    _check_count(emulator, "pinecone", len(texts), known.max_documents)
    ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
    return Response(
        200,
        {
            "model": model,
            "data": _results(ranked, "score"),
            "usage": {"rerank_units": math.ceil(len(texts) / 100)},
        },
    )


# -- NVIDIA ----------------------------------------------------------------------------------


def nvidia_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"status": status, "title": "Error", "detail": message})


def _nvidia(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "nvidia", "Authentication failed")
    body = _json_object(request)
    if not isinstance(body.get("model"), str):
        raise _Rejected(422, "model: Field required")
    query = body.get("query")
    if not isinstance(query, dict) or not isinstance(query.get("text"), str) or not query["text"].strip():
        raise _Rejected(422, "query.text must be a non-empty string")
    passages = body.get("passages")
    if not isinstance(passages, list) or not passages:
        raise _Rejected(422, "passages must be a non-empty list")
    texts = []
    for index, passage in enumerate(passages):
        if not isinstance(passage, dict) or not isinstance(passage.get("text"), str):
            raise _Rejected(422, f"passages[{index}].text must be a string")
        texts.append(passage["text"])
    if body.get("truncate", "END") not in ("END", "NONE"):
        raise _Rejected(422, "truncate must be END or NONE")
    _check_count(emulator, "nvidia", len(texts), NVIDIA.limits.max_documents)
    # Logits: unbounded, unlike the emulator's 0..1 scores.
    ranked = [(index, _logit(score)) for index, score in emulator.ranked(query["text"], texts)]
    return Response(200, {"rankings": _results(ranked, "logit")})


def _logit(probability: float) -> float:
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(clipped / (1 - clipped))


# -- Together, Fireworks, OpenRouter, Infinity, llama.cpp (Cohere-like) ------------------------


def _cohere_like(vendor: str, spec: VendorSpec, *, list_key: str = "results", usage: str = "tokens") -> Serve:
    def serve(emulator: Emulator, request: Request) -> Response:
        _authorize(emulator, request, vendor, "Invalid API key", "invalid_api_key")
        body = _json_object(request)
        if spec.name not in ("infinity", "llamacpp") and not isinstance(body.get("model"), str):
            raise _Rejected(400, "model is required")
        if spec.name == "openrouter" and "/" not in str(body["model"]):
            raise _Rejected(400, "model must be provider/model")
        query = _query(body)
        texts = _strings(body, "documents")
        _check_count(emulator, vendor, len(texts), spec.limits.max_documents)
        ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
        if spec.score_scale == "logit":
            # llama.cpp sends the rank head's raw output.
            ranked = [(index, _logit(score)) for index, score in ranked]
        tokens = _tokens(query, texts)
        answer: dict[str, Any] = {
            "model": body.get("model", "default/not-specified"),
            list_key: _results(ranked),
        }
        if usage == "searches":
            answer["usage"] = {"search_units": math.ceil(len(texts) / 100)}
        else:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        if "task" in body:
            answer["task_seen"] = body["task"]
        if spec.name == "together":
            # Its OpenAPI RerankResponse: object and id, and a document on every result.
            answer.update(object="rerank", id=str(uuid.uuid4()))
            for result in answer[list_key]:
                result["document"] = {"text": texts[result["index"]]}
        return Response(200, answer)

    return serve


def fireworks_error(status: int, code: str | None, message: str) -> Response:
    """Fireworks' flat error body (see vendors.FIREWORKS)."""
    kind = code or FIREWORKS.errors.code_for_status(status)
    return Response(status, {"message": message, "param": None, "code": kind, "type": "error"})


def openrouter_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"error": {"code": status, "message": message}})


def llamacpp_error(status: int, code: str | None, message: str) -> Response:
    kind = code or ("server_error" if status >= 500 else "invalid_request_error")
    return Response(status, {"error": {"code": status, "message": message, "type": kind}})


# -- DeepInfra -------------------------------------------------------------------------------


def deepinfra_error(status: int, code: str | None, message: str) -> Response:
    return Response(status, {"detail": {"error": message}})


def _deepinfra(emulator: Emulator, request: Request) -> Response:
    _authorize(emulator, request, "deepinfra", "Invalid token")
    served = emulator.state.get("deepinfra.model")
    model = request.path.split("/v1/inference/", 1)[1]
    if model != served and (served is not None or DEEPINFRA.model(model) is None):
        raise _Rejected(404, f"Model is not available: {model}")
    body = _json_object(request)
    queries = _strings(body, "queries")
    texts = _strings(body, "documents")
    if len(queries) != len(texts):
        raise _Rejected(422, "queries and documents must have the same length")
    _check_count(emulator, "deepinfra", len(texts), DEEPINFRA.limits.max_documents)
    # Scores in input order; the usual case (one query repeated) is scored as one list.
    if len(set(queries)) == 1:
        scores = emulator.score(queries[0], texts)
    else:
        scores = [emulator.score(query, [text])[0] for query, text in zip(queries, texts, strict=True)]
    return Response(
        200,
        {
            "scores": scores,
            "input_tokens": sum(_tokens(query, [text]) for query, text in zip(queries, texts, strict=True)),
            "request_id": uuid.uuid4().hex,
            "inference_status": {"status": "succeeded", "runtime_ms": 3, "cost": 0.0},
        },
    )


# -- Azure AI Foundry (Cohere) ---------------------------------------------------------------


def _azure(emulator: Emulator, request: Request) -> Response:
    key = emulator.state.get("azure.api_key")
    # The key as a Bearer token or in an api-key header (see vendors.AZURE_COHERE).
    if key is not None and key not in (request.header("api-key"), _bearer(request)):
        raise _Rejected(401, "invalid api key")
    if request.header("Content-Length") is None:
        raise _Rejected(400, "no_content_length_header")
    body = _json_object(request)
    if not isinstance(body.get("model"), str):
        raise _Rejected(400, "invalid request: model is required")
    query = _query(body)
    texts = _strings(body, "documents")
    query_tokens = AZURE_COHERE.limits.max_query_tokens
    check_cohere_limits(emulator, "azure", body, query, len(texts), query_tokens=query_tokens)
    ranked = emulator.ranked(query, texts)[: _top_n(body, len(texts))]
    meta = {"billed_units": {"search_units": math.ceil(len(texts) / 100)}}
    return Response(200, {"id": str(uuid.uuid4()), "results": _results(ranked), "meta": meta})


def _bearer(request: Request) -> str | None:
    value = request.header("Authorization")
    return value[len("Bearer ") :] if value and value.startswith("Bearer ") else None


ROUTES: list[Route] = [
    _route("voyage", f"/voyage{VOYAGE.paths[0]}", _voyage, voyage_error, results=("data",)),
    _route(
        "mixedbread", f"/mixedbread{MIXEDBREAD.paths[0]}", _mixedbread, mixedbread_error, results=("data",)
    ),
    _route("pinecone", f"/pinecone{PINECONE.paths[0]}", _pinecone, pinecone_error, results=("data",)),
    _route("nvidia", f"/nvidia{NVIDIA.paths[0]}", _nvidia, nvidia_error, results=("rankings",)),
    _route(
        "nvidia", r"/nvidia/v1/retrieval/[^/]+/[^/]+/reranking", _nvidia, nvidia_error, results=("rankings",)
    ),
    _route(
        "together",
        f"/together{TOGETHER.paths[0]}",
        _cohere_like("together", TOGETHER),
        _openai_error(TOGETHER),
    ),
    _route(
        "fireworks",
        f"/fireworks{FIREWORKS.paths[0]}",
        _cohere_like("fireworks", FIREWORKS, list_key="data"),
        fireworks_error,
        results=("data",),
    ),
    _route("deepinfra", r"/deepinfra/v1/inference/.+", _deepinfra, deepinfra_error, results=("scores",)),
    _route(
        "infinity",
        f"/infinity{INFINITY.paths[0]}",
        _cohere_like("infinity", INFINITY),
        _openai_error(INFINITY),
    ),
    _route(
        "llamacpp", r"/llamacpp/(?:v1/)?rerank(?:ing)?", _cohere_like("llamacpp", LLAMACPP), llamacpp_error
    ),
    _route(
        "openrouter",
        f"/openrouter{OPENROUTER.paths[0]}",
        _cohere_like("openrouter", OPENROUTER, usage="searches"),
        openrouter_error,
    ),
    # Both of Azure's paths: a Foundry resource's and a serverless deployment's.
    *(_route("azure", f"/azure{path}", _azure, cohere_error) for path in AZURE_COHERE.paths),
]
