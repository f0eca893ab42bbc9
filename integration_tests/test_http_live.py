"""Live calls to the real services; each test skips unless its credentials or server are given.

COHERE_API_KEY=...            Cohere's hosted API (model MULTIRERANK_COHERE_MODEL, default rerank-v3.5)
JINA_API_KEY=...              Jina's hosted API (model MULTIRERANK_JINA_MODEL)
MULTIRERANK_VLLM_URL=...      a vLLM server with a reranker (model MULTIRERANK_VLLM_MODEL, optional)
MULTIRERANK_TEI_URL=...       a text-embeddings-inference server running a reranker
MULTIRERANK_BIFROST_URL=...   a Bifrost gateway (model MULTIRERANK_BIFROST_MODEL, default cohere/rerank-v3.5;
                              a virtual key in MULTIRERANK_BIFROST_KEY if the gateway wants one)
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from multirerank import Reranker

QUERY = "How do solar panels produce electricity?"
DOCUMENTS = [
    "Pasta should be cooked in plenty of salted boiling water.",
    "Photovoltaic cells in solar panels turn sunlight into electric current.",
    "The Eiffel Tower was finished in 1889.",
]


def required(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        pytest.skip(f"set {variable} to run this live test")
    return value


def check_live_answer(model: str, **options: Any) -> None:
    with Reranker(model, **options) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    assert len(response) == 2
    assert response.results[0].index == 1
    assert all(0.0 <= result.relevance_score <= 1.0 for result in response)


async def check_live_async_answer(model: str, **options: Any) -> None:
    async with Reranker(model, **options) as reranker:
        response = await reranker.arerank(QUERY, DOCUMENTS)
    assert response.results[0].index == 1


def test_cohere_live() -> None:
    required("COHERE_API_KEY")
    check_live_answer(f"cohere/{os.environ.get('MULTIRERANK_COHERE_MODEL', 'rerank-v3.5')}")


def test_jina_live() -> None:
    required("JINA_API_KEY")
    check_live_answer(
        f"jina/{os.environ.get('MULTIRERANK_JINA_MODEL', 'jina-reranker-v2-base-multilingual')}"
    )


async def test_vllm_live() -> None:
    url = required("MULTIRERANK_VLLM_URL")
    model = os.environ.get("MULTIRERANK_VLLM_MODEL")
    await check_live_async_answer(f"vllm/{model}" if model else "vllm", base_url=url)


def test_tei_live() -> None:
    check_live_answer("tei", base_url=required("MULTIRERANK_TEI_URL"))


def test_bifrost_live() -> None:
    url = required("MULTIRERANK_BIFROST_URL")
    model = os.environ.get("MULTIRERANK_BIFROST_MODEL", "cohere/rerank-v3.5")
    key = os.environ.get("MULTIRERANK_BIFROST_KEY")
    check_live_answer(f"bifrost/{model}", base_url=url, **({"api_key": key} if key else {}))
