"""Live calls to Voyage, Mixedbread, Pinecone, NVIDIA and the Cohere-style hosts; each test
skips with the variable it needs unless that credential or server is given.

VOYAGE_API_KEY=...               Voyage AI (model MULTIRERANK_VOYAGE_MODEL, default rerank-2.5; also
                                 checks an instruction)
MXBAI_API_KEY=...                Mixedbread (model MULTIRERANK_MIXEDBREAD_MODEL)
PINECONE_API_KEY=...             Pinecone Inference (model MULTIRERANK_PINECONE_MODEL, default bge-reranker-v2-m3)
NVIDIA_API_KEY=...               NVIDIA API catalog (model MULTIRERANK_NVIDIA_MODEL)
MULTIRERANK_NIM_URL=...          a self-hosted NIM reranker, e.g. http://localhost:8000
TOGETHER_API_KEY=...             Together AI (model MULTIRERANK_TOGETHER_MODEL, default Salesforce/Llama-Rank-V1)
FIREWORKS_API_KEY=...            Fireworks (model MULTIRERANK_FIREWORKS_MODEL, default fireworks/qwen3-reranker-8b)
DEEPINFRA_API_KEY=...            DeepInfra (model MULTIRERANK_DEEPINFRA_MODEL, default Qwen/Qwen3-Reranker-0.6B)
OPENROUTER_API_KEY=...           OpenRouter (model MULTIRERANK_OPENROUTER_MODEL, default cohere/rerank-v3.5)
MULTIRERANK_INFINITY_URL=...     an Infinity server with a reranker
MULTIRERANK_LLAMACPP_URL=...     a llama.cpp server started with a reranker GGUF and --pooling rank
MULTIRERANK_AZURE_URL=... and AZURE_AI_API_KEY=...   an Azure AI Foundry Cohere rerank deployment
                                 (deployment name MULTIRERANK_AZURE_MODEL, default Cohere-rerank-v4.0-fast)
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

from integration_tests.test_http_live import DOCUMENTS, QUERY, check_live_answer, required
from multirerank import Reranker


def model(variable: str, default: str) -> str:
    return os.environ.get(variable, "").strip() or default


def check_live_logits(model_string: str, **options: Any) -> None:
    with Reranker(model_string, **options) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    assert response.score_scale == "logit"
    assert response.results[0].index == 1
    assert all(math.isfinite(result.relevance_score) for result in response)


def test_voyage_live() -> None:
    required("VOYAGE_API_KEY")
    name = model("MULTIRERANK_VOYAGE_MODEL", "rerank-2.5")
    check_live_answer(f"voyage/{name}")
    if name.startswith("rerank-2.5"):
        check_live_answer(f"voyage/{name}", instruction="Prefer passages that explain how something works.")


def test_mixedbread_live() -> None:
    required("MXBAI_API_KEY")
    check_live_answer(
        f"mixedbread/{model('MULTIRERANK_MIXEDBREAD_MODEL', 'mixedbread-ai/mxbai-rerank-large-v2')}"
    )


def test_pinecone_live() -> None:
    required("PINECONE_API_KEY")
    check_live_answer(f"pinecone/{model('MULTIRERANK_PINECONE_MODEL', 'bge-reranker-v2-m3')}")


def test_nvidia_catalog_live() -> None:
    required("NVIDIA_API_KEY")
    check_live_logits(f"nvidia/{model('MULTIRERANK_NVIDIA_MODEL', 'nvidia/llama-nemotron-rerank-1b-v2')}")


def test_nvidia_nim_live() -> None:
    url = required("MULTIRERANK_NIM_URL")
    check_live_logits(
        f"nvidia/{model('MULTIRERANK_NVIDIA_MODEL', 'nvidia/llama-nemotron-rerank-1b-v2')}", base_url=url
    )


def test_together_live() -> None:
    required("TOGETHER_API_KEY")
    check_live_answer(f"together/{model('MULTIRERANK_TOGETHER_MODEL', 'Salesforce/Llama-Rank-V1')}")


def test_fireworks_live() -> None:
    required("FIREWORKS_API_KEY")
    name = model("MULTIRERANK_FIREWORKS_MODEL", "fireworks/qwen3-reranker-8b")
    check_live_answer(f"fireworks/{name}", instruction="Find passages that answer the question.")


def test_deepinfra_live() -> None:
    required("DEEPINFRA_API_KEY")
    name = model("MULTIRERANK_DEEPINFRA_MODEL", "Qwen/Qwen3-Reranker-0.6B")
    check_live_answer(f"deepinfra/{name}", instruction="Find passages that answer the question.")


def test_openrouter_live() -> None:
    required("OPENROUTER_API_KEY")
    check_live_answer(f"openrouter/{model('MULTIRERANK_OPENROUTER_MODEL', 'cohere/rerank-v3.5')}")


def test_infinity_live() -> None:
    check_live_answer("infinity", base_url=required("MULTIRERANK_INFINITY_URL"))


def test_llamacpp_live() -> None:
    url = required("MULTIRERANK_LLAMACPP_URL")
    with Reranker("llamacpp", base_url=url) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    assert response.results[0].index == 1


def test_azure_cohere_live() -> None:
    url = required("MULTIRERANK_AZURE_URL")
    required("AZURE_AI_API_KEY")
    check_live_answer(f"azure/{model('MULTIRERANK_AZURE_MODEL', 'Cohere-rerank-v4.0-fast')}", base_url=url)


@pytest.mark.parametrize("variable", ["VOYAGE_API_KEY"])
def test_a_live_test_skips_with_the_variable_it_needs(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(pytest.skip.Exception, match=variable):
        required(variable)
