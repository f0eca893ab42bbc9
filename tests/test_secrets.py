"""No key, token, password or secret header ever shows: not in a framework class's repr, str or
dumps (LlamaIndex's ``to_json``/``to_dict`` included, which must also work), nor in the error
a refused call raises. Every rendering counts in the run's secrets tally (``tests.leak_support``).

Every framework class of both packages is built with a recognisable secret in each secret field;
building one must not touch the network.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.config import Config
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

import langchain_multirerank
import llama_index_multirerank
from multirerank.errors import AuthenticationError, RerankError
from multirerank.testing import Emulator
from multirerank.testing.watsonx import RERANK_PATH as WATSONX_RERANK_PATH
from tests.aws_support import REGION, isolated_aws_env  # noqa: F401 - an autouse fixture
from tests.emulator_support import emulator_fixtures
from tests.http_support import VENDOR_FORMATS
from tests.leak_support import assert_no_secret, error_surfaces
from tests.sdk_support import DOCS, QUERY, SDK_ENV, WATSONX_ENV

SECRET = "sk-LEAK-123"
FRAMEWORKS = {"langchain": langchain_multirerank, "llama_index": llama_index_multirerank}
WATSONX_MODEL = "cross-encoder/ms-marco-minilm-l-12-v2"
#: Variables whose values would otherwise fill unset fields, or that the watsonx.ai SDK reads.
ENVIRONMENT = ("DASHSCOPE_API_KEY", "COHERE_API_KEY", "JINA_API_KEY", *WATSONX_ENV, *SDK_ENV)

server, emulator = emulator_fixtures()


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Emulator]:
    """watsonx.ai's SDK speaks HTTPS only."""
    with Emulator(tls=True) as running:
        yield running


