"""Every framework object pickles to an equal object that works, including in another process.

The engine (clients, thread pool, SSL contexts, locks) stays behind and is rebuilt on first use
after unpickling. An object holding an SDK client the caller made cannot be pickled, and says
which field holds it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from pydantic import SecretStr

import langchain_multirerank
import llama_index_multirerank
from multirerank.testing import Emulator
from multirerank.testing.watsonx import issue_token
from tests.aws_support import client_settings, isolated_aws_env  # noqa: F401 - an autouse fixture
from tests.http_support import VENDOR_FORMATS, http_options
from tests.sdk_support import SDK_ENV, WATSONX_ENV

FRAMEWORKS = {"langchain": langchain_multirerank, "llama_index": llama_index_multirerank}
QUERY = "how do cats purr"
TEXTS = [
    "dogs bark at night",
    "cats purr when they are content",
    "the stock market fell",
    "why do cats purr and how",
]
SECRET = "sk-PICKLED-secret"
#: AWS clients made for the emulator: dummy keys, no retries; a dict config compares equal.
AWS_CONFIG = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture(scope="module")
def plain() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def tls() -> Iterator[Emulator]:
    """watsonx.ai's SDK speaks HTTPS only."""
    with Emulator(tls=True) as running:
        yield running


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DASHSCOPE_API_KEY", "COHERE_API_KEY", "GOOGLE_CLOUD_PROJECT", *WATSONX_ENV, *SDK_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # Vertex AI's Application Default Credentials, as a restored object finds them again.
    import google.auth
    from google.oauth2.credentials import Credentials

    monkeypatch.setattr(google.auth, "default", lambda **kwargs: (Credentials(token=SECRET), "project-1"))


def aws(**fields: Any) -> dict[str, Any]:
    return {**client_settings(**fields), "aws_secret_access_key": SECRET, "config": AWS_CONFIG}


def vendor_settings(api_format: str, plain: Emulator, tls: Emulator) -> dict[str, Any]:
    """A vendor class's settings: the format's, without the api_format its class fixes."""
    options = http_options(plain, api_format)
    del options["api_format"]
    return {**options, "api_key": SECRET}


#: Per class: settings that reach the emulators (``plain``, ``tls``) and carry a secret where one fits.
SETTINGS: dict[str, Callable[[Emulator, Emulator], dict[str, Any]]] = {
    "LocalRerank": lambda plain, tls: {"top_n": 2},
    "MultiRerank": lambda plain, tls: {
        "model": "tei",
        "backend_options": {"base_url": f"{plain.url}/tei", "max_retries": 0, "api_key": SECRET},
    },
    "BedrockRerank": lambda plain, tls: aws(model_arn="cohere.rerank-v3-5:0", endpoint_url=plain.url),
    "SageMakerRerank": lambda plain, tls: aws(endpoint_name="bge-reranker", endpoint_url=plain.url),
    "WatsonxRerank": lambda plain, tls: {
        "model_id": "cross-encoder/ms-marco-minilm-l-12-v2",
        "url": tls.url,
        "token": issue_token(tls),
        "project_id": "project-1",
        "verify": False,
    },
    "DashScopeRerank": lambda plain, tls: {
        "api_key": SECRET,
        "base_url": f"{plain.url}/api/v1",
        "max_retries": 0,
    },
    "HTTPRerank": lambda plain, tls: {**http_options(plain, "cohere"), "api_key": SECRET},
    **{name: functools.partial(vendor_settings, api_format) for name, api_format in VENDOR_FORMATS.items()},
    "VertexAIRerank": lambda plain, tls: {"base_url": plain.url, "max_retries": 0, "title_field": "title"},
}
CLASSES = [(framework, name) for framework in FRAMEWORKS for name in SETTINGS]


def test_every_framework_class_is_covered() -> None:
    for module in FRAMEWORKS.values():
        assert {name for name in module.__all__ if name.endswith("Rerank")} == set(SETTINGS)


def ranked(made: Any) -> list[str]:
    """The ids of one rerank call's results through the framework's own entry point."""
    if isinstance(made, langchain_multirerank.RerankCompressor):
        documents = [Document(page_content=text, id=f"doc-{n}") for n, text in enumerate(TEXTS)]
        return [str(document.id) for document in made.compress_documents(documents, QUERY)]
    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"doc-{n}")) for n, text in enumerate(TEXTS)]
    return [item.node.node_id for item in made.postprocess_nodes(nodes, query_str=QUERY)]


async def aranked(made: Any) -> list[str]:
    if isinstance(made, langchain_multirerank.RerankCompressor):
        documents = [Document(page_content=text, id=f"doc-{n}") for n, text in enumerate(TEXTS)]
        return [str(document.id) for document in await made.acompress_documents(documents, QUERY)]
    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"doc-{n}")) for n, text in enumerate(TEXTS)]
    return [item.node.node_id for item in await made.apostprocess_nodes(nodes, query_str=QUERY)]


