"""The watsonx.ai backend through the real ibm-watsonx-ai SDK against the emulator (TLS, 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import parse_qs

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ValidationError

import langchain_multirerank
import llama_index_multirerank
from multirerank import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    ProviderError,
    Reranker,
    RerankTimeoutError,
    ThrottledError,
    backend_from_model,
)
from multirerank.backends.watsonx import WatsonxBackend, WatsonxOptions
from multirerank.testing import Emulator
from multirerank.testing.watsonx import RERANK_PATH, issue_token
from multirerank.vendors import WATSONX
from tests.emulator_support import emulator_fixtures, expected_order
from tests.sdk_support import DOCS, QUERY, SDK_ENV, WATSONX_ENV, loaded_after_importing

MODEL = "cross-encoder/ms-marco-minilm-l-12-v2"
SECRET = "s3cret-api-key-value"


# Tokens are signed with a key in the emulator's state: keeping it keeps tokens issued earlier valid.
server, emulator = emulator_fixtures(tls=True, keep=["watsonx_signing_key"])


@pytest.fixture(autouse=True)
def isolated_watsonx_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No watsonx.ai setting of this machine leaks in, nor stays behind, and the SDK does not retry."""
    for name in SDK_ENV + WATSONX_ENV:
        # setenv first so that teardown removes whatever the SDK wrote meanwhile.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    from ibm_watsonx_ai._wrappers.httpx.retry_transport import factories

    # The SDK's transport retries 401/5xx three times with back-off: once would be enough to see.
    monkeypatch.setattr(factories, "TRANSPORT_RETRIES", 0)


def options(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    chosen: dict[str, Any] = {
        "model_id": MODEL,
        "url": emulator.url,
        "token": issue_token(emulator),
        "project_id": "project-1",
        "verify": False,
    }
    chosen.update(overrides)
    return chosen


def backend(emulator: Emulator, **overrides: Any) -> WatsonxBackend:
    return WatsonxOptions(**options(emulator, **overrides)).build_backend()


def rerank_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [request.json() for request in emulator.requests_to(RERANK_PATH)]


# -- the engine, sync and async ----------------------------------------------------------------


def test_rerank_sends_the_real_request_and_keeps_logits(emulator: Emulator) -> None:
    with Reranker(backend(emulator)) as reranker:
        response = reranker.rerank(QUERY, DOCS, top_n=3)
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)[:3]
    assert response.score_scale == "logit"
    assert response.metadata["backend_score_scale"] == "logit"
    assert response.provider == "watsonx" and response.model == MODEL
    assert any(result.relevance_score > 1 for result in response)  # logits, not 0..1
    (request,) = emulator.requests_to(RERANK_PATH)
    assert request.query["version"][0]
    assert (request.header("Authorization") or "").startswith("Bearer ")
    body = request.json()
    assert body["model_id"] == MODEL and body["query"] == QUERY
    assert body["inputs"] == [{"text": text} for text in DOCS]
    assert body["project_id"] == "project-1" and "space_id" not in body
    assert body["parameters"] == {"return_options": {"top_n": 3}}


def test_all_results_when_top_n_is_none_and_negative_logits_kept(emulator: Emulator) -> None:
    with Reranker(backend(emulator, truncate_input_tokens=64)) as reranker:
        response = reranker.rerank(QUERY, DOCS)
    assert sorted(result.index for result in response) == list(range(len(DOCS)))
    assert min(result.relevance_score for result in response) < 0
    assert rerank_bodies(emulator)[0]["parameters"] == {"truncate_input_tokens": 64}


async def test_async_rerank_runs_the_sync_sdk_off_the_event_loop(emulator: Emulator) -> None:
    watsonx = backend(emulator)
    assert not watsonx.has_native_async
    async with Reranker(watsonx) as reranker:
        response = await reranker.arerank(QUERY, DOCS, top_n=2)
        assert reranker._executor is not None  # the engine's own bounded pool ran it
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)[:2]


def test_usage_reports_input_tokens_of_every_request(emulator: Emulator) -> None:
    docs = [f"cats purr number {i}" for i in range(30)]
    with Reranker(backend(emulator, max_documents_per_request=10)) as reranker:
        response = reranker.rerank(QUERY, docs)
    assert response.usage is not None and response.usage.requests == 3
    # Each pair counts its query tokens and its input tokens.
    query_tokens = len(QUERY.split())
    assert response.usage.total_tokens == sum(query_tokens + len(doc.split()) for doc in docs)


