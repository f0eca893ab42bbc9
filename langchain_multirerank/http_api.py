"""The LangChain compressor for Cohere-compatible rerank APIs (Cohere, Bifrost, vLLM, TEI, Jina)."""

from __future__ import annotations

from langchain_multirerank.base import RerankCompressor
from multirerank.backends.http_api import HTTPOptions


class HTTPRerank(HTTPOptions, RerankCompressor):
    """Reranks through a Cohere-compatible HTTP API chosen by ``api_format``.

    ``HTTPRerank(api_format="vllm", base_url="http://localhost:8000", model="BAAI/bge-reranker-v2-m3")``
    """
