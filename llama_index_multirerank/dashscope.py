"""LlamaIndex postprocessor for Alibaba DashScope rerank models."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.dashscope import DashScopeOptions


class DashScopeRerank(DashScopeOptions, RerankPostprocessor):
    """Reranks with a DashScope text rerank model (``gte-rerank-v2`` unless told); scores are 0..1."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankDashScopeRerank"
