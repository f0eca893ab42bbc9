"""The local default in each framework's pipeline, on the packaged model: the demo ranks Washington first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

import langchain_multirerank
import llama_index_multirerank
from tests.test_langchain_adapter import FixedRetriever as LangChainRetriever
from tests.test_llama_index_adapter import FixedRetriever as LlamaIndexRetriever

DEMO = json.loads((Path(__file__).parent.parent / "examples" / "demo.json").read_text())
WASHINGTON = DEMO["documents"][DEMO["expected_first"]]


@pytest.fixture(scope="module")
def langchain_local() -> langchain_multirerank.LocalRerank:
    return langchain_multirerank.LocalRerank(top_n=2)


@pytest.fixture(scope="module")
def llama_index_local() -> llama_index_multirerank.LocalRerank:
    return llama_index_multirerank.LocalRerank(top_n=2, metadata_mode="none")


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_langchain_retriever_puts_washington_first(
    langchain_local: langchain_multirerank.LocalRerank, asynchronous: bool
) -> None:
    documents = [Document(page_content=text, id=f"doc-{n}") for n, text in enumerate(DEMO["documents"])]
    pipeline = ContextualCompressionRetriever(
        base_compressor=langchain_local, base_retriever=LangChainRetriever(documents=documents)
    )
    found = await pipeline.ainvoke(DEMO["query"]) if asynchronous else pipeline.invoke(DEMO["query"])
    assert found[0].page_content == WASHINGTON
    assert found[0].id == f"doc-{DEMO['expected_first']}"
    assert len(found) == 2 and found[0].metadata["relevance_score"] > found[1].metadata["relevance_score"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_llama_index_query_engine_puts_washington_first(
    llama_index_local: llama_index_multirerank.LocalRerank, asynchronous: bool
) -> None:
    nodes = [NodeWithScore(node=TextNode(text=text), score=1.0) for text in DEMO["documents"]]
    engine = RetrieverQueryEngine.from_args(
        retriever=LlamaIndexRetriever(nodes), node_postprocessors=[llama_index_local], llm=MockLLM()
    )
    response = await engine.aquery(DEMO["query"]) if asynchronous else engine.query(DEMO["query"])
    assert response.source_nodes[0].node.get_content() == WASHINGTON
    assert len(response.source_nodes) == 2
    assert [node.score for node in nodes] == [1.0] * len(nodes)


@pytest.mark.parametrize("framework", [langchain_multirerank, llama_index_multirerank])
def test_passage_and_precision_options_reach_the_backend(framework: Any) -> None:
    from multirerank.backends.local import LocalBackend

    rerank = framework.LocalRerank(
        dtype="float32",
        device="cpu",
        window_tokens=48,
        window_stride=40,
        aggregate="mean-top2",
        batch_tokens=4096,
    )
    backend = rerank.reranker.backend
    assert isinstance(backend, LocalBackend)
    assert (backend.dtype, backend.device, backend.window_tokens, backend.window_stride) == (
        "float32",
        "cpu",
        48,
        40,
    )
    assert (backend.aggregate, backend.batch_tokens) == ("mean-top2", 4096)


@pytest.mark.parametrize("framework", [langchain_multirerank, llama_index_multirerank])
def test_an_unusable_device_fails_at_construction(framework: Any) -> None:
    with pytest.raises(ValueError, match="device 'bogus' is not a torch device"):
        framework.LocalRerank(device="bogus")
