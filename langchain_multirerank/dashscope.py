"""LangChain compressor for Alibaba DashScope rerank models.

Unlike langchain-community's ``DashScopeRerank``, the model asked for is the model called
(``gte-rerank-v2`` by default, ``qwen3-rerank`` with its ``instruct``), the key is a secret,
every response's status is checked and mapped to a multirerank error, and async uses the SDK's
own async client.
"""

from __future__ import annotations

from langchain_multirerank.base import RerankCompressor
from multirerank.backends.dashscope import DashScopeOptions


class DashScopeRerank(DashScopeOptions, RerankCompressor):
    """Reranks with a DashScope text rerank model; scores are 0..1."""
