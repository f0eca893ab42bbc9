"""LlamaIndex postprocessor for IBM watsonx.ai rerank models."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.watsonx import WatsonxBackend, WatsonxOptions


class WatsonxRerank(RerankPostprocessor, WatsonxOptions):
    """Reranks with a watsonx.ai rerank model; scores are the model's raw logits."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankWatsonxRerank"

    def _build_backend(self) -> WatsonxBackend:
        return self.build_backend()