# -- per-request limit --------------------------------------------------------------------------


def test_over_the_service_limit_is_a_bad_request(emulator: Emulator) -> None:
    emulator.state["watsonx_max_inputs"] = 40
    with Reranker(backend(emulator)) as reranker, pytest.raises(BadRequestError) as caught:
        reranker.rerank(QUERY, [f"doc {i}" for i in range(41)])
    assert caught.value.status == 400 and caught.value.code == "invalid_input_argument"
    assert "exceeds the maximum of 40" in str(caught.value)


def test_default_limit_is_1000_documents_per_request(emulator: Emulator) -> None:
    watsonx = backend(emulator)
    assert watsonx.limits.max_documents == 1000
    with Reranker(watsonx) as reranker:
        response = reranker.rerank(QUERY, [f"cats purr {i}" for i in range(1001)], top_n=1)
    assert sorted(len(body["inputs"]) for body in rerank_bodies(emulator)) == [500, 501]
    assert len(response) == 1


# -- authentication ----------------------------------------------------------------------------


def iam_backend(emulator: Emulator) -> WatsonxBackend:
    """Signs in with SECRET as an IBM Cloud API key, exchanged at the emulator's IAM endpoint."""
    return backend(
        emulator,
        token=None,
        api_key=SECRET,
        platform_url=emulator.url,
        auth_url=f"{emulator.url}/identity/token",
    )


def test_iam_api_key_exchange_against_auth_url(emulator: Emulator) -> None:
    emulator.state["watsonx_api_keys"] = {SECRET}
    watsonx = iam_backend(emulator)
    with Reranker(watsonx) as reranker:
        response = reranker.rerank(QUERY, DOCS, top_n=1)
    assert response.results[0].index == expected_order(emulator, QUERY, DOCS)[0]
    (exchange,) = emulator.requests_to(r"^/identity/token$")
    form = parse_qs(exchange.body.decode())
    assert form == {"apikey": [SECRET], "grant_type": ["urn:ibm:params:oauth:grant-type:apikey"]}
    # IBM Cloud mode skips the CPD version probe.
    assert not emulator.requests_to("wml_services")