@pytest.fixture
def tls_emulator(tls_server: Emulator) -> Iterator[Emulator]:
    tls_server.clear()
    tls_server.state.clear()
    yield tls_server
    tls_server.clear()
    tls_server.state.clear()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key of this machine fills a field, and the watsonx.ai SDK leaves nothing behind nor retries."""
    for name in ENVIRONMENT:
        # setenv first so that teardown removes whatever an SDK wrote meanwhile.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    from ibm_watsonx_ai._wrappers.httpx.retry_transport import factories

    # The SDK's transport retries a 401 three times with back-off; once shows the error.
    monkeypatch.setattr(factories, "TRANSPORT_RETRIES", 0)


def secret(field: str) -> str:
    return f"{SECRET}-{field}"


def google_credentials(token_uri: str = "https://oauth2.example.invalid/token", token: str | None = None) -> Any:
    """User credentials holding an access token, a refresh token and a client secret."""
    from google.oauth2.credentials import Credentials

    return Credentials(
        token=token if token is not None else secret("access-token"),
        refresh_token=secret("refresh-token"),
        client_id="client-id",
        client_secret=secret("client-secret"),
        token_uri=token_uri,
    )


def aws_keys() -> dict[str, Any]:
    return {
        "region_name": REGION,
        "aws_access_key_id": secret("access-key-id"),
        "aws_secret_access_key": secret("secret-access-key"),
        "aws_session_token": secret("session-token"),
    }


#: Per class: settings with a secret in every secret field, pointing nowhere that is contacted.
BUILT: dict[str, Callable[[], dict[str, Any]]] = {
    "BedrockRerank": lambda: {"model_arn": "cohere.rerank-v3-5:0", **aws_keys()},
    "SageMakerRerank": lambda: {"endpoint_name": "bge-reranker", **aws_keys()},
    "WatsonxRerank": lambda: {
        "model_id": WATSONX_MODEL,
        # The service URL is a secret too, as in langchain-ibm.
        "url": f"https://{secret('url')}.example.com",
        "api_key": secret("api-key"),
        "token": secret("token"),
        "username": "someone",
        "password": secret("password"),
        "project_id": "project-1",
    },
    "DashScopeRerank": lambda: {"api_key": secret("api-key")},
    "HTTPRerank": lambda: {
        "api_format": "cohere",
        "model": "rerank-v3.5",
        "api_key": secret("api-key"),
        "headers": {"X-Extra-Key": secret("header")},
    },
    "MultiRerank": lambda: {"model": "cohere/rerank-v3.5", "backend_options": {"api_key": secret("option")}},
    **{
        name: lambda: {"api_key": secret("api-key"), "headers": {"X-Extra-Key": secret("header")}}
        for name in VENDOR_FORMATS
    },
    "VertexAIRerank": lambda: {"project_id": "project-1", "credentials": google_credentials()},
}
#: The fields that hold those secrets, none of which any dump may carry.
SECRET_FIELDS = {
    "BedrockRerank": {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"},
    "SageMakerRerank": {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"},
    "WatsonxRerank": {"url", "api_key", "token", "password"},
    "DashScopeRerank": {"api_key"},
    "HTTPRerank": {"api_key", "headers"},
    "MultiRerank": {"backend_options"},
    **{name: {"api_key", "headers"} for name in VENDOR_FORMATS},
    "VertexAIRerank": {"credentials"},
}
CLASSES = [(framework, name) for framework in FRAMEWORKS for name in BUILT]


def test_every_framework_class_is_covered() -> None:
    for module in FRAMEWORKS.values():
        # LocalRerank has no secret; RerankCompressor / RerankPostprocessor are the bases.
        exported = {name for name in module.__all__ if name.endswith("Rerank") and name != "LocalRerank"}
        assert exported == set(BUILT)


@contextmanager
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection or name lookup inside fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the network was touched: {args[1:] or kwargs}")

    with monkeypatch.context() as patched:
        patched.setattr(socket.socket, "connect", refuse)
        patched.setattr(socket.socket, "connect_ex", refuse)
        patched.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.mark.parametrize(("framework", "name"), CLASSES, ids=[f"{f}-{n}" for f, n in CLASSES])
def test_secrets_stay_out_of_reprs_and_dumps(
    framework: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = FRAMEWORKS[framework]
    with no_network(monkeypatch):
        made = getattr(module, name)(**BUILT[name]())
    try:
        dumped = made.model_dump()
        assert not SECRET_FIELDS[name] & set(dumped)
        renderings = {
            "repr": repr(made),
            "str": str(made),
            "format": f"{made}",
            "model_dump": repr(dumped),
            "model_dump(mode=json)": json.dumps(made.model_dump(mode="json")),
            "model_dump_json": made.model_dump_json(),
            "backend repr": repr(made.reranker.backend),
            "backend str": str(made.reranker.backend),
            "reranker repr": repr(made.reranker),
            "fields": repr(dict(made)),
            "attributes": repr(vars(made)),
            "copy repr": repr(copy.copy(made)),
        }
        if module is langchain_multirerank:
            from langchain_core.load import dumps

            renderings["langchain dumps"] = dumps(made)
        if module is llama_index_multirerank:
            # These raised "Object of type SecretStr is not JSON serializable" before.
            as_dict = made.to_dict()
            as_json = made.to_json()
            assert as_dict["class_name"] == made.class_name()
            assert json.loads(as_json) == json.loads(json.dumps(as_dict))
            assert not SECRET_FIELDS[name] & set(as_dict)
            renderings["to_dict"] = json.dumps(as_dict)
            renderings["to_json"] = as_json
        assert_no_secret(renderings, [SECRET], f"{framework}-{name}")
    finally:
        made.reranker.close()


def test_secrets_from_the_environment_stay_out_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", secret("env-dashscope"))
    monkeypatch.setenv("COHERE_API_KEY", secret("env-cohere"))
    monkeypatch.setenv("WATSONX_URL", f"https://{secret('env-url')}.example.com")
    monkeypatch.setenv("WATSONX_APIKEY", secret("env-watsonx"))
    monkeypatch.setenv("WATSONX_PROJECT_ID", "project-1")
    with no_network(monkeypatch):
        made = [
            llama_index_multirerank.DashScopeRerank(),
            llama_index_multirerank.HTTPRerank(api_format="cohere", model="rerank-v3.5"),
            llama_index_multirerank.WatsonxRerank(model_id=WATSONX_MODEL),
        ]
    for item in made:
        renderings = {
            "repr": repr(item),
            "to_json": item.to_json(),
            "model_dump_json": item.model_dump_json(),
        }
        assert_no_secret(renderings, [SECRET], f"environment-{type(item).__name__}")
        item.reranker.close()


# -- the errors of refused calls -------------------------------------------------------------------


def refusing_aws(vendor: str, fields: dict[str, Any]) -> Callable[[Emulator, Emulator], dict[str, Any]]:
    def setup(plain: Emulator, tls: Emulator) -> dict[str, Any]:
        plain.inject(
            status=403,
            code="UnrecognizedClientException",
            message="The security token included in the request is invalid.",
            vendor=vendor,
            times=None,
        )
        return {
            **fields,
            **aws_keys(),
            "endpoint_url": plain.url,
            "config": Config(retries={"total_max_attempts": 1}),
        }

    return setup


def refusing_watsonx_api_key(plain: Emulator, tls: Emulator) -> dict[str, Any]:
    tls.state["watsonx_api_keys"] = {"the-right-key"}
    return {
        "model_id": WATSONX_MODEL,
        "url": tls.url,
        "api_key": secret("api-key"),
        "auth_url": f"{tls.url}/identity/token",
        "platform_url": tls.url,
        "project_id": "project-1",
        "verify": False,
    }


def refusing_watsonx_token(plain: Emulator, tls: Emulator) -> dict[str, Any]:
    # Not a token the emulator issued: refused with 401.
    return {
        "model_id": WATSONX_MODEL,
        "url": tls.url,
        "token": secret("token"),
        "project_id": "project-1",
        "verify": False,
    }


def refusing_watsonx_call(plain: Emulator, tls: Emulator) -> dict[str, Any]:
    from multirerank.testing.watsonx import issue_token

    # Signed in, then the rerank request itself is refused.
    tls.inject(status=401, code="authentication_token_expired", vendor="watsonx", path=WATSONX_RERANK_PATH)
    return {
        "model_id": WATSONX_MODEL,
        "url": tls.url,
        "token": issue_token(tls),
        "project_id": "project-1",
        "verify": False,
    }


def refusing_dashscope(plain: Emulator, tls: Emulator) -> dict[str, Any]:
    plain.state["dashscope_api_keys"] = {"the-right-key"}
    return {"api_key": secret("api-key"), "base_url": f"{plain.url}/api/v1", "max_retries": 0}


def http_fields(plain: Emulator) -> dict[str, Any]:
    plain.state["cohere.api_key"] = "the-right-key"
    return {"base_url": f"{plain.url}/cohere", "max_retries": 0}


def refusing_vertex(plain: Emulator, token: str | None) -> dict[str, Any]:
    if token == "":
        plain.state["vertex_refresh_tokens"] = {"the-right-refresh-token"}
        credentials = google_credentials(f"{plain.url}/token")
        credentials.token = None
    else:
        plain.inject(status=401, vendor="vertex", echo="message", times=None)
        credentials = google_credentials(f"{plain.url}/token", token)
    return {"project_id": "project-1", "credentials": credentials, "base_url": plain.url, "max_retries": 0}


#: Per case: the class, and a setup making the emulators refuse it and returning its settings.
REFUSED: dict[str, tuple[str, Callable[[Emulator, Emulator], dict[str, Any]]]] = {
    "bedrock": ("BedrockRerank", refusing_aws("bedrock", {"model_arn": "cohere.rerank-v3-5:0"})),
    "sagemaker": ("SageMakerRerank", refusing_aws("sagemaker", {"endpoint_name": "bge-reranker"})),
    "watsonx-api-key": ("WatsonxRerank", refusing_watsonx_api_key),
    "watsonx-token": ("WatsonxRerank", refusing_watsonx_token),
    "watsonx-rerank-401": ("WatsonxRerank", refusing_watsonx_call),
    "dashscope": ("DashScopeRerank", refusing_dashscope),
    "http": (
        "HTTPRerank",
        lambda plain, tls: {
            "api_format": "cohere",
            "model": "rerank-v3.5",
            "api_key": secret("api-key"),
            "headers": {"X-Extra-Key": secret("header")},
            **http_fields(plain),
        },
    ),
    # The rank call refused, echoing the bearer token it carried.
    "vertex-rank-401": ("VertexAIRerank", lambda plain, tls: refusing_vertex(plain, token=None)),
    # The token refresh refused: the refresh token and client secret were sent.
    "vertex-refresh": ("VertexAIRerank", lambda plain, tls: refusing_vertex(plain, token="")),
    "multi": (
        "MultiRerank",
        lambda plain, tls: {
            "model": "cohere/rerank-v3.5",
            "backend_options": {"api_key": secret("option"), **http_fields(plain)},
        },
    ),
}
CALLS = [
    (framework, case, mode) for framework in FRAMEWORKS for case in REFUSED for mode in ("sync", "async")
]


def run(made: Any, mode: str) -> Any:
    if isinstance(made, langchain_multirerank.RerankCompressor):
        documents = [Document(text) for text in DOCS]
        if mode == "sync":
            return made.compress_documents(documents, QUERY)
        return asyncio.run(made.acompress_documents(documents, QUERY))
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in DOCS]
    if mode == "sync":
        return made.postprocess_nodes(nodes, query_str=QUERY)
    return asyncio.run(made.apostprocess_nodes(nodes, query_str=QUERY))


@pytest.mark.parametrize(("framework", "case", "mode"), CALLS, ids=["-".join(call) for call in CALLS])
def test_refused_calls_raise_errors_without_the_secret(
    emulator: Emulator, tls_emulator: Emulator, framework: str, case: str, mode: str
) -> None:
    name, setup = REFUSED[case]
    made = getattr(FRAMEWORKS[framework], name)(**setup(emulator, tls_emulator))
    try:
        with pytest.raises(RerankError) as caught:
            run(made, mode)
    finally:
        made.reranker.close()
    error = caught.value
    assert isinstance(error, AuthenticationError), repr(error)
    # The whole chain, the SDK's own exceptions included, as a log or a traceback would show it.
    assert_no_secret(error_surfaces(error), [SECRET], f"{framework}-{case}-{mode}")
    assert os.environ.get("WX_CLIENT_VERIFY_REQUESTS") is None