def secrets_of(made: Any) -> dict[str, str]:
    return {
        name: value.get_secret_value() for name, value in vars(made).items() if isinstance(value, SecretStr)
    }


@pytest.mark.parametrize(("framework", "name"), CLASSES, ids=[f"{f}-{n}" for f, n in CLASSES])
def test_an_object_pickles_to_an_equal_working_object(
    plain: Emulator, tls: Emulator, framework: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    kind = getattr(FRAMEWORKS[framework], name)
    made = kind(**SETTINGS[name](plain, tls))
    expected = ranked(made)  # the engine has been built and used: clients, SSL contexts, a pool
    with caplog.at_level(logging.WARNING):
        restored = pickle.loads(pickle.dumps(made))
    # Nothing is silently dropped (LlamaIndex's own pickling removes what it cannot pickle).
    assert not [record for record in caplog.records if "pickle" in record.getMessage().lower()]
    try:
        # Pickle found the class made by framework_class through the module's __getattr__.
        assert type(restored) is kind is getattr(importlib_module(kind), name)
        assert restored == made
        assert restored.model_dump() == made.model_dump()
        assert restored.model_fields_set == made.model_fields_set
        # Secrets are still SecretStr, with the same value, and still masked.
        assert secrets_of(restored) == secrets_of(made)
        assert SECRET not in repr(restored) and SECRET not in str(restored)
        assert restored._reranker is None, "the engine is rebuilt lazily"
        assert ranked(restored) == expected
        assert asyncio.run(aranked(restored)) == expected
        assert restored.reranker is not made.reranker
        # A restored object is whole: it takes assignments and pickles again.
        restored.top_n = 1
        assert ranked(restored) == expected[:1]
        again = pickle.loads(pickle.dumps(restored))
        assert again == restored and again != made
    finally:
        made.reranker.close()
        restored.reranker.close()


def importlib_module(kind: type[Any]) -> Any:
    import importlib

    return importlib.import_module(kind.__module__)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_unused_object_pickles_without_building_an_engine(framework: str, plain: Emulator) -> None:
    made = FRAMEWORKS[framework].HTTPRerank(**http_options(plain, "tei"))
    once = pickle.loads(pickle.dumps(made))
    twice = pickle.loads(pickle.dumps(once))
    assert once._reranker is None and twice._reranker is None
    assert twice == made
    assert ranked(twice) == ranked(made)
    made.reranker.close()
    twice.reranker.close()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_object_holding_a_boto3_client_names_the_field(framework: str, plain: Emulator) -> None:
    import boto3

    client = boto3.client(
        "bedrock-agent-runtime",
        region_name="us-west-2",
        endpoint_url=plain.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    made = FRAMEWORKS[framework].BedrockRerank(
        **aws(model_arn="cohere.rerank-v3-5:0", endpoint_url=plain.url), client=client
    )
    with pytest.raises(
        TypeError, match="cannot pickle BedrockRerank: its 'client' field holds an SDK client"
    ):
        pickle.dumps(made)
    # Without the client, the same settings pickle.
    assert pickle.loads(pickle.dumps(made.model_copy(update={"client": None}))).client is None


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_object_holding_a_watsonx_api_client_names_the_field(framework: str, tls: Emulator) -> None:
    from ibm_watsonx_ai import APIClient, Credentials

    client = APIClient(Credentials(url=tls.url, token=issue_token(tls), verify=False), project_id="p-7")
    made = FRAMEWORKS[framework].WatsonxRerank(
        model_id="cross-encoder/ms-marco-minilm-l-12-v2", api_client=client
    )
    with pytest.raises(TypeError, match="its 'api_client' field holds an SDK client"):
        pickle.dumps(made)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_object_holding_google_credentials_names_the_field(framework: str, plain: Emulator) -> None:
    from google.oauth2.credentials import Credentials

    made = FRAMEWORKS[framework].VertexAIRerank(
        project_id="p", credentials=Credentials(token=SECRET), base_url=plain.url
    )
    with pytest.raises(TypeError, match="its 'credentials' field holds"):
        pickle.dumps(made)


def rerank_in_child(made: Any) -> list[str]:
    """Runs in a worker process: the object arrived pickled, and reranks there."""
    try:
        return ranked(made)
    finally:
        made.reranker.close()


def test_objects_rerank_in_a_spawned_worker_process(plain: Emulator) -> None:
    made = [module.HTTPRerank(**http_options(plain, "jina"), top_n=3) for module in FRAMEWORKS.values()]
    expected = [ranked(item) for item in made]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        results = list(pool.map(rerank_in_child, made))
    assert results == expected
    assert all(len(ids) == 3 for ids in results)
    for item in made:
        item.reranker.close()