def test_iam_refused_key_is_an_authentication_error_without_the_key(emulator: Emulator) -> None:
    emulator.state["watsonx_api_keys"] = {"the-right-key"}
    watsonx = iam_backend(emulator)
    with Reranker(watsonx) as reranker, pytest.raises(AuthenticationError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert "Provided API key could not be found" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert not emulator.requests_to(RERANK_PATH)


def test_cpd_username_and_api_key(emulator: Emulator) -> None:
    watsonx = backend(
        emulator, token=None, username="admin", api_key=SECRET, project_id=None, space_id="space-9"
    )
    with Reranker(watsonx) as reranker:
        reranker.rerank(QUERY, DOCS, top_n=2)
    paths = [request.path for request in emulator.requests]
    assert paths == [
        "/ml/wml_services/v2/version",
        "/icp4d-api/v1/authorize",
        "/v2/spaces/space-9",
        RERANK_PATH,
    ]
    assert json.loads(emulator.requests[1].body) == {"username": "admin", "api_key": SECRET}
    assert rerank_bodies(emulator)[0]["space_id"] == "space-9"
    # CPD mode writes process-wide settings; building the client must not leave them behind.
    assert "DEPLOYMENT_PLATFORM" not in os.environ and "WX_CLIENT_VERIFY_REQUESTS" not in os.environ


def test_cpd_refused_api_key_is_an_authentication_error(emulator: Emulator) -> None:
    # username + api_key: the password flow would first probe an IAM-integration host the SDK
    # derives from the URL, which means a DNS lookup, and these tests stay off the network.
    emulator.state["watsonx_users"] = {"admin": "the-right-key"}
    watsonx = backend(emulator, token=None, username="admin", api_key=SECRET)
    with Reranker(watsonx) as reranker, pytest.raises(AuthenticationError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert "Invalid username or password" in str(caught.value) and SECRET not in str(caught.value)


def test_token_from_another_issuer_is_refused(emulator: Emulator) -> None:
    with Emulator(tls=True) as other:
        foreign = issue_token(other)
    with Reranker(backend(emulator, token=foreign)) as reranker, pytest.raises(AuthenticationError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert caught.value.status == 401 and caught.value.code == "authentication_token_not_valid"


def test_injected_api_client_is_used_and_left_open(emulator: Emulator) -> None:
    from ibm_watsonx_ai import APIClient, Credentials

    client = APIClient(
        Credentials(url=emulator.url, token=issue_token(emulator), verify=False), project_id="p-7"
    )
    compressor = langchain_multirerank.WatsonxRerank(model_id=MODEL, api_client=client, top_n=None)
    assert "api_client" not in repr(compressor)
    documents = [Document(text, id=f"doc-{i}") for i, text in enumerate(DOCS)]
    assert len(compressor.compress_documents(documents, QUERY)) == len(DOCS)
    compressor.reranker.close()
    assert not client.httpx_client.is_closed
    assert rerank_bodies(emulator)[0]["project_id"] == "p-7"


# -- errors (what every backend owes is in test_backend_contract.py) ------------------------------


def test_throttling_carries_retry_after(emulator: Emulator) -> None:
    emulator.inject(status=429, headers={"Retry-After": "7"}, vendor="watsonx", path=RERANK_PATH)
    with Reranker(backend(emulator), max_retries=0) as reranker, pytest.raises(ThrottledError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert caught.value.retry_after == 7.0


def test_throttling_retry_after_may_be_an_http_date(emulator: Emulator) -> None:
    emulator.inject(
        status=429,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
        vendor="watsonx",
        path=RERANK_PATH,
    )
    with Reranker(backend(emulator), max_retries=0) as reranker, pytest.raises(ThrottledError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert caught.value.retry_after == 0.0  # a date in the past: no wait


def test_persistent_throttling_gives_up_when_the_retry_budget_is_spent(emulator: Emulator) -> None:
    emulator.inject(status=429, headers={"Retry-After": "0"}, vendor="watsonx", path=RERANK_PATH, times=None)
    with Reranker(backend(emulator), retry_budget=0.3) as reranker, pytest.raises(ThrottledError):
        reranker.rerank(QUERY, DOCS)
    assert len(emulator.requests_to(RERANK_PATH)) >= 3


@pytest.mark.parametrize("status", [500, 503, 504])
def test_the_engine_leaves_5xx_to_the_sdks_retries(emulator: Emulator, status: int) -> None:
    # isolated_watsonx_env turned the SDK's retries off: one request, no engine retry on top.
    emulator.inject(status=status, vendor="watsonx", path=RERANK_PATH, times=None)
    with Reranker(backend(emulator)) as reranker, pytest.raises(ProviderError) as caught:
        reranker.rerank(QUERY, DOCS)
    assert caught.value.retryable
    assert len(emulator.requests_to(RERANK_PATH)) == 1


def test_the_engine_retries_what_the_sdk_does_not(emulator: Emulator) -> None:
    from ibm_watsonx_ai._wrappers.httpx.retry_transport import factories

    watsonx = backend(emulator)
    # Throttling, and what the SDK's transport raises at once: read timeouts, failed connections.
    for error in (
        ThrottledError("slow down", provider="watsonx", status=429),
        RerankTimeoutError("no answer in time", provider="watsonx"),
        ProviderError("connection refused", provider="watsonx"),
    ):
        assert watsonx.should_retry(error), error
    # Not what it has retried already (its forcelist: 5xx, 401), nor what cannot succeed.
    for error in (
        ProviderError("503", provider="watsonx", status=503),
        ProviderError("500", provider="watsonx", status=500),
        RerankTimeoutError("gateway timeout", provider="watsonx", status=504),
        AuthenticationError("401", provider="watsonx", status=401, retryable=True),
        ThrottledError("quota gone", provider="watsonx", retryable=False),
    ):
        assert not watsonx.should_retry(error), error
    assert WATSONX.retry.sdk_statuses == frozenset(factories.TRANSPORT_STATUS_FORCELIST)


def test_a_read_timeout_is_retried_by_the_engine(emulator: Emulator) -> None:
    # The SDK's transport re-raises httpx.ReadTimeout at once.
    emulator.inject(vendor="watsonx", path=RERANK_PATH, latency=1.0)
    with Reranker(backend(emulator, timeout=0.3)) as reranker:
        response = reranker.rerank(QUERY, DOCS)
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)
    assert len(emulator.requests_to(RERANK_PATH)) == 2


def test_a_read_timeout_answered_every_time_ends_in_a_retryable_timeout(emulator: Emulator) -> None:
    emulator.inject(vendor="watsonx", path=RERANK_PATH, latency=1.0, times=None)
    with (
        Reranker(backend(emulator, timeout=0.3), max_retries=1) as reranker,
        pytest.raises(RerankTimeoutError) as caught,
    ):
        reranker.rerank(QUERY, DOCS)
    assert caught.value.retryable and caught.value.provider == "watsonx"
    assert len(emulator.requests_to(RERANK_PATH)) == 2


def closed_port_url() -> str:
    """An https URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"https://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "credentials",
    [{"token": "a-token-for-nowhere"}, {"username": "admin", "api_key": SECRET}],
    ids=["token", "cloud-pak-api-key"],
)
def test_an_unreachable_service_is_a_retryable_provider_error(credentials: dict[str, str]) -> None:
    # With these credentials the SDK first asks the (Cloud Pak) version endpoint, and calls a
    # refused connection there "The provided URL is invalid": the service is down, not the URL wrong.
    watsonx = WatsonxOptions(
        model_id=MODEL, url=closed_port_url(), project_id="project-1", verify=False, **credentials
    ).build_backend()
    with Reranker(watsonx, max_retries=0) as reranker, pytest.raises(ProviderError) as caught:
        reranker.rerank(QUERY, DOCS)
    error = caught.value
    assert type(error) is ProviderError and error.retryable and error.provider == "watsonx"
    assert "connection failed" in str(error) and SECRET not in str(error)
    assert watsonx.should_retry(error)


def test_unknown_model_is_not_found(emulator: Emulator) -> None:
    with (
        Reranker(backend(emulator, model_id="ibm/no-such-reranker")) as reranker,
        pytest.raises(NotFoundError),
    ):
        reranker.rerank(QUERY, DOCS)


def test_unknown_project_is_not_found_when_connecting(emulator: Emulator) -> None:
    emulator.state["watsonx_projects"] = {"project-1"}
    with (
        Reranker(backend(emulator, project_id="elsewhere")) as reranker,
        pytest.raises(NotFoundError) as caught,
    ):
        reranker.rerank(QUERY, DOCS)
    assert "does not exist" in str(caught.value)


def test_a_slow_answer_is_a_timeout(emulator: Emulator) -> None:
    emulator.inject(vendor="watsonx", path=RERANK_PATH, latency=1.0)
    with (
        Reranker(backend(emulator, timeout=0.3), max_retries=0) as reranker,
        pytest.raises(RerankTimeoutError) as caught,
    ):
        reranker.rerank(QUERY, DOCS)
    assert caught.value.retryable and caught.value.status is None


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"url": None}, "url"),
        ({"url": "http://insecure.example"}, "https"),
        ({"token": None}, "credentials"),
        ({"project_id": None}, "exactly one of project_id and space_id"),
        ({"space_id": "s"}, "exactly one of project_id and space_id"),
        ({"token": None, "password": "p"}, "password needs username"),
        ({"version": "five"}, "version"),
        ({"verify": "/no/such/ca-bundle.pem"}, "CA bundle"),
        ({"auth_url": "http://iam.example/identity/token"}, "auth_url"),
    ],
)
def test_wrong_setups_fail_early_naming_the_field(
    emulator: Emulator, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigurationError, match=words):
        backend(emulator, **overrides)
    assert not emulator.requests


def test_options_type_errors_name_the_field_and_hide_secrets(emulator: Emulator) -> None:
    with pytest.raises(ValidationError) as caught:
        langchain_multirerank.WatsonxRerank(**options(emulator, api_key=SECRET, token=None, timeout=-1))
    assert "timeout" in str(caught.value) and SECRET not in str(caught.value)
    with pytest.raises(ConfigurationError) as wrong:
        llama_index_multirerank.WatsonxRerank(**options(emulator, api_key=SECRET, project_id=None))
    assert "project_id" in str(wrong.value) and SECRET not in str(wrong.value)


def test_api_client_must_be_an_sdk_client(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="APIClient"):
        WatsonxOptions(model_id=MODEL, api_client=object(), project_id="p").build_backend()


def test_environment_fills_unset_fields_but_never_overrides_explicit_ones(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATSONX_URL", emulator.url)
    monkeypatch.setenv("WATSONX_APIKEY", "env-key-that-must-not-be-used")
    monkeypatch.setenv("WATSONX_SPACE_ID", "env-space")
    chosen = WatsonxOptions(model_id=MODEL, token=issue_token(emulator), project_id="explicit", verify=False)
    assert chosen.api_key is not None and "env-key" not in repr(chosen)
    watsonx = chosen.build_backend()
    assert (watsonx.project_id, watsonx.space_id) == ("explicit", None)
    with Reranker(watsonx) as reranker:
        reranker.rerank(QUERY, DOCS)
    assert not emulator.requests_to("identity|authorize")


def test_secrets_stay_out_of_repr(emulator: Emulator) -> None:
    token = issue_token(emulator)
    for made in (
        WatsonxOptions(**options(emulator, token=token, api_key=SECRET, password="pw-secret", username="u")),
        langchain_multirerank.WatsonxRerank(**options(emulator, token=token)),
        llama_index_multirerank.WatsonxRerank(**options(emulator, token=token)),
    ):
        text = repr(made) + str(made)
        assert token not in text and SECRET not in text and "pw-secret" not in text
        assert emulator.url not in text  # the service URL is a SecretStr too, as in langchain-ibm
    assert token not in repr(backend(emulator, token=token))


# -- adapters and model strings ----------------------------------------------------------------


def test_langchain_sync_and_async(emulator: Emulator) -> None:
    compressor = langchain_multirerank.WatsonxRerank(**options(emulator), top_n=2)
    documents = [Document(text, id=f"doc-{i}", metadata={"n": i}) for i, text in enumerate(DOCS)]
    best = compressor.compress_documents(documents, QUERY)
    order = expected_order(emulator, QUERY, DOCS)[:2]
    assert [document.id for document in best] == [f"doc-{i}" for i in order]
    assert all(isinstance(document.metadata["relevance_score"], float) for document in best)
    assert "relevance_score" not in documents[0].metadata

    import asyncio

    again = asyncio.run(compressor.acompress_documents(documents, QUERY))
    assert [document.id for document in again] == [document.id for document in best]
    compressor.reranker.close()


async def test_llama_index_sync_and_async(emulator: Emulator) -> None:
    postprocessor = llama_index_multirerank.WatsonxRerank(**options(emulator), top_n=3, metadata_mode="none")
    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=0.1) for i, text in enumerate(DOCS)]
    ranked = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    order = expected_order(emulator, QUERY, DOCS)[:3]
    assert [item.node.node_id for item in ranked] == [f"n{i}" for i in order]
    assert all(item.score is not None and item.score != 0.1 for item in ranked)
    assert all(node.score == 0.1 for node in nodes)
    again = await postprocessor.apostprocess_nodes(nodes, query_str=QUERY)
    assert [item.node.node_id for item in again] == [item.node.node_id for item in ranked]
    await postprocessor.reranker.aclose()


def test_model_strings_in_both_frameworks(emulator: Emulator) -> None:
    settings = options(emulator)
    model = f"watsonx/{settings.pop('model_id')}"
    lc = langchain_multirerank.MultiRerank(model=model, backend_options=settings, top_n=1)
    li = llama_index_multirerank.MultiRerank(model=model, backend_options=settings, top_n=1)
    documents = [Document(text) for text in DOCS]
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in DOCS]
    assert (
        lc.compress_documents(documents, QUERY)[0].page_content
        == li.postprocess_nodes(nodes, query_str=QUERY)[0].node.get_content()
    )
    assert {body["model_id"] for body in rerank_bodies(emulator)} == {MODEL}
    lc.reranker.close()
    li.reranker.close()


def test_model_string_needs_a_model(emulator: Emulator) -> None:
    settings = options(emulator)
    settings.pop("model_id")
    with pytest.raises(ConfigurationError, match="watsonx/<model_id>"):
        backend_from_model("watsonx", **settings)
    with pytest.raises(ConfigurationError, match="unknown_option"):
        backend_from_model(f"watsonx/{MODEL}", unknown_option=1, **settings)


def test_importing_the_adapters_does_not_import_the_sdk() -> None:
    imported = ["langchain_multirerank", "multirerank.backends.watsonx"]
    assert loaded_after_importing(imported, ["ibm_watsonx_ai", "httpx", "llama_index"]) == []
