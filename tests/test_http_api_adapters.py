"""``HTTPRerank`` and ``MultiRerank`` in LangChain and LlamaIndex, over every format, on the wire."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import warnings
from typing import Any

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ValidationError

import langchain_multirerank
import llama_index_multirerank
from langchain_multirerank import HTTPRerank as LangChainHTTPRerank
from langchain_multirerank import MultiRerank as LangChainMultiRerank
from llama_index_multirerank import HTTPRerank as LlamaIndexHTTPRerank
from llama_index_multirerank import MultiRerank as LlamaIndexMultiRerank
from multirerank.errors import ConfigurationError, ThrottledError
from multirerank.testing import Emulator
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


def documents() -> list[Document]:
    return [
        Document(page_content=text, id=f"doc-{position}", metadata={"source": position})
        for position, text in enumerate(TEXTS)
    ]


def nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{position}"), score=0.1 * position)
        for position, text in enumerate(TEXTS)
    ]


@pytest.mark.parametrize("api_format", FORMATS)
async def test_langchain_compresses_with_every_format(emulator: Emulator, api_format: str) -> None:
    compressor = LangChainHTTPRerank(**http_options(emulator, api_format), top_n=3)
    originals = documents()
    before = copy.deepcopy(originals)
    expected = expected_order(emulator, QUERY, TEXTS)[:3]
    for result in (
        compressor.compress_documents(originals, QUERY),
        await compressor.acompress_documents(originals, QUERY),
    ):
        assert [document.id for document in result] == [f"doc-{index}" for index in expected]
        scores = [document.metadata["relevance_score"] for document in result]
        assert scores == sorted(scores, reverse=True)
        assert all(document.metadata["source"] == int(document.id[4:]) for document in result)  # type: ignore[index]
    assert originals == before
    assert len(emulator.requests_to(SETUPS[api_format]["path"])) == 2
    await compressor.reranker.aclose()


@pytest.mark.parametrize("api_format", FORMATS)
async def test_llama_index_postprocesses_with_every_format(emulator: Emulator, api_format: str) -> None:
    postprocessor = LlamaIndexHTTPRerank(**http_options(emulator, api_format), top_n=2, metadata_mode="none")
    originals = nodes()
    expected = expected_order(emulator, QUERY, TEXTS)[:2]
    for result in (
        postprocessor.postprocess_nodes(originals, query_str=QUERY),
        await postprocessor.apostprocess_nodes(originals, query_bundle=QueryBundle(QUERY)),
    ):
        assert [item.node.node_id for item in result] == [f"node-{index}" for index in expected]
        wanted = wire_scores(api_format, emulator.ranked(QUERY, TEXTS)[:2])
        assert [item.score for item in result] == pytest.approx([score for _, score in wanted])
    assert [item.score for item in originals] == [0.1 * position for position in range(len(TEXTS))]
    assert len(emulator.requests_to(SETUPS[api_format]["path"])) == 2
    await postprocessor.reranker.aclose()


async def test_bifrost_receives_langchain_and_llama_index_ids(emulator: Emulator) -> None:
    options = http_options(emulator, "bifrost")
    compressor = LangChainHTTPRerank(**options)
    await compressor.acompress_documents(documents(), QUERY)
    await compressor.reranker.aclose()
    LlamaIndexHTTPRerank(**options, metadata_mode="none").postprocess_nodes(nodes(), query_str=QUERY)
    langchain_sent, llama_index_sent = (request.json()["documents"] for request in emulator.requests)
    assert langchain_sent == [{"text": text, "id": f"doc-{n}"} for n, text in enumerate(TEXTS)]
    assert llama_index_sent == [{"text": text, "id": f"node-{n}"} for n, text in enumerate(TEXTS)]


def test_no_client_or_unclosed_warning_is_left_across_asyncio_runs(emulator: Emulator) -> None:
    compressor = LangChainHTTPRerank(**http_options(emulator, "tei"), top_n=2)
    clients = compressor.reranker.backend._async_clients  # type: ignore[attr-defined]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            # Nobody calls aclose(): each loop's shutdown closes its client.
            assert len(asyncio.run(compressor.acompress_documents(documents(), QUERY))) == 2
            assert clients.count() == 0
        gc.collect()
    assert not [warning for warning in caught if "nclosed" in str(warning.message)]


def test_langchain_rerank_returns_indices_and_scores(emulator: Emulator) -> None:
    compressor = LangChainHTTPRerank(**http_options(emulator, "tei"), top_n=None)
    ranked = compressor.rerank(TEXTS, QUERY)
    assert [item["index"] for item in ranked] == expected_order(emulator, QUERY, TEXTS)


@pytest.mark.parametrize(
    ("model", "prefix", "extra"),
    [
        ("vllm/BAAI/bge-reranker-v2-m3", "/vllm", {}),
        ("bifrost/cohere/rerank-v3.5", "/bifrost", {"gateway_fallbacks": ["jina/jina-reranker-v2"]}),
        ("cohere/rerank-v3.5", "/cohere", {"api_key": API_KEY}),
        ("jina/jina-reranker-m0", "/jina", {"api_key": API_KEY}),
        ("tei", "/tei", {}),
    ],
)
async def test_multi_rerank_reaches_the_http_backend(
    emulator: Emulator, model: str, prefix: str, extra: dict[str, Any]
) -> None:
    backend_options = {"base_url": emulator.url + prefix, "max_retries": 0, **extra}
    compressor = LangChainMultiRerank(model=model, backend_options=backend_options, top_n=2)
    postprocessor = LlamaIndexMultiRerank(model=model, backend_options=backend_options, top_n=2)
    await compressor.acompress_documents(documents(), QUERY)
    postprocessor.postprocess_nodes(nodes(), query_str=QUERY)
    await compressor.reranker.aclose()
    assert compressor.reranker.provider == model.split("/")[0]
    assert len(emulator.requests_to("^" + prefix)) == 2


def test_adapters_retry_a_throttled_request(emulator: Emulator) -> None:
    emulator.inject(status=429, headers={"Retry-After": "0"}, vendor="jina", times=1)
    compressor = LangChainHTTPRerank(**http_options(emulator, "jina", max_retries=1))
    assert len(compressor.compress_documents(documents(), QUERY)) == 3
    assert len(emulator.requests) == 2


def test_adapters_surface_a_throttle_when_retries_run_out(emulator: Emulator) -> None:
    emulator.inject(status=429, headers={"Retry-After": "0"}, vendor="tei", times=None)
    # Throttling is retried past max_retries, for as long as the call's retry budget lasts.
    postprocessor = LlamaIndexHTTPRerank(**http_options(emulator, "tei", max_retries=1), retry_budget=0.3)
    with pytest.raises(ThrottledError):
        postprocessor.postprocess_nodes(nodes(), query_str=QUERY)
    assert len(emulator.requests) >= 2


@pytest.mark.parametrize("adapter", [LangChainHTTPRerank, LlamaIndexHTTPRerank])
def test_setup_mistakes_fail_at_construction(adapter: Any) -> None:
    # A backend's ConfigurationError reaches the caller as itself, not wrapped by pydantic.
    with pytest.raises(ConfigurationError, match="base_url is required for api_format 'vllm'"):
        adapter(api_format="vllm")
    with pytest.raises(ValidationError, match="api_format"):
        adapter(base_url="http://localhost:8000")
    with pytest.raises(ValidationError, match="timeout"):
        adapter(api_format="tei", base_url="http://localhost:8080", timeout=-1)
    with pytest.raises(ValidationError, match="Extra inputs"):
        adapter(api_format="tei", base_url="http://localhost:8080", api_formt="tei")


@pytest.mark.parametrize("adapter", [LangChainHTTPRerank, LlamaIndexHTTPRerank])
def test_adapters_keep_secrets_out_of_reprs(adapter: Any) -> None:
    instance = adapter(
        api_format="bifrost",
        model="cohere/rerank-v3.5",
        base_url="http://localhost:8080",
        api_key="sk-adapter-secret",
        headers={"X-Bf-Vk": "virtual-key-secret"},
    )
    for text in (repr(instance), str(instance), str(instance.model_dump()), repr(instance.reranker)):
        assert "sk-adapter-secret" not in text and "virtual-key-secret" not in text
    with pytest.raises(ValidationError) as caught:
        adapter(api_format="tei", base_url="http://h", api_key=["sk-in-a-list"])
    assert "sk-in-a-list" not in str(caught.value)


def test_packages_export_http_rerank() -> None:
    assert "HTTPRerank" in langchain_multirerank.__all__
    assert "HTTPRerank" in llama_index_multirerank.__all__
    assert LlamaIndexHTTPRerank.class_name() == "MultirerankHTTPRerank"


def _vendor_options(emulator: Emulator, api_format: str) -> dict[str, Any]:
    options = http_options(emulator, api_format)
    options.pop("api_format")
    return options


@pytest.mark.parametrize("api_format", ["pinecone", "mixedbread"])
async def test_vendor_classes_rank_on_metadata_fields(emulator: Emulator, api_format: str) -> None:
    """rank_fields through the framework classes: each document goes as its text plus the named
    metadata fields (it went as text alone, a 400 from Pinecone, ignored by Mixedbread)."""
    titles = list(reversed(TEXTS))  # ranked on titles, not texts: another order
    given = [
        Document(page_content=text, metadata={"title": title})
        for text, title in zip(TEXTS, titles, strict=True)
    ]
    given_nodes = [
        NodeWithScore(node=TextNode(text=text, metadata={"title": title}))
        for text, title in zip(TEXTS, titles, strict=True)
    ]
    class_name = "PineconeRerank" if api_format == "pinecone" else "MixedbreadRerank"
    options = {**_vendor_options(emulator, api_format), "rank_fields": ["title"], "top_n": 2}
    compressor = getattr(langchain_multirerank, class_name)(**options)
    postprocessor = getattr(llama_index_multirerank, class_name)(**options)
    expected = expected_order(emulator, QUERY, titles)[:2]
    for result in (
        compressor.compress_documents(given, QUERY),
        await compressor.acompress_documents(given, QUERY),
    ):
        assert [document.metadata["title"] for document in result] == [titles[index] for index in expected]
    ranked_nodes = postprocessor.postprocess_nodes(given_nodes, query_str=QUERY)
    assert [item.node.metadata["title"] for item in ranked_nodes] == [titles[index] for index in expected]
    body = json.loads(emulator.requests[-1].body)
    key = "documents" if api_format == "pinecone" else "input"
    assert body[key][0] == {"text": TEXTS[0], "title": titles[0]} and body["rank_fields"] == ["title"]
    await compressor.reranker.aclose()
    await postprocessor.reranker.aclose()


@pytest.mark.parametrize("api_format", ["pinecone", "mixedbread"])
def test_a_document_lacking_a_rank_field_is_named_before_sending(emulator: Emulator, api_format: str) -> None:
    from multirerank.errors import RerankInputError

    class_name = "PineconeRerank" if api_format == "pinecone" else "MixedbreadRerank"
    options = {**_vendor_options(emulator, api_format), "rank_fields": ["title", "text"]}
    given = [Document(page_content="a", metadata={"title": "A"}), Document(page_content="b")]
    with pytest.raises(RerankInputError, match=r"^document at index 1 has no metadata field 'title'"):
        getattr(langchain_multirerank, class_name)(**options).compress_documents(given, QUERY)
    node_list = [NodeWithScore(node=TextNode(text="a")), NodeWithScore(node=TextNode(text="b"))]
    with pytest.raises(RerankInputError, match=r"^node at index 0 has no metadata field 'title'"):
        getattr(llama_index_multirerank, class_name)(**options).postprocess_nodes(node_list, query_str=QUERY)
    assert not emulator.requests


def test_a_misspelt_rerank_field_warns_how_many_documents_it_left_out(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Every document lacking the field had blank text and was left out with only an INFO note."""
    import logging

    options = {**_vendor_options(emulator, "voyage"), "rerank_fields": ["nope"]}
    given = [Document(page_content=text) for text in TEXTS]
    given_nodes = [NodeWithScore(node=TextNode(text=text)) for text in TEXTS]
    with caplog.at_level(logging.WARNING, logger="multirerank"):
        assert langchain_multirerank.VoyageRerank(**options).compress_documents(given, QUERY) == []
        assert llama_index_multirerank.VoyageRerank(**options).postprocess_nodes(given_nodes, query_str=QUERY) == []
    warnings_given = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings_given == [
        f"{len(TEXTS)} of {len(TEXTS)} {what}(s) have none of rerank_fields ['nope']: their text is blank, "
        "so they are not reranked or returned (check the field names)"
        for what in ("document", "node")
    ]
    assert not emulator.requests
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="multirerank"):  # a field some documents lack: no warning
        options["rerank_fields"] = ["nope", "page_content"]
        assert len(langchain_multirerank.VoyageRerank(**options).compress_documents(given, QUERY)) == 3
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
