"""One rerank against the real DashScope service, when DASHSCOPE_API_KEY is in the environment.

DASHSCOPE_BASE_URL points elsewhere (e.g. https://dashscope-intl.aliyuncs.com/api/v1) and
DASHSCOPE_RERANK_MODEL picks the model (default gte-rerank-v2).
"""

from __future__ import annotations

import os

import pytest

from multirerank import Reranker
from multirerank.backends.dashscope import DEFAULT_MODEL, DashScopeOptions


def test_dashscope_reranks_for_real() -> None:
    if not os.environ.get("DASHSCOPE_API_KEY"):
        pytest.skip("DashScope credentials not set: DASHSCOPE_API_KEY")
    chosen = DashScopeOptions(
        model=os.environ.get("DASHSCOPE_RERANK_MODEL", DEFAULT_MODEL),
        base_url=os.environ.get("DASHSCOPE_BASE_URL") or None,
    )
    documents = [
        "Paris is the capital and largest city of France.",
        "Bananas are an excellent source of potassium.",
        "France's capital, Paris, lies on the Seine.",
    ]
    with Reranker(chosen.build_backend()) as reranker:
        response = reranker.rerank("What is the capital of France?", documents, top_n=2)
    assert response.score_scale == "probability"
    assert {result.index for result in response} == {0, 2}
    assert all(0.0 <= result.relevance_score <= 1.0 for result in response)
    assert response.usage is not None and response.usage.total_tokens
