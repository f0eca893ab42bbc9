"""One rerank against the real watsonx.ai service, when its credentials are in the environment.

Needs WATSONX_APIKEY, WATSONX_URL and WATSONX_PROJECT_ID; WATSONX_RERANK_MODEL picks the model
(default cross-encoder/ms-marco-minilm-l-12-v2).
"""

from __future__ import annotations

import os

import pytest

from multirerank import Reranker
from multirerank.backends.watsonx import WatsonxOptions

REQUIRED = ("WATSONX_APIKEY", "WATSONX_URL", "WATSONX_PROJECT_ID")


def test_watsonx_reranks_for_real() -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(f"watsonx.ai credentials not set: {', '.join(missing)}")
    model_id = os.environ.get("WATSONX_RERANK_MODEL", "cross-encoder/ms-marco-minilm-l-12-v2")
    documents = [
        "Paris is the capital and largest city of France.",
        "Bananas are an excellent source of potassium.",
        "France's capital, Paris, lies on the Seine.",
    ]
    with Reranker(WatsonxOptions(model_id=model_id).build_backend()) as reranker:
        response = reranker.rerank("What is the capital of France?", documents, top_n=2)
    assert response.score_scale == "logit"
    assert {result.index for result in response} == {0, 2}
    assert response.usage is not None and response.usage.total_tokens
