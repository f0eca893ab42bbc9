"""Alibaba DashScope text rerank on the emulator: the native path and the OpenAI-compatible one.

Point the SDK at it per call with ``base_address=f"{emulator.url}/api/v1"`` (the backend's
``base_url``). Every key is accepted except when ``emulator.state`` restricts them.

Optional ``emulator.state`` keys:

- ``dashscope_api_keys``: the only keys accepted (any non-empty key when absent);
- ``dashscope_models``: models served (:data:`SERVED_MODELS` when absent);
- ``dashscope_max_documents``: documents per request (500).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendors import DASHSCOPE

VENDOR = "dashscope"
RERANK_PATH, COMPATIBLE_PATH = DASHSCOPE.paths
MAX_DOCUMENTS = DASHSCOPE.limit("max_documents")
MAX_TEXT_TOKENS = DASHSCOPE.max_text_tokens
#: Tokens one request may carry (query tokens x documents + document tokens), per model; models
#: without a documented budget get the smallest, as the backend assumes.
MODEL_TOKEN_BUDGETS = {model.name: model.token_budget for model in DASHSCOPE.models if model.token_budget}
SERVED_MODELS = frozenset(model.name for model in DASHSCOPE.models)
#: Models that answer on the OpenAI-compatible endpoint.
COMPATIBLE_MODELS = frozenset({"qwen3-rerank"})

# A CJK character is about one token; other scripts count by words and punctuation marks.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W\u3040-\u9fff]+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A rough token count, capped as the service caps each text."""
    return min(len(_TOKEN.findall(text)), MAX_TEXT_TOKENS)


def error(status: int, code: str | None, message: str) -> Response:
    """The native error body: ``{"request_id", "code", "message"}``."""
    code = code or DASHSCOPE.errors.code_for_status(status)
    return Response(status, {"request_id": str(uuid.uuid4()), "code": code, "message": message})


def compatible_error(status: int, code: str | None, message: str) -> Response:
    """The OpenAI-compatible error body: ``{"error": {message, type, param, code}, "request_id"}``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {
        "error": {
            "message": message,
            "type": kind,
            "param": None,
            "code": code or DASHSCOPE.errors.status_code(status),
        },
        "request_id": str(uuid.uuid4()),
    }
    return Response(status, body)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.status, self.code = status, code
        self.message = message or DASHSCOPE.errors.message(code) or code


def _check_key(emulator: Emulator, request: Request) -> None:
    scheme, _, key = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _Refused(401, "InvalidApiKey", "No API-key provided.")
    allowed = emulator.state.get("dashscope_api_keys")
    if allowed is not None and key.strip() not in allowed:
        raise _Refused(401, "InvalidApiKey")


def _check_model(emulator: Emulator, model: object) -> str:
    if not isinstance(model, str) or not model:
        raise _Refused(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.')
    if model not in emulator.state.get("dashscope_models", SERVED_MODELS):
        raise _Refused(400, "Model.NotExist", "Model not exist.")
    return model


def _check_texts(emulator: Emulator, model: str, query: object, documents: object) -> tuple[str, list[str]]:
    if not isinstance(query, str) or not query.strip():
        raise _Refused(400, "InvalidParameter", "Field required: input.query must be a non-empty string")
    if not isinstance(documents, list) or not documents:
        raise _Refused(400, "InvalidParameter", "Field required: input.documents must be a non-empty list")
    limit = emulator.state.get("dashscope_max_documents", MAX_DOCUMENTS)
    if len(documents) > limit:
        raise _Refused(
            400,
            "InvalidParameter",
            f"The number of documents ({len(documents)}) exceeds the limit of {limit}.",
        )
    for position, document in enumerate(documents):
        if not isinstance(document, str) or not document.strip():
            raise _Refused(400, "InvalidParameter", f"input.documents[{position}] must be a non-empty string")
    budget = MODEL_TOKEN_BUDGETS.get(model, min(MODEL_TOKEN_BUDGETS.values()))
    total = _request_tokens(query, documents)
    if total > budget:
        raise _Refused(
            400,
            "InvalidParameter",
            f"Request tokens ({total}) exceed the limit of {budget} for model {model}.",
        )
    return query, documents


def _request_tokens(query: str, documents: list[str]) -> int:
    query_tokens = count_tokens(query)
    return sum(query_tokens + count_tokens(document) for document in documents)


def _check_top_n(top_n: object) -> int | None:
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise _Refused(400, "InvalidParameter", "top_n must be a positive integer")
    return top_n


def _ranked_results(
    emulator: Emulator, query: str, documents: list[str], top_n: int | None, with_documents: bool
) -> list[dict[str, Any]]:
    ranked = emulator.ranked(query, documents)
    results: list[dict[str, Any]] = []
    for index, score in ranked[:top_n] if top_n is not None else ranked:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if with_documents:
            result["document"] = {"text": documents[index]}
        results.append(result)
    return results


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise _Refused(400, "InvalidParameter", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _Refused(400, "InvalidParameter", "The request body must be a JSON object.")
    return body


def _rerank(emulator: Emulator, request: Request) -> Response:
    try:
        _check_key(emulator, request)
        body = _body(request)
        model = _check_model(emulator, body.get("model"))
        given = body.get("input")
        if not isinstance(given, dict):
            raise _Refused(400, "BadRequest.EmptyInput", "Required input parameter missing from request.")
        query, documents = _check_texts(emulator, model, given.get("query"), given.get("documents"))
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _Refused(400, "InvalidParameter", "parameters must be an object")
        top_n = _check_top_n(parameters.get("top_n"))
    except _Refused as refused:
        return error(refused.status, refused.code, refused.message)
    results = _ranked_results(emulator, query, documents, top_n, bool(parameters.get("return_documents")))
    return Response(
        200,
        {
            "output": {"results": results},
            "usage": {"total_tokens": _request_tokens(query, documents)},
            "request_id": str(uuid.uuid4()),
        },
    )


def _compatible_rerank(emulator: Emulator, request: Request) -> Response:
    try:
        _check_key(emulator, request)
        body = _body(request)
        model = _check_model(emulator, body.get("model"))
        if model not in COMPATIBLE_MODELS:
            raise _Refused(
                404, "model_not_found", f"The model {model} is not served on the compatible endpoint."
            )
        query, documents = _check_texts(emulator, model, body.get("query"), body.get("documents"))
        top_n = _check_top_n(body.get("top_n"))
    except _Refused as refused:
        return compatible_error(refused.status, refused.code, refused.message)
    return Response(
        200,
        {
            "id": str(uuid.uuid4()),
            "object": "list",
            "model": model,
            "results": _ranked_results(emulator, query, documents, top_n, with_documents=True),
            "usage": {"total_tokens": _request_tokens(query, documents)},
        },
    )


ROUTES = [
    Route(VENDOR, "POST", RERANK_PATH, _rerank, error),
    Route(VENDOR, "POST", COMPATIBLE_PATH, _compatible_rerank, compatible_error),
]
