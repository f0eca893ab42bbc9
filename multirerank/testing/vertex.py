"""Google Vertex AI Ranking API on the emulator: ``rankingConfigs.rank`` (v1, v1beta, v1alpha) over
REST, and an OAuth token endpoint for google-auth's refresh.

Point the backend at it with ``base_url=emulator.url`` and google-auth credentials, e.g.
``google.oauth2.credentials.Credentials(token="ya29.x")``, or user credentials with
``token_uri=f"{emulator.url}{TOKEN_PATH}"`` to exercise a refresh. A rank request needs a Bearer
token (any, unless ``emulator.state`` restricts them); errors come in Google's shape
``{"error": {"code", "message", "status", "details"}}``.

Optional ``emulator.state`` keys:

- ``vertex_tokens``: the only access tokens accepted (a set; tokens the token endpoint issues are
  added to it);
- ``vertex_refresh_tokens``: the only refresh tokens the token endpoint accepts;
- ``vertex_models``: models served (:data:`SERVED_MODELS` when absent);
- ``vertex_max_records``: records per request (200).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendors import VERTEX

VENDOR = "vertex"
#: The rank path of every API version, with the project, location and config as groups.
RANK_PATTERN = r"/v1(?:beta|alpha)?/projects/([^/]+)/locations/([^/]+)/rankingConfigs/([^/:]+):rank"
TOKEN_PATH = "/token"
MAX_RECORDS = VERTEX.limit("max_documents")
SERVED_MODELS = frozenset(model.name for model in VERTEX.models)
#: The v1 reference: a score near zero is sent as this rather than 0.
MIN_SCORE = 0.0001
#: What the statuses' Google texts say, for errors a test injects without a message of its own.
_STATUSES = {row.code: row.statuses[0] for row in VERTEX.errors.codes}


def error(status: int, code: str | None, message: str) -> Response:
    """Google's JSON error: ``{"error": {"code": <HTTP status>, "message", "status", "details": []}}``."""
    code = code or VERTEX.errors.code_for_status(status)
    return Response(status, {"error": {"code": status, "message": message, "status": code, "details": []}})


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> Response:
        return error(_STATUSES[self.code], self.code, self.message)


def _check_token(emulator: Emulator, request: Request) -> None:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Refused(
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access token.",
        )
    allowed = emulator.state.get("vertex_tokens")
    if allowed is not None and token.strip() not in allowed:
        raise _Refused("UNAUTHENTICATED", "Request had invalid authentication credentials.")


def _records(emulator: Emulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise _Refused("INVALID_ARGUMENT", "records must not be empty.")
    limit = emulator.state.get("vertex_max_records", MAX_RECORDS)
    if len(records) > limit:
        raise _Refused(
            "INVALID_ARGUMENT", f"Number of records ({len(records)}) exceeds the maximum of {limit}."
        )
    seen: set[str] = set()
    for position, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise _Refused("INVALID_ARGUMENT", f"records[{position}].id must be a non-empty string.")
        if record["id"] in seen:
            raise _Refused("INVALID_ARGUMENT", f"records[{position}].id {record['id']!r} is repeated.")
        seen.add(record["id"])
        texts = [record.get(name) for name in ("title", "content")]
        if not any(isinstance(text, str) and text.strip() for text in texts):
            raise _Refused("INVALID_ARGUMENT", f"records[{position}] needs a title or content.")
    return records


def _top_n(value: object) -> int | None:
    # proto3 JSON takes an int32 as a number or a string; unset or <= 0 means every record.
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused("INVALID_ARGUMENT", "Invalid value at 'top_n' (TYPE_INT32).")
    return value if value > 0 else None


def _rank(emulator: Emulator, request: Request) -> Response:
    try:
        _check_token(emulator, request)
        try:
            body = request.json()
        except ValueError:
            raise _Refused("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise _Refused("INVALID_ARGUMENT", "Invalid JSON payload received: not an object.")
        model = body.get("model")
        # Unverified: which status Google gives an unknown model; INVALID_ARGUMENT is assumed.
        if model is not None and model not in emulator.state.get("vertex_models", SERVED_MODELS):
            raise _Refused("INVALID_ARGUMENT", f"Model {model} is not supported.")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _Refused("INVALID_ARGUMENT", "query must not be empty.")
        records = _records(emulator, body)
        top_n = _top_n(body.get("topN"))
    except _Refused as refused:
        return refused.response()
    texts = [
        "\n".join(str(record[name]) for name in ("title", "content") if record.get(name))
        for record in records
    ]
    ranked = emulator.ranked(query, texts)
    brief = bool(body.get("ignoreRecordDetailsInResponse"))
    answered = []
    for position, score in ranked[:top_n] if top_n is not None else ranked:
        record = records[position]
        item: dict[str, Any] = {"id": record["id"]}
        if not brief:
            item.update({name: record[name] for name in ("title", "content") if name in record})
        item["score"] = max(score, MIN_SCORE)
        answered.append(item)
    return Response(200, {"records": answered})


def _token_error(status: int, code: str | None, message: str) -> Response:
    """The OAuth token endpoint's error: ``{"error": <code>, "error_description": <message>}``."""
    return Response(
        status,
        {
            "error": code or ("invalid_grant" if status < 500 else "internal_failure"),
            "error_description": message,
        },
    )


def _token(emulator: Emulator, request: Request) -> Response:
    """A refresh-token grant, answered with a new access token valid for an hour."""
    form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
        return _token_error(400, "unsupported_grant_type", "Only refresh_token grants are emulated.")
    allowed = emulator.state.get("vertex_refresh_tokens")
    if allowed is not None and form["refresh_token"] not in allowed:
        return _token_error(400, "invalid_grant", "Token has been expired or revoked.")
    token = f"ya29.emulated-{secrets.token_urlsafe(24)}"
    issued = emulator.state.get("vertex_tokens")
    if issued is not None:
        issued.add(token)
    return Response(
        200,
        {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": form.get("scope", "")},
    )


ROUTES = [
    Route(VENDOR, "POST", RANK_PATTERN, _rank, error, results=("records",)),
    Route(VENDOR, "POST", TOKEN_PATH, _token, _token_error, rate_limited=False),
]
