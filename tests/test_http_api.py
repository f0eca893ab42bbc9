"""The Cohere-compatible HTTP backend through real httpx against the wire emulator.

Every format (Cohere v2 and v1, Bifrost, vLLM, TEI, Jina) is called sync and async through the
engine; request shapes, path fallback, retry waits and secrets are checked on the wire. What every
backend owes (split and merge, error mapping, retries, broken answers) is in
test_backend_contract.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from multirerank import Reranker
from multirerank.backends.http_api import HTTPBackend, HTTPOptions, cohere_from_model_string
from multirerank.backends.http_formats import API_FORMATS
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.http_headers import parse_retry_after
from multirerank.testing import Emulator
from multirerank.types import DocumentInput, IdentifiedText
from tests.async_lifetime_support import RefusingExecutor, many_asyncio_runs, slow_callbacks_of_first_call
from tests.emulator_support import emulator_fixtures, expected_order
from tests.http_support import (
    API_KEY,
    EMULATOR_ROUTES,
    FORMATS,
    QUERY,
    SETUPS,
    TEXTS,
    http_options,
    wire_scores,
)

server, emulator = emulator_fixtures(routes=EMULATOR_ROUTES)

ROOT = Path(__file__).resolve().parents[1]


def reranker(emulator: Emulator, api_format: str, **extra: Any) -> Reranker:
    return Reranker(HTTPBackend(**http_options(emulator, api_format, **extra)))


async def call(rr: Reranker, asynchronous: bool, *args: Any, **kwargs: Any) -> Any:
    if asynchronous:
        return await rr.arerank(*args, **kwargs)
    return rr.rerank(*args, **kwargs)


# -- each format, sync and async -------------------------------------------------------------


@pytest.mark.parametrize("api_format", FORMATS)
def test_each_format_ranks_like_the_vendor(emulator: Emulator, api_format: str) -> None:
    with reranker(emulator, api_format) as rr:
        response = rr.rerank(QUERY, TEXTS, top_n=3)
    expected = wire_scores(api_format, emulator.ranked(QUERY, TEXTS)[:3])
    assert [r.index for r in response] == [index for index, _ in expected]
    assert [r.relevance_score for r in response] == pytest.approx([score for _, score in expected])
    assert response.provider == api_format.split("-")[0]
    assert response.score_scale == API_FORMATS[api_format].score_scale
    assert response.metadata["api_format"] == api_format
    assert [request.path for request in emulator.requests] == [SETUPS[api_format]["path"]]


@pytest.mark.parametrize("api_format", FORMATS)
async def test_each_format_async_uses_the_async_client(emulator: Emulator, api_format: str) -> None:
    rr = reranker(emulator, api_format)
    assert rr.backend.has_native_async
    async with rr:
        response = await rr.arerank(QUERY, TEXTS)
    assert [r.index for r in response] == expected_order(emulator, QUERY, TEXTS)
    assert len(emulator.requests_to(SETUPS[api_format]["path"])) == 1


@pytest.mark.parametrize("api_format", ["cohere", "vllm"])
async def test_async_path_never_uses_the_loops_default_executor(emulator: Emulator, api_format: str) -> None:
    # The emulator is addressed by IP (127.0.0.1), so no name is resolved on the default executor.
    loop = asyncio.get_running_loop()
    refusing = RefusingExecutor()
    loop.set_default_executor(refusing)
    try:
        async with reranker(emulator, api_format, max_documents_per_request=2) as rr:
            first = await rr.arerank(QUERY, TEXTS, top_n=2)
            second = await rr.arerank(QUERY, TEXTS)
    finally:
        refusing.shutdown(wait=False)
    assert refusing.refused == []
    assert [r.index for r in first] == expected_order(emulator, QUERY, TEXTS)[:2]
    assert len(second) == len(TEXTS)
    assert len(emulator.requests_to(SETUPS[api_format]["path"])) == 6


@pytest.mark.parametrize(
    ("api_format", "usage"),
    [
        ("cohere", "search_units"),
        ("vllm", "total_tokens"),
        ("jina", "total_tokens"),
        ("bifrost", "total_tokens"),
    ],
)
def test_vendor_usage_is_reported(emulator: Emulator, api_format: str, usage: str) -> None:
    with reranker(emulator, api_format) as rr:
        response = rr.rerank(QUERY, TEXTS)
    assert response.usage is not None
    assert getattr(response.usage, usage) > 0
    assert response.usage.requests == 1


# -- what goes on the wire -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_format", "extra", "top_n", "expected"),
    [
        (
            "cohere",
            {"max_tokens_per_doc": 512},
            2,
            {"model": "rerank-v3.5", "top_n": 2, "max_tokens_per_doc": 512},
        ),
        ("cohere", {}, None, {"model": "rerank-v3.5"}),
        ("cohere-v1", {}, 2, {"model": "rerank-english-v3.0", "top_n": 2, "return_documents": False}),
        ("vllm", {}, None, {"model": "BAAI/bge-reranker-v2-m3", "top_n": len(TEXTS)}),
        ("tei", {"truncate": True}, 2, {"raw_scores": False, "return_text": False, "truncate": True}),
        ("jina", {}, None, {"top_n": len(TEXTS), "return_documents": False}),
        (
            "bifrost",
            {"gateway_fallbacks": ["jina/jina-reranker-v2"]},
            2,
            {"top_n": 2, "fallbacks": ["jina/jina-reranker-v2"]},
        ),
    ],
)
def test_request_bodies(
    emulator: Emulator, api_format: str, extra: dict[str, Any], top_n: int | None, expected: dict[str, Any]
) -> None:
    with reranker(emulator, api_format, **extra) as rr:
        rr.rerank(QUERY, TEXTS, top_n=top_n)
    body = emulator.requests[0].json()
    assert body["query"] == QUERY
    assert {key: body[key] for key in expected} == expected
    if api_format == "cohere" and top_n is None:
        assert "top_n" not in body  # Cohere returns every document without it
    if api_format == "tei":
        assert body["texts"] == TEXTS and "model" not in body


def test_mapping_documents_are_sent_as_their_json_text(emulator: Emulator) -> None:
    with reranker(emulator, "cohere") as rr:
        rr.rerank("roof", [{"title": "roof", "body": "tiles"}, "plain"])
    assert emulator.requests[0].json()["documents"] == ['{"body": "tiles", "title": "roof"}', "plain"]


def test_api_key_is_sent_as_bearer_and_headers_are_added(emulator: Emulator) -> None:
    emulator.state["cohere.api_key"] = API_KEY
    with reranker(emulator, "cohere", headers={"X-Client-Name": "tests"}) as rr:
        rr.rerank(QUERY, TEXTS)
    request = emulator.requests[0]
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.header("X-Client-Name") == "tests"
    assert str(request.header("User-Agent")).startswith("multirerank/")


def test_an_authorization_header_replaces_the_environment_key(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    options = http_options(emulator, "cohere", headers={"authorization": "Bearer gateway-token"})
    del options["api_key"]
    with Reranker(HTTPBackend(**options)) as rr:
        rr.rerank(QUERY, TEXTS)
    assert emulator.requests[0].header("Authorization") == "Bearer gateway-token"
    assert sum(name.lower() == "authorization" for name in emulator.requests[0].headers) == 1


def test_api_key_is_read_from_the_environment(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", "jina-env-key")
    options = http_options(emulator, "jina")
    del options["api_key"]
    with Reranker(HTTPBackend(**options)) as rr:
        rr.rerank(QUERY, TEXTS)
    assert emulator.requests[0].header("Authorization") == "Bearer jina-env-key"


def test_path_override_selects_cohere_v1(emulator: Emulator) -> None:
    with reranker(emulator, "cohere", path="/v1/rerank") as rr:
        rr.rerank(QUERY, TEXTS)
    assert emulator.requests[0].path == "/cohere/v1/rerank"


# -- splitting over per-request limits -------------------------------------------------------

NEEDLE_TEXTS = [
    ("needle " if position % 7 == 0 else "hay ") + " ".join(["word"] * (position % 5)) + f" n{position}"
    for position in range(70)
]


def test_tei_over_its_batch_size_gets_the_servers_422(emulator: Emulator) -> None:
    with (
        reranker(emulator, "tei", max_documents_per_request=40) as rr,
        pytest.raises(BadRequestError) as caught,
    ):
        rr.rerank("needle", NEEDLE_TEXTS[:33])
    error = caught.value
    assert (error.status, error.code, error.provider) == (422, "Validation", "tei")
    assert "batch size 33 > maximum allowed batch size 32" in error.message


def test_cohere_with_a_lowered_limit_splits(emulator: Emulator) -> None:
    emulator.state["cohere.max_documents"] = 10
    with reranker(emulator, "cohere", max_documents_per_request=10) as rr:
        response = rr.rerank("needle", NEEDLE_TEXTS[:25], top_n=4)
    assert sorted(len(request.json()["documents"]) for request in emulator.requests) == [8, 8, 9]
    assert [(r.index, r.relevance_score) for r in response] == emulator.ranked("needle", NEEDLE_TEXTS[:25])[
        :4
    ]
    assert all(request.json()["top_n"] == 4 for request in emulator.requests)


def test_cohere_over_its_limit_gets_a_400(emulator: Emulator) -> None:
    emulator.state["cohere.max_documents"] = 10
    with (
        reranker(emulator, "cohere", max_documents_per_request=20) as rr,
        pytest.raises(BadRequestError) as caught,
    ):
        rr.rerank("needle", NEEDLE_TEXTS[:11])
    assert caught.value.status == 400
    assert "too many documents" in caught.value.message


# -- vLLM path fallback ----------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_vllm_falls_back_to_rerank_and_remembers_it(emulator: Emulator, asynchronous: bool) -> None:
    emulator.state["vllm.v1_missing"] = True
    rr = reranker(emulator, "vllm")
    first = await call(rr, asynchronous, QUERY, TEXTS)
    second = await call(rr, asynchronous, QUERY, TEXTS)
    await rr.aclose()
    assert [request.path for request in emulator.requests] == [
        "/vllm/v1/rerank",
        "/vllm/rerank",
        "/vllm/rerank",
    ]
    assert [r.index for r in first] == [r.index for r in second] == expected_order(emulator, QUERY, TEXTS)
    assert second.metadata["path"] == "/rerank"
    # The batch that fell back made two HTTP requests, and says so.
    assert first.usage is not None and first.usage.requests == 2
    assert second.usage is not None and second.usage.requests == 1


@pytest.mark.parametrize("status", [405, 501])
def test_vllm_falls_back_on_405_and_501(emulator: Emulator, status: int) -> None:
    emulator.inject(status=status, path=r"^/vllm/v1/rerank$")
    with reranker(emulator, "vllm") as rr:
        response = rr.rerank(QUERY, TEXTS)
    assert [request.path for request in emulator.requests] == ["/vllm/v1/rerank", "/vllm/rerank"]
    assert response.usage is not None and response.usage.requests == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_split_and_fallback_requests_are_all_counted(emulator: Emulator, asynchronous: bool) -> None:
    emulator.state["vllm.v1_missing"] = True
    rr = reranker(emulator, "vllm", max_documents_per_request=2)
    response = await call(rr, asynchronous, QUERY, TEXTS)
    await rr.aclose()
    # Three batches; those sent before one learnt that /v1/rerank is missing tried it too.
    assert response.usage is not None and response.usage.requests == len(emulator.requests)
    assert 4 <= len(emulator.requests) <= 6


def test_vllm_unknown_model_is_not_found_on_both_paths(emulator: Emulator) -> None:
    with reranker(emulator, "vllm", model="no-such-model") as rr, pytest.raises(NotFoundError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert "The model `no-such-model` does not exist." in caught.value.message
    assert caught.value.code == "NotFoundError"
    assert len(emulator.requests) == 2


def test_other_formats_do_not_fall_back(emulator: Emulator) -> None:
    emulator.inject(status=404, message="model not found", vendor="jina")
    with reranker(emulator, "jina") as rr, pytest.raises(NotFoundError):
        rr.rerank(QUERY, TEXTS)
    assert len(emulator.requests) == 1


# -- Bifrost ---------------------------------------------------------------------------------


def test_bifrost_sends_ids_of_identified_texts_and_mappings(emulator: Emulator) -> None:
    documents: list[DocumentInput] = [
        IdentifiedText("solar roof", "doc-1"),
        "plain roof",
        {"text": "solar panel", "id": 7},
    ]
    with reranker(emulator, "bifrost") as rr:
        rr.rerank("solar", documents)
    assert emulator.requests[0].json()["documents"] == [
        {"text": "solar roof", "id": "doc-1"},
        {"text": "plain roof"},
        {"text": "solar panel", "id": "7"},
    ]


def test_bifrost_sends_the_callers_ids_with_mapping_documents(emulator: Emulator) -> None:
    documents: list[DocumentInput] = [{"text": "solar roof"}, {"title": "Panels", "body": "solar"}, "cats"]
    with reranker(emulator, "bifrost") as rr:
        rr.rerank("solar", documents, ids=["a", "b", "c"])
    assert emulator.requests[0].json()["documents"] == [
        {"text": "solar roof", "id": "a"},
        {"text": '{"body": "solar", "title": "Panels"}', "id": "b"},
        {"text": "cats", "id": "c"},
    ]


def test_bifrost_fallbacks_serve_when_the_model_fails(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.state["bifrost.failing_providers"] = {"cohere"}
    with (
        caplog.at_level(logging.INFO, logger="multirerank"),
        reranker(emulator, "bifrost", gateway_fallbacks=["jina/jina-reranker-v2-base-multilingual"]) as rr,
    ):
        response = rr.rerank(QUERY, TEXTS)
    assert [r.index for r in response] == expected_order(emulator, QUERY, TEXTS)
    assert emulator.requests[0].json()["fallbacks"] == ["jina/jina-reranker-v2-base-multilingual"]
    assert "fallback provider 'jina'" in caplog.text


def test_bifrost_without_a_working_provider_is_a_provider_error(emulator: Emulator) -> None:
    emulator.state["bifrost.failing_providers"] = {"cohere"}
    with reranker(emulator, "bifrost") as rr, pytest.raises(ProviderError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert (caught.value.status, caught.value.code) == (503, "provider_error")
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("query", "documents", "top_n", "message"),
    [
        ("", ["a"], None, "query is required for rerank"),
        ("q", [], None, "documents are required for rerank"),
        ("q", ["a", " "], None, "document text is required for rerank at index 1"),
        ("q", ["a"], 0, "top_n must be at least 1"),
    ],
)
def test_bifrost_validation_errors_reach_the_caller(
    emulator: Emulator, query: str, documents: list[str], top_n: int | None, message: str
) -> None:
    # Straight to the backend: the engine would refuse these before sending.
    backend = HTTPBackend(**http_options(emulator, "bifrost"))
    with pytest.raises(BadRequestError) as caught:
        backend.rerank_batch(query, documents, top_n)
    backend.close()
    assert caught.value.message.endswith(f"failed: {message}")
    assert emulator.requests[0].json()["query"] == query
    assert httpx.post(
        emulator.url + "/bifrost/v1/rerank",
        json={"model": "a/b", "query": query, "documents": documents, "top_n": top_n},
    ).json() == {"is_bifrost_error": True, "status_code": 400, "error": {"message": message}}


# -- errors (what every backend owes is in test_backend_contract.py) ------------------------


@pytest.mark.parametrize("api_format", ["cohere", "cohere-v1", "jina", "bifrost", "vllm", "tei"])
def test_wrong_api_key_is_an_authentication_error_that_shows_no_key(
    emulator: Emulator, api_format: str
) -> None:
    emulator.state[f"{api_format.split('-')[0]}.api_key"] = "the-right-key"
    with reranker(emulator, api_format, api_key=API_KEY) as rr, pytest.raises(AuthenticationError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.status == 401
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        ("7", 7.0, 7.0),
        ("0", 0.0, 0.0),
        ("+30", 25.0, 30.0),
        ("-600", 0.0, 0.0),
    ],
)
async def test_429_retry_after_is_parsed(
    emulator: Emulator, asynchronous: bool, header: str, low: float, high: float
) -> None:
    if header.startswith(("+", "-")):  # an HTTP date this many seconds from now
        header = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=int(header)), usegmt=True)
    emulator.inject(status=429, message="slow down", headers={"Retry-After": header}, vendor="cohere")
    rr = reranker(emulator, "cohere")
    with pytest.raises(ThrottledError) as caught:
        await call(rr, asynchronous, QUERY, TEXTS)
    await rr.aclose()
    assert caught.value.retry_after is not None
    assert low <= caught.value.retry_after <= high


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("2.5", 2.5),
        (" 4 ", 4.0),
        ("-3", 0.0),
        ("nan", None),
        ("inf", None),
        (b"5", 5.0),
        (7, 7.0),
        (True, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_values(value: object, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_the_backend_retries_twice_by_default(emulator: Emulator) -> None:
    options = http_options(emulator, "vllm")
    del options["max_retries"]
    assert HTTPBackend(**options).max_retries == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_slow_answer_is_a_retryable_timeout(emulator: Emulator, asynchronous: bool) -> None:
    emulator.inject(latency=0.6)
    rr = reranker(emulator, "jina", timeout=0.2)
    with pytest.raises(RerankTimeoutError) as caught:
        await call(rr, asynchronous, QUERY, TEXTS)
    await rr.aclose()
    assert caught.value.retryable
    assert caught.value.provider == "jina"


def test_connection_refused_is_a_retryable_provider_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    backend = HTTPBackend(api_format="tei", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    with Reranker(backend) as rr, pytest.raises(ProviderError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.retryable and "ConnectError" in caught.value.message


def test_vendor_messages_never_echo_the_key(emulator: Emulator) -> None:
    emulator.inject(status=400, message=f"bad key {API_KEY} given", vendor="cohere")
    with reranker(emulator, "cohere") as rr, pytest.raises(BadRequestError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert API_KEY not in str(caught.value)
    assert "bad key *** given" in caught.value.message


def test_short_keys_and_plain_header_values_leave_messages_alone(emulator: Emulator) -> None:
    # Scrubbing a one-letter key turned ".../v2/rerank failed" into ".../v2/reran*** failed".
    emulator.inject(status=400, message="the tests client asked for rerank", vendor="cohere")
    options = http_options(emulator, "cohere", api_key="k", headers={"X-Client-Name": "tests"})
    with Reranker(HTTPBackend(**options)) as rr, pytest.raises(BadRequestError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.message == (
        f"POST {emulator.url}/cohere/v2/rerank failed: the tests client asked for rerank"
    )


@pytest.mark.parametrize(
    ("headers", "echoed"),
    [
        ({"X-Api-Key": "hdr-secret-value"}, "hdr-secret-value"),
        ({"X-Auth-Token": "tok-1234"}, "tok-1234"),
        ({"x-bf-vk": "virtual-key-1"}, "virtual-key-1"),
        ({"Proxy-Authorization": "Basic dXNlcjpwYXNz"}, "dXNlcjpwYXNz"),
        ({"X-Client-Secret": "s3cr3t!"}, "s3cr3t!"),
    ],
)
def test_secret_header_values_are_scrubbed(emulator: Emulator, headers: dict[str, str], echoed: str) -> None:
    emulator.inject(status=400, message=f"you sent {echoed} and {API_KEY}", vendor="cohere")
    options = http_options(emulator, "cohere", headers={**headers, "X-Client-Name": "tests"})
    with Reranker(HTTPBackend(**options)) as rr, pytest.raises(BadRequestError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.message.endswith("failed: you sent *** and ***")


def test_an_authorization_headers_credentials_are_scrubbed_without_the_scheme(emulator: Emulator) -> None:
    emulator.inject(status=401, message="token gateway-token is revoked", vendor="vllm")
    options = http_options(emulator, "vllm", headers={"Authorization": "Bearer gateway-token"})
    with Reranker(HTTPBackend(**options)) as rr, pytest.raises(AuthenticationError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.message.endswith("failed: token *** is revoked")


# -- answers of the wrong shape --------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_format", "body", "raw", "words"),
    [
        ("cohere", {"id": "x"}, None, "response has no 'results'"),
        ("cohere", {"results": [{"index": 0}]}, None, "results[0] has no 'relevance_score'"),
        ("cohere", {"results": [{"relevance_score": 0.5}]}, None, "results[0] has no 'index'"),
        (
            "cohere",
            {"results": [{"index": "0", "relevance_score": 0.5}]},
            None,
            "results[0].index must be an integer",
        ),
        ("cohere", {"results": [{"index": 0, "relevance_score": "high"}]}, None, "must be a number"),
        ("cohere", {"results": {"index": 0}}, None, "results must be a JSON array"),
        ("cohere", [1, 2], None, "response must be a JSON object"),
        ("tei", {"results": []}, None, "response must be a JSON array"),
        ("tei", [{"index": 0, "relevance_score": 0.2}], None, "response[0] has no 'score'"),
        ("jina", None, b"<html>bad gateway</html>", "not JSON"),
        ("vllm", {"results": [{"index": 9, "relevance_score": 0.5}]}, None, "index 9, outside"),
        ("vllm", {"results": [{"index": 0, "relevance_score": 1e400}]}, None, "non-finite"),
    ],
)
def test_malformed_answers_name_what_is_wrong(
    emulator: Emulator, api_format: str, body: Any, raw: bytes | None, words: str
) -> None:
    emulator.state["odd.answer"] = (200, body, raw)
    options = http_options(emulator, api_format, base_url=emulator.url + "/odd")
    with Reranker(HTTPBackend(**options)) as rr, pytest.raises(MalformedResponseError) as caught:
        rr.rerank(QUERY, ["one", "two"])
    assert words in caught.value.message
    assert caught.value.provider == api_format.split("-")[0]


def test_an_error_status_without_a_json_body_keeps_the_text(emulator: Emulator) -> None:
    emulator.state["odd.answer"] = (502, None, b"upstream exploded")
    backend = HTTPBackend(**http_options(emulator, "vllm", base_url=emulator.url + "/odd"))
    with Reranker(backend) as rr, pytest.raises(ProviderError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert caught.value.status == 502 and "upstream exploded" in caught.value.message


def test_a_redirect_is_a_configuration_error(emulator: Emulator) -> None:
    # The shape route answers with a redirect; headers go in through a fault's.
    emulator.state["odd.answer"] = (307, {}, None)
    emulator.inject(vendor="odd", headers={"Location": "https://elsewhere.example/v1/rerank"}, status=307)
    backend = HTTPBackend(**http_options(emulator, "jina", base_url=emulator.url + "/odd"))
    with Reranker(backend) as rr, pytest.raises(ConfigurationError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert "elsewhere.example" in caught.value.message


# -- set-up mistakes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"api_format": "cohere", "api_key": "k"}, "model is required for api_format 'cohere'"),
        ({"api_format": "jina", "api_key": "k"}, "model is required for api_format 'jina'"),
        ({"api_format": "bifrost", "base_url": "http://h"}, "model is required for api_format 'bifrost'"),
        ({"api_format": "bifrost", "base_url": "http://h", "model": "rerank"}, "must be 'provider/model'"),
        ({"api_format": "vllm"}, "base_url is required for api_format 'vllm'"),
        ({"api_format": "tei"}, "base_url is required for api_format 'tei'"),
        ({"api_format": "cohere", "model": "m"}, "pass api_key or set COHERE_API_KEY or CO_API_KEY"),
        ({"api_format": "tei", "base_url": "http://h", "gateway_fallbacks": ["a/b"]}, "gateway_fallbacks does not apply"),
        ({"api_format": "vllm", "base_url": "http://h", "truncate": True}, "truncate does not apply"),
        (
            {"api_format": "jina", "model": "m", "api_key": "k", "max_tokens_per_doc": 9},
            "only to azure-cohere, bifrost, cohere",
        ),
        (
            {"api_format": "cohere", "model": "m", "api_key": "k", "headers": {"Authorization": "x"}},
            "either api_key or an Authorization header",
        ),
        ({"api_format": "vllm", "base_url": "ftp://h"}, "base_url: Value error, base_url must be an http"),
        ({"api_format": "vllm", "base_url": "http://u:p@h"}, "must not carry credentials"),
        ({"api_format": "vllm", "base_url": "http://h", "path": "rerank"}, "path must start with '/'"),
        (
            {"api_format": "vllm", "base_url": "http://h", "timeout": 0},
            "timeout: Input should be greater than 0",
        ),
        (
            {"api_format": "vllm", "base_url": "http://h", "max_documents_per_request": 0},
            "max_documents_per_request",
        ),
        (
            {"api_format": "vllm", "base_url": "http://h", "headers": {"Bad Name": "x"}},
            "not a valid HTTP header",
        ),
        (
            {"api_format": "bifrost", "base_url": "http://h", "model": "a/b", "gateway_fallbacks": ["b"]},
            "gateway_fallbacks[0]",
        ),
        (
            {"api_format": "vllm", "base_url": "http://h", "modle": "x"},
            "modle: Extra inputs are not permitted",
        ),
        ({"api_format": "openai", "base_url": "http://h"}, "api_format: Input should be"),
        ({"base_url": "http://h"}, "api_format: Field required"),
    ],
)
def test_setup_mistakes_name_the_field(
    fields: dict[str, Any], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("COHERE_API_KEY", "CO_API_KEY", "JINA_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigurationError) as caught:
        HTTPBackend(**fields)
    assert words in str(caught.value)


def test_validation_errors_do_not_echo_secrets() -> None:
    with pytest.raises(ConfigurationError) as caught:
        HTTPBackend(api_format="vllm", base_url="http://h", api_key=["sk-secret-list"])
    assert "api_key" in str(caught.value) and "sk-secret-list" not in str(caught.value)
    with pytest.raises(ValueError) as raised:
        HTTPOptions(api_format="vllm", base_url="http://h", headers={"X-Key": 12345678})
    assert "12345678" not in str(raised.value)


def test_secrets_stay_out_of_reprs(emulator: Emulator) -> None:
    options = HTTPOptions(**http_options(emulator, "cohere", headers={"X-Api-Key": "hdr-secret-value"}))
    backend = options.build_backend()
    for text in (
        repr(options),
        str(options),
        repr(backend),
        repr(Reranker(backend)),
        str(options.model_dump()),
    ):
        assert API_KEY not in text and "hdr-secret-value" not in text


@pytest.mark.parametrize(
    ("model", "options", "provider", "wire_model", "path"),
    [
        ("cohere/rerank-v3.5", {"api_key": API_KEY}, "cohere", "rerank-v3.5", "/cohere/v2/rerank"),
        (
            "cohere/rerank-v3.5",
            {"api_key": API_KEY, "api_format": "cohere-v1"},
            "cohere",
            "rerank-v3.5",
            "/cohere/v1/rerank",
        ),
        ("bifrost/cohere/rerank-v3.5", {}, "bifrost", "cohere/rerank-v3.5", "/bifrost/v1/rerank"),
        ("vllm/BAAI/bge-reranker-v2-m3", {}, "vllm", "BAAI/bge-reranker-v2-m3", "/vllm/v1/rerank"),
        ("vllm", {}, "vllm", None, "/vllm/v1/rerank"),
        ("tei", {}, "tei", None, "/tei/rerank"),
        (
            "jina/jina-reranker-v2-base-multilingual",
            {"api_key": API_KEY},
            "jina",
            "jina-reranker-v2-base-multilingual",
            "/jina/v1/rerank",
        ),
    ],
)
def test_model_strings(
    emulator: Emulator, model: str, options: dict[str, Any], provider: str, wire_model: str | None, path: str
) -> None:
    prefix = "/" + provider
    with Reranker(model, base_url=emulator.url + prefix, max_retries=0, **options) as rr:
        response = rr.rerank(QUERY, TEXTS, top_n=2)
    assert (rr.provider, response.provider) == (provider, provider)
    request = emulator.requests[0]
    assert request.path == path
    assert request.json().get("model") == wire_model


@pytest.mark.parametrize(
    ("model", "options", "words"),
    [
        ("cohere", {"api_key": "k"}, "model is required"),
        (
            "jina/m",
            {"api_key": "k", "api_format": "cohere"},
            "does not fit model strings starting with 'jina/'",
        ),
        ("vllm/m", {}, "base_url is required"),
        ("tei", {"base_url": "http://h", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_model_string_mistakes(model: str, options: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker(model, **options)
    assert words in str(caught.value)


def test_a_model_given_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        cohere_from_model_string("a", api_key="k", model="b")
    assert "names 'a' but model is 'b'" in str(caught.value)


def test_tei_model_string_labels_results_without_sending_a_model(emulator: Emulator) -> None:
    with Reranker("tei/BAAI/bge-reranker-base", base_url=emulator.url + "/tei") as rr:
        response = rr.rerank(QUERY, TEXTS)
    assert response.model == "BAAI/bge-reranker-base"
    assert "model" not in emulator.requests[0].json()


# -- clients ---------------------------------------------------------------------------------


def test_one_sync_client_is_reused_and_closed(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "vllm"))
    rr = Reranker(backend)
    rr.rerank(QUERY, TEXTS)
    client = backend._client.current
    rr.rerank(QUERY, TEXTS)
    assert client is not None and backend._client.current is client
    rr.close()
    assert client.is_closed and backend._client.current is None
    rr.rerank(QUERY, TEXTS)  # a closed backend opens a fresh client on demand
    rr.close()


def test_async_works_from_several_event_loops(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))
    rr = Reranker(backend)
    for _ in range(2):
        response = asyncio.run(rr.arerank(QUERY, TEXTS))
        assert [r.index for r in response] == expected_order(emulator, QUERY, TEXTS)
    asyncio.run(rr.aclose())


async def test_aclose_closes_this_loops_async_client(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))
    await backend.arerank_batch(QUERY, TEXTS, None)
    client = await backend._async_clients.get()
    await backend.aclose()
    assert client.is_closed and backend._async_clients.count() == 0
    await backend.aclose()  # a second close is harmless


def test_a_loops_shutdown_closes_and_forgets_its_client(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))

    async def use() -> Any:
        await backend.arerank_batch(QUERY, TEXTS, None)
        return await backend._async_clients.get()

    client = asyncio.run(use())  # nobody calls aclose()
    assert client.is_closed and backend._async_clients.count() == 0


def test_sync_close_leaves_a_running_loops_client_to_that_loop(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))

    async def close_while_running() -> Any:
        await backend.arerank_batch(QUERY, TEXTS, None)
        client = await backend._async_clients.get()
        backend.close()  # from inside the loop: nothing may be run on it from here
        assert not client.is_closed
        await backend.arerank_batch(QUERY, TEXTS, None)
        return client

    client = asyncio.run(close_while_running())
    assert client.is_closed and backend._async_clients.count() == 0


def test_sync_close_closes_the_client_of_a_loop_not_running(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(backend.arerank_batch(QUERY, TEXTS, None))
        client = loop.run_until_complete(backend._async_clients.get())
        backend.close()
        assert client.is_closed and backend._async_clients.count() == 0
    finally:
        loop.close()


def test_a_loop_closed_without_shutting_down_is_forgotten(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "tei"))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(backend.arerank_batch(QUERY, TEXTS, None))
    loop.close()  # without shutdown_asyncgens(): nothing can close the client on it any more
    with warnings.catch_warnings():
        # Its sockets are left to the garbage collector, which warns about them.
        warnings.simplefilter("ignore", ResourceWarning)
        backend.close()
        gc.collect()
    assert backend._async_clients.count() == 0


SETUP = 'from multirerank.backends.http_api import HTTPBackend\nbackend = HTTPBackend(api_format="tei", base_url=sys.argv[1], max_retries=0)\n'


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_thirty_asyncio_runs_leave_no_socket_loop_or_warning(emulator: Emulator) -> None:
    report = many_asyncio_runs(SETUP, "backend._async_clients", emulator.url + "/tei")
    assert report == {"before": report["before"], "after": report["before"], "held": 0, "loops": 0}
    assert len(emulator.requests) == 31


def test_the_first_async_call_does_not_block_the_event_loop(emulator: Emulator) -> None:
    # httpx, its async stack and the CA store load when the backend is built, not on the loop.
    assert slow_callbacks_of_first_call(SETUP, emulator.url + "/tei") == []


def test_importing_the_backend_loads_no_http_client() -> None:
    code = (
        "import sys, multirerank.backends.http_api, langchain_multirerank, multirerank.testing.http_apis\n"
        "heavy = [m for m in ('httpx', 'llama_index', 'torch', 'dashscope', 'ibm_watsonx_ai', 'boto3')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "options", [{"api_key": "sëcret-KEY-1"}, {"headers": {"X-Tok": "sëcret-KEY-1"}}]
)
def test_keys_and_headers_that_cannot_be_sent_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker("cohere/rerank-v3.5", base_url="http://127.0.0.1:9/cohere", **{"api_key": "k", **options})
    assert "sëcret" not in str(caught.value) and "ASCII" in str(caught.value)


def test_option_errors_name_the_api_format() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker("tei", base_url="http://127.0.0.1:9", nope=1)
    assert str(caught.value).startswith("invalid tei options: nope: Extra inputs are not permitted")
    assert caught.value.provider == "tei"
