"""Smoke test run on the lowest releases pyproject.toml allows, by ``scripts/lowest.sh``.

That job installs only the ``langchain``, ``llamaindex``, ``http`` and ``testing`` extras, each
direct dependency at its lowest allowed release, and runs this file: both frameworks' adapters and
the engine, sync and async, against the wire emulator. The main suite covers the rest on the newest
releases. The file name keeps pytest's default collection away from it; run it by path::

    pytest tests/smoke_lowest.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

import langchain_multirerank
import llama_index_multirerank
from multirerank import Reranker
from multirerank.cli import main
from multirerank.errors import AuthenticationError
from multirerank.testing import Emulator

QUERY = "solar panels on a roof"
TEXTS = [
    "wind turbines spin offshore",
    "solar panels convert sunlight on the roof of a house",
    "a roof made of clay tiles",
    "panels of judges decide cases",
]
KEY = "sk-smoke-test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


def best_first(emulator: Emulator, count: int) -> list[int]:
    return [index for index, _ in emulator.ranked(QUERY, TEXTS)][:count]


def documents() -> list[Document]:
    return [Document(page_content=text, id=f"doc-{n}", metadata={"n": n}) for n, text in enumerate(TEXTS)]


def nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{n}"), score=0.0) for n, text in enumerate(TEXTS)
    ]


async def test_engine_sync_and_async(emulator: Emulator) -> None:
    with Reranker("tei", base_url=f"{emulator.url}/tei") as reranker:
        for response in (reranker.rerank(QUERY, TEXTS, 2), await reranker.arerank(QUERY, TEXTS, 2)):
            assert [result.index for result in response] == best_first(emulator, 2)
            assert response.score_scale == "probability"
        await reranker.aclose()


async def test_langchain_http_rerank(emulator: Emulator) -> None:
    compressor = langchain_multirerank.HTTPRerank(
        api_format="cohere", model="rerank-v3.5", base_url=f"{emulator.url}/cohere", api_key=KEY, top_n=2
    )
    originals = documents()
    for result in (
        compressor.compress_documents(originals, QUERY),
        await compressor.acompress_documents(originals, QUERY),
    ):
        assert [document.id for document in result] == [f"doc-{n}" for n in best_first(emulator, 2)]
        assert all("relevance_score" in document.metadata for document in result)
    assert all("relevance_score" not in document.metadata for document in originals)
    assert [item["index"] for item in compressor.rerank(TEXTS, QUERY)] == best_first(emulator, 2)
    assert KEY not in repr(compressor)

    compressor.top_n = 1  # validated, and the engine is rebuilt
    copy = compressor.model_copy(update={"top_n": 3})
    assert len(compressor.compress_documents(originals, QUERY)) == 1
    assert len(await copy.acompress_documents(originals, QUERY)) == 3
    await compressor.reranker.aclose()
    await copy.reranker.aclose()


async def test_llama_index_http_rerank(emulator: Emulator) -> None:
    postprocessor = llama_index_multirerank.HTTPRerank(
        api_format="vllm", model="BAAI/bge-reranker-v2-m3", base_url=f"{emulator.url}/vllm", top_n=2
    )
    for result in (
        postprocessor.postprocess_nodes(nodes(), query_str=QUERY),
        await postprocessor.apostprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY)),
    ):
        assert [item.node.node_id for item in result] == [f"node-{n}" for n in best_first(emulator, 2)]
        assert [item.score for item in result] == [score for _, score in emulator.ranked(QUERY, TEXTS)[:2]]
    await postprocessor.reranker.aclose()


@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
async def test_multi_rerank_with_a_retried_throttle(emulator: Emulator, framework: str) -> None:
    options = {"base_url": f"{emulator.url}/jina", "api_key": KEY, "max_retries": 1}
    emulator.inject(status=429, headers={"Retry-After": "0"}, vendor="jina", times=1)
    if framework == "langchain":
        reranker = langchain_multirerank.MultiRerank(model="jina/jina-reranker-m0", backend_options=options)
        sync_ids = [document.id for document in reranker.compress_documents(documents(), QUERY)]
        async_ids = [document.id for document in await reranker.acompress_documents(documents(), QUERY)]
        prefix = "doc"
    else:
        reranker = llama_index_multirerank.MultiRerank(model="jina/jina-reranker-m0", backend_options=options)
        sync_ids = [item.node.node_id for item in reranker.postprocess_nodes(nodes(), query_str=QUERY)]
        found = await reranker.apostprocess_nodes(nodes(), query_str=QUERY)
        async_ids = [item.node.node_id for item in found]
        prefix = "node"
    expected = [f"{prefix}-{n}" for n in best_first(emulator, 3)]
    assert sync_ids == async_ids == expected
    await reranker.reranker.aclose()


def test_vendor_errors_reach_both_frameworks(emulator: Emulator) -> None:
    options = {"api_format": "cohere", "model": "rerank-v3.5", "base_url": f"{emulator.url}/cohere"}
    for adapter, call in (
        (langchain_multirerank.HTTPRerank, lambda r: r.compress_documents(documents(), QUERY)),
        (llama_index_multirerank.HTTPRerank, lambda r: r.postprocess_nodes(nodes(), query_str=QUERY)),
    ):
        emulator.inject(status=401, vendor="cohere", times=1)
        with pytest.raises(AuthenticationError):
            call(adapter(**options, api_key=KEY))


def test_cli_with_a_progress_bar(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "docs.json"
    source.write_text(json.dumps({"query": QUERY, "documents": TEXTS}))
    options = ["-o", f"base_url={emulator.url}/tei", "-o", "max_documents_per_request=2"]
    assert main(["rerank", "--model", "tei", *options, "--progress", "--json", str(source)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [result["index"] for result in report["results"]] == best_first(emulator, len(TEXTS))


def test_tls_emulator() -> None:
    # The testing extra's cryptography makes the self-signed certificate.
    with Emulator(tls=True) as emulator:
        answer = httpx.post(f"{emulator.url}/tei/rerank", json={"query": QUERY, "texts": TEXTS}, verify=False)
    assert answer.status_code == 200
    assert len(answer.json()) == len(TEXTS)
