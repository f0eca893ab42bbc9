"""LlamaIndex postprocessor for IBM watsonx.ai rerank models."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.watsonx import WatsonxOptions


class WatsonxRerank(WatsonxOptions, RerankPostprocessor):
    """Reranks with a watsonx.ai rerank model; scores are the model's raw logits."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankWatsonxRerank"
