"""IBM watsonx.ai on the emulator: the endpoints ``ibm-watsonx-ai`` calls to authenticate and rerank.

Serve it with ``Emulator(tls=True)`` (the SDK refuses plain HTTP) and give the client ``verify=False``.
A URL that is not an IBM Cloud URL puts the SDK in Cloud Pak for Data mode (version check, then
``/icp4d-api/v1/authorize`` for username + password or API key); IBM Cloud IAM is reached with
``platform_url=<emulator>`` and ``auth_url=<emulator>/identity/token``. Tokens are HS256 JWTs signed
with a key private to each emulator; :func:`issue_token` mints one for ``token=`` authentication.

Optional ``emulator.state`` keys:

- ``watsonx_api_keys``: API keys accepted by IAM and CPD (any non-empty key when absent);
- ``watsonx_users``: CPD ``{username: password or API key}`` (any non-empty pair when absent);
- ``watsonx_projects`` / ``watsonx_spaces``: ids that exist (any id when absent);
- ``watsonx_models``: rerank models served (:data:`DEFAULT_MODELS` when absent);
- ``watsonx_max_inputs``: inputs per rerank request (the API documents no limit: none when absent);
- ``watsonx_version``: what the CPD version endpoint reports (``"5.2.0"``);
- ``watsonx_token_ttl``: lifetime of issued tokens in seconds (3600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendors import WATSONX

VENDOR = "watsonx"
RERANK_PATH = WATSONX.paths[0]
DEFAULT_MODELS = frozenset(model.name for model in WATSONX.models)
IAM_GRANT_TYPE = "urn:ibm:params:oauth:grant-type:apikey"
MORE_INFO = "https://cloud.ibm.com/apidocs/watsonx-ai"

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
# Keeps logits finite when the scorer says exactly 0 or 1.
_LOGIT_CLIP = 1e-4


# -- tokens -----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(emulator: Emulator) -> bytes:
    key: bytes = emulator.state.setdefault("watsonx_signing_key", secrets.token_bytes(32))
    return key


def issue_token(emulator: Emulator, subject: str = "emulated-user", ttl: float | None = None) -> str:
    """A JWT this emulator accepts, expiring ``ttl`` seconds from now (``watsonx_token_ttl`` or 3600)."""
    lifetime = ttl if ttl is not None else float(emulator.state.get("watsonx_token_ttl", 3600))
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": subject, "iss": "multirerank-emulator", "iat": now, "exp": int(now + lifetime)}
    payload = _b64url(json.dumps(claims).encode())
    signature = hmac.new(_signing_key(emulator), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def _token_problem(emulator: Emulator, request: Request) -> str | None:
    """Why the request's bearer token is refused, or None when it is good."""
    authorization = request.header("Authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "Failed to authenticate the request due to missing or non-bearer authorization"
    parts = token.split(".")
    if len(parts) != 3:
        return "Failed to authenticate the request due to invalid token: Failed to parse and verify token"
    expected = hmac.new(_signing_key(emulator), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        valid = hmac.compare_digest(_b64url_decode(parts[2]), expected)
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, TypeError):
        valid, claims = False, {}
    if not valid:
        return "Failed to authenticate the request due to invalid token: Failed to parse and verify token"
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= time.time():
        return "Failed to authenticate the request due to an expired token"
    return None


# -- error bodies -----------------------------------------------------------------------------


def error(status: int, code: str | None, message: str) -> Response:
    """The watsonx.ai error body: ``{"errors": [{code, message, more_info}], "trace", "status_code"}``."""
    body = {
        "errors": [
            {
                "code": code or WATSONX.errors.status_code(status) or "error",
                "message": message,
                "more_info": MORE_INFO,
            }
        ],
        "trace": uuid.uuid4().hex,
        "status_code": status,
    }
    return Response(status, body)


def iam_error(status: int, code: str | None, message: str) -> Response:
    """IBM Cloud IAM's error body."""
    body = {
        "errorCode": code or "BXNIM0415E",
        "errorMessage": message,
        "context": {"requestId": uuid.uuid4().hex},
    }
    return Response(status, body)


def cpd_error(status: int, code: str | None, message: str) -> Response:
    """Cloud Pak for Data's authorize error body."""
    return Response(status, {"_messageCode_": code or str(status), "message": message})


# -- authentication ---------------------------------------------------------------------------


def _version(emulator: Emulator, request: Request) -> Response:
    return Response(200, {"version": emulator.state.get("watsonx_version", "5.2.0")})


def _iam_token(emulator: Emulator, request: Request) -> Response:
    form = parse_qs(request.body.decode("utf-8", "replace"))
    grant_type = form.get("grant_type", [""])[0]
    api_key = form.get("apikey", [""])[0]
    if grant_type != IAM_GRANT_TYPE:
        return iam_error(400, "BXNIM0109E", f"Property 'grant_type' has an unsupported value: {grant_type!r}")
    allowed = emulator.state.get("watsonx_api_keys")
    if not api_key or (allowed is not None and api_key not in allowed):
        return iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
    ttl = int(emulator.state.get("watsonx_token_ttl", 3600))
    return Response(
        200,
        {
            "access_token": issue_token(emulator, "iam-apikey-user", ttl),
            "refresh_token": "not_supported",
            "token_type": "Bearer",
            "expires_in": ttl,
            "expiration": int(time.time()) + ttl,
            "scope": "ibm openid",
        },
    )


def _cpd_authorize(emulator: Emulator, request: Request) -> Response:
    try:
        body = request.json()
    except ValueError:
        return cpd_error(400, None, "Request body is not valid JSON")
    if not isinstance(body, dict):
        return cpd_error(400, None, "Request body must be a JSON object")
    username = body.get("username")
    secret = body.get("api_key", body.get("password"))
    users = emulator.state.get("watsonx_users")
    api_keys = emulator.state.get("watsonx_api_keys")
    if users is not None:
        known = username in users and users[username] == secret
    elif "api_key" in body and api_keys is not None:
        known = secret in api_keys
    else:
        known = True
    if not username or not secret or not known:
        return cpd_error(401, None, "Invalid username or password")
    return Response(
        200, {"_messageCode_": "200", "message": "Success", "token": issue_token(emulator, username)}
    )


def _scope(kind: str, state_key: str) -> Callable[[Emulator, Request], Response]:
    def handler(emulator: Emulator, request: Request) -> Response:
        problem = _token_problem(emulator, request)
        if problem is not None:
            return error(401, None, problem)
        assert request.match is not None
        scope_id = request.match.group(1)
        existing = emulator.state.get(state_key)
        if existing is not None and scope_id not in existing:
            return error(404, "does_not_exist", f"{kind.capitalize()} {scope_id} does not exist")
        compute = [
            {"type": "machine_learning", "guid": "emulated-wml-instance", "name": "Watson Machine Learning"}
        ]
        return Response(
            200,
            {
                "metadata": {"guid": scope_id, "id": scope_id},
                "entity": {"name": f"emulated {kind}", "storage": {"type": "assetfiles"}, "compute": compute},
            },
        )

    return handler


# -- rerank -----------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error(status, code, message)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(400, "invalid_input_argument", f"Invalid value for '{name}': expected an integer >= 1")
    return value


def _parameters(body: dict[str, Any]) -> tuple[int | None, int | None, bool, bool]:
    """``(truncate_input_tokens, top_n, return inputs, return query)`` from ``parameters``."""
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _Invalid(400, "json_validation_error", "'parameters' must be an object")
    truncate = parameters.get("truncate_input_tokens")
    if truncate is not None:
        truncate = _positive_int(truncate, "parameters.truncate_input_tokens")
    options = parameters.get("return_options") or {}
    if not isinstance(options, dict):
        raise _Invalid(400, "json_validation_error", "'parameters.return_options' must be an object")
    top_n = options.get("top_n")
    if top_n is not None:
        top_n = _positive_int(top_n, "parameters.return_options.top_n")
    return truncate, top_n, bool(options.get("inputs")), bool(options.get("query"))


def _texts(body: dict[str, Any], emulator: Emulator) -> list[str]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _Invalid(
            400, "json_validation_error", "'inputs' is a required property and must be a non-empty array"
        )
    limit = emulator.state.get("watsonx_max_inputs")
    if limit is not None and len(inputs) > limit:
        raise _Invalid(
            400,
            "invalid_input_argument",
            f"The number of inputs ({len(inputs)}) exceeds the maximum of {limit}",
        )
    texts = []
    for position, item in enumerate(inputs):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text:
            raise _Invalid(
                400, "json_validation_error", f"'inputs[{position}].text' must be a non-empty string"
            )
        texts.append(text)
    return texts


def _check_scope(body: dict[str, Any], emulator: Emulator) -> None:
    project, space = body.get("project_id"), body.get("space_id")
    if (project is None) == (space is None):
        raise _Invalid(
            400, "invalid_input_argument", "Exactly one of 'project_id' or 'space_id' must be specified"
        )
    kind, value = ("project", project) if project is not None else ("space", space)
    existing = emulator.state.get(f"watsonx_{kind}s")
    if existing is not None and value not in existing:
        raise _Invalid(403, "authorization_rejected", f"The {kind} {value} is not accessible to this user")


def _tokens(text: str) -> int:
    return len(_WORD.findall(text))


def _logit(probability: float) -> float:
    clipped = min(max(probability, _LOGIT_CLIP), 1.0 - _LOGIT_CLIP)
    return round(math.log(clipped / (1.0 - clipped)), 6)


def _rerank(emulator: Emulator, request: Request) -> Response:
    problem = _token_problem(emulator, request)
    if problem is not None:
        return error(401, None, problem)
    try:
        version = request.query.get("version", [""])[0]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
            raise _Invalid(
                400, "invalid_input_argument", "Missing or invalid query parameter 'version' (YYYY-MM-DD)"
            )
        try:
            body = request.json()
        except ValueError:
            raise _Invalid(400, "json_validation_error", "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _Invalid(400, "json_validation_error", "The request body must be a JSON object")
        model_id, query = body.get("model_id"), body.get("query")
        if not isinstance(model_id, str) or not model_id:
            raise _Invalid(400, "json_validation_error", "'model_id' is a required property")
        if not isinstance(query, str) or not query:
            raise _Invalid(
                400, "json_validation_error", "'query' is a required property and must be non-empty"
            )
        texts = _texts(body, emulator)
        truncate, top_n, with_inputs, with_query = _parameters(body)
        _check_scope(body, emulator)
        if model_id not in emulator.state.get("watsonx_models", DEFAULT_MODELS):
            raise _Invalid(404, "model_not_supported", f"Model '{model_id}' is not supported")
    except _Invalid as invalid:
        return invalid.response
    ranked = emulator.ranked(query, texts)
    if top_n is not None:
        ranked = ranked[:top_n]
    results: list[dict[str, Any]] = []
    for index, score in ranked:
        result: dict[str, Any] = {"index": index, "score": _logit(score)}
        if with_inputs:
            result["input"] = {"text": texts[index]}
        results.append(result)
    query_tokens = _tokens(query)
    pair_tokens = [query_tokens + _tokens(text) for text in texts]
    answer: dict[str, Any] = {
        "model_id": model_id,
        "results": results,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "input_token_count": sum(min(count, truncate) if truncate else count for count in pair_tokens),
    }
    if with_query:
        answer["query"] = query
    return Response(200, answer)


ROUTES = [
    # The token services and the SDK's set-up lookups are not counted by an emulator's rate_limit.
    *(
        Route(VENDOR, method, pattern, handler, answer, rate_limited=False)
        for method, pattern, handler, answer in (
            ("GET", r"/ml/wml_services/v2/version", _version, error),
            ("POST", r"/identity/token", _iam_token, iam_error),
            ("POST", r"/icp4d-api/v1/authorize", _cpd_authorize, cpd_error),
            ("GET", r"/v2/projects/([^/]+)", _scope("project", "watsonx_projects"), error),
            ("GET", r"/v2/spaces/([^/]+)", _scope("space", "watsonx_spaces"), error),
        )
    ),
    Route(VENDOR, "POST", RERANK_PATH, _rerank, error),
]
