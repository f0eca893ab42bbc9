"""Bedrock Agent Runtime ``POST /rerank`` as boto3 sees it: rest-json shapes, limits and errors.

Settings in ``emulator.state``: ``"bedrock.page_size"`` (an int) answers that many results per
page with a ``nextToken`` the client sends back for the next one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendors import BEDROCK

VENDOR = "bedrock"
MAX_TEXT_CHARS = BEDROCK.limit("max_document_chars")
MAX_SOURCES = BEDROCK.limit("max_documents")
# numberOfResults has the same bound as the sources (the API model).
MAX_RESULTS = MAX_SOURCES
MODEL_ARN = re.compile(BEDROCK.model_pattern)
_ARN_REGION = re.compile(r"^arn:[^:]+:bedrock:([a-z0-9-]+)::")
_SIGNING_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


def error(status: int, code: str | None, message: str) -> Response:
    """A rest-json error: the code in ``x-amzn-ErrorType``, the message in the body."""
    code = code or BEDROCK.errors.code_for_status(status)
    return Response(
        status,
        {"message": message},
        headers={
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def _validation(problems: list[str]) -> Response:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return error(400, "ValidationException", f"{count} validation {noun} detected: {'; '.join(problems)}")


def _text_problems(value: object, where: str) -> Iterator[str]:
    if not isinstance(value, str):
        yield f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
    elif not 1 <= len(value) <= MAX_TEXT_CHARS:
        yield (
            f"Value at '{where}' failed to satisfy constraint: Member must have length "
            f"{'greater than or equal to 1' if not value else f'less than or equal to {MAX_TEXT_CHARS}'}"
        )


def _length_problems(items: object, where: str, maximum: int) -> Iterator[str]:
    if not isinstance(items, list):
        yield f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
    elif not 1 <= len(items) <= maximum:
        bound = "greater than or equal to 1" if not items else f"less than or equal to {maximum}"
        yield f"Value '{len(items)}' at '{where}' failed to satisfy constraint: Member must have length {bound}"


def _field(value: object, *keys: str) -> Any:
    """``value[key1][key2]...``, or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _problems(body: dict[str, Any], signing_region: str | None) -> Iterator[str]:
    queries, sources = body.get("queries"), body.get("sources")
    yield from _length_problems(queries, "queries", 1)
    for number, query in enumerate(queries if isinstance(queries, list) else [], start=1):
        yield from _text_problems(
            _field(query, "textQuery", "text"), f"queries.{number}.member.textQuery.text"
        )
    yield from _length_problems(sources, "sources", MAX_SOURCES)
    for number, source in enumerate(sources if isinstance(sources, list) else [], start=1):
        inline = _field(source, "inlineDocumentSource")
        where = f"sources.{number}.member.inlineDocumentSource"
        if not isinstance(inline, dict) or inline.get("type") not in ("TEXT", "JSON"):
            yield f"Value at '{where}.type' failed to satisfy constraint: Member must satisfy enum value set: [TEXT, JSON]"
        elif inline["type"] == "TEXT":
            yield from _text_problems(_field(inline, "textDocument", "text"), f"{where}.textDocument.text")
        elif "jsonDocument" not in inline:
            yield f"Value null at '{where}.jsonDocument' failed to satisfy constraint: Member must not be null"
    settings = _field(body, "rerankingConfiguration", "bedrockRerankingConfiguration")
    arn = _field(settings, "modelConfiguration", "modelArn")
    where = "rerankingConfiguration.bedrockRerankingConfiguration"
    if not isinstance(arn, str) or not arn or MODEL_ARN.match(arn) is None:  # the pattern allows ""
        yield (
            f"Value '{arn}' at '{where}.modelConfiguration.modelArn' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {MODEL_ARN.pattern}"
        )
    else:
        arn_region = _ARN_REGION.match(arn)
        if arn_region and signing_region and arn_region[1] != signing_region:
            yield f"The model ARN's region {arn_region[1]} does not match the request's region {signing_region}"
    number = _field(settings, "numberOfResults")
    if number is not None:
        if not isinstance(number, int) or not 1 <= number <= MAX_RESULTS:
            yield (
                f"Value '{number}' at '{where}.numberOfResults' failed to satisfy constraint: "
                f"Member must have value between 1 and {MAX_RESULTS}"
            )
        elif isinstance(sources, list) and number > len(sources):
            yield f"numberOfResults ({number}) must not exceed the number of sources ({len(sources)})"


def _text(source: dict[str, Any]) -> str:
    inline = source["inlineDocumentSource"]
    if inline["type"] == "TEXT":
        return str(inline["textDocument"]["text"])
    return json.dumps(inline["jsonDocument"], ensure_ascii=False, sort_keys=True)


def _fingerprint(body: dict[str, Any]) -> str:
    unpaged = {key: value for key, value in body.items() if key != "nextToken"}
    return hashlib.sha256(json.dumps(unpaged, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset, fingerprint]).encode("utf-8")).decode("ascii")


def _offset(token: object, fingerprint: str) -> int | None:
    try:
        offset, issued_for = json.loads(base64.urlsafe_b64decode(str(token).encode("ascii")))
    except (ValueError, TypeError):
        return None
    return offset if issued_for == fingerprint and isinstance(offset, int) else None


def handle_rerank(emulator: Emulator, request: Request) -> Response:
    try:
        body = request.json()
    except ValueError:
        return error(400, "SerializationException", "Could not parse the request body as JSON")
    if not isinstance(body, dict):
        return _validation(["The request body must be a JSON object"])
    authorization = request.header("Authorization") or ""
    signing = _SIGNING_REGION.search(authorization)
    problems = list(_problems(body, signing[1] if signing else None))
    if problems:
        return _validation(problems)
    query = str(body["queries"][0]["textQuery"]["text"])
    ranked = emulator.ranked(query, [_text(source) for source in body["sources"]])
    wanted = _field(body, "rerankingConfiguration", "bedrockRerankingConfiguration", "numberOfResults")
    ranked = ranked[:wanted] if wanted else ranked
    page_size = emulator.state.get("bedrock.page_size") or len(ranked)
    paged = page_size < len(ranked) or body.get("nextToken") is not None
    # Hashing the whole body costs as much as scoring it: only for the pages that need it.
    fingerprint = _fingerprint(body) if paged else ""
    offset = 0
    if body.get("nextToken") is not None:
        found = _offset(body["nextToken"], fingerprint)
        if found is None:
            return _validation(["The provided nextToken is not valid for this request"])
        offset = found
    page = ranked[offset : offset + page_size]
    answer: dict[str, Any] = {"results": [{"index": index, "relevanceScore": score} for index, score in page]}
    if offset + page_size < len(ranked):
        answer["nextToken"] = _token(offset + page_size, fingerprint)
    return Response(200, answer, headers={"x-amzn-RequestId": str(uuid.uuid4())})


ROUTES = [Route(VENDOR, "POST", BEDROCK.paths[0], handle_rerank, error)]
