"""One 0..1 scale across vendors: normalize_scores maps logits and cosine, keeping the ranking."""

from __future__ import annotations

import math

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from langchain_multirerank.base import RerankCompressor
from llama_index_multirerank.base import RerankPostprocessor
from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.scales import to_probability
from tests.memory_backend import MemoryBackend

LOGITS = {"best": 4.0, "middle": 0.0, "worst": -3.0}


def logit_backend() -> MemoryBackend:
    backend = MemoryBackend(scores=LOGITS)
    backend.score_scale = "logit"
    return backend


def test_logits_become_their_sigmoid_and_keep_their_order() -> None:
    response = Reranker(logit_backend(), normalize_scores=True).rerank("q", ["worst", "best", "middle"])
    assert [result.index for result in response] == [1, 2, 0]
    assert [result.relevance_score for result in response] == pytest.approx(
        [1 / (1 + math.exp(-4.0)), 0.5, 1 / (1 + math.exp(3.0))]
    )
    assert response.score_scale == "probability"
    assert response.metadata["backend_score_scale"] == "logit"


def test_raw_scores_are_kept_unless_asked() -> None:
    response = Reranker(logit_backend()).rerank("q", ["worst", "best"])
    assert [result.relevance_score for result in response] == [4.0, -3.0]
    assert response.score_scale == "logit"


def test_threshold_applies_to_normalized_scores() -> None:
    response = Reranker(logit_backend(), normalize_scores=True).rerank(
        "q", ["worst", "best", "middle"], score_threshold=0.5
    )
    assert [result.index for result in response] == [1, 2]


@pytest.mark.parametrize(
    ("score", "scale", "expected"),
    [
        (1000.0, "logit", 1.0),
        (-1000.0, "logit", 0.0),
        (-1.0, "cosine", 0.0),
        (1.0, "cosine", 1.0),
        (0.0, "cosine", 0.5),
        (0.3, "probability", 0.3),
        (0.7, "lexical", 0.7),
    ],
)
def test_to_probability_is_bounded_and_never_overflows(score: float, scale: str, expected: float) -> None:
    assert to_probability(score, scale) == pytest.approx(expected)  # type: ignore[arg-type]


class _LangChainLogits(RerankCompressor):
    def build_backend(self) -> Backend:
        return logit_backend()


class _LlamaIndexLogits(RerankPostprocessor):
    def build_backend(self) -> Backend:
        return logit_backend()


def test_both_adapters_pass_the_setting_through() -> None:
    documents = [Document(page_content=text) for text in ("worst", "best")]
    compressed = _LangChainLogits(normalize_scores=True, top_n=None).compress_documents(documents, "q")
    assert [doc.metadata["relevance_score"] for doc in compressed] == pytest.approx(
        [to_probability(4.0, "logit"), to_probability(-3.0, "logit")]
    )
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in ("worst", "best")]
    ranked = _LlamaIndexLogits(normalize_scores=True, top_n=None, metadata_mode="none").postprocess_nodes(
        nodes, query_str="q"
    )
    assert [node.score for node in ranked] == pytest.approx(
        [to_probability(4.0, "logit"), to_probability(-3.0, "logit")]
    )
