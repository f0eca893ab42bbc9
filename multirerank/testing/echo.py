"""Vendors that echo a request's credentials back in their error answers, for the emulator.

Some do (DashScope's ``"Invalid API-key provided: <the key>"``, an auth endpoint quoting the key
or password it refused, a proxy's error page quoting the request's headers), and nothing the
project shows may then carry them. ``Fault(status=401, echo="message")`` makes the emulator one of
them: what the request carried as credentials (:func:`request_credentials`) goes into the error
answer, as :data:`ECHOES` describes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from multirerank.testing.server import Request, Response

#: Where ``Fault(echo=...)`` puts the credentials: ``"message"`` appends them to the vendor's error
#: message; ``"body"`` adds them to the vendor's error body as a field of its own
#: (``"received_credentials"``); ``"text"`` answers a plain-text body (not the vendor's JSON)
#: quoting them, as a proxy's error page might.
ECHOES = ("message", "body", "text")

#: Header names carrying credentials when they contain one of these (Authorization, X-Api-Key,
#: X-Amz-Security-Token...).
_SECRET_HEADER_WORDS = ("key", "token", "secret", "auth", "password", "credential")
#: Credential headers whose names say nothing of it: Bifrost's virtual key, session cookies.
_SECRET_HEADERS = frozenset({"x-bf-vk", "cookie"})
#: Body fields carrying credentials: IBM IAM's form (``apikey``), Cloud Pak for Data's
#: authorize request (``api_key``, ``password``), OAuth-style token requests.
_SECRET_FIELDS = frozenset({"apikey", "api_key", "password", "token", "client_secret", "refresh_token"})


def request_credentials(request: Request) -> list[str]:
    """What ``request`` carried as credentials, each as ``name=value``: header values whose names
    say so (the whole ``Authorization`` header, AWS's signature header with its access key id,
    ``X-Amz-Security-Token``), and keys and passwords in a form or JSON body."""
    found = [
        f"{name}={value}" for name, value in request.headers.items() if _is_secret_header(name) and value
    ]
    for name, value in _body_fields(request).items():
        if name.lower() in _SECRET_FIELDS and isinstance(value, str) and value:
            found.append(f"{name}={value}")
    return found


def refusal(
    error: Callable[[int, str | None, str], Response],
    status: int,
    code: str | None,
    message: str,
    echo: str | None,
    request: Request,
) -> Response:
    """A vendor's error answer (``error`` makes its body) carrying ``request``'s credentials as
    ``echo`` says (see :data:`ECHOES`; ``None``: not at all)."""
    if echo is None:
        return error(status, code, message)
    echoed = request_credentials(request)
    if echo == "message":
        return error(status, code, f"{message}: {'; '.join(echoed)}" if echoed else message)
    response = error(status, code, message)
    if echo == "body" and isinstance(response.body, dict):
        response.body = {**response.body, "received_credentials": echoed}
    elif echo == "text":
        response.raw = (f"{message}; the request carried " + "; ".join(echoed)).encode("utf-8")
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


def check_echo(echo: object) -> None:
    """Refuse an ``echo`` that is not one of :data:`ECHOES` (or ``None``)."""
    if echo is not None and echo not in ECHOES:
        raise ValueError(f"echo must be one of {', '.join(ECHOES)}; got {echo!r}")


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_HEADER_WORDS)


def _body_fields(request: Request) -> dict[str, Any]:
    """The top-level fields of a JSON object body or a form body; nothing for any other body."""
    text = request.body.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if "form" in (request.header("Content-Type") or ""):
        return {name: values[0] for name, values in parse_qs(text).items() if values}
    return {}
