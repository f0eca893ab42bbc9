"""The LlamaIndex postprocessor for Cohere-compatible rerank APIs (Cohere, Bifrost, vLLM, TEI, Jina)."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.http_api import HTTPOptions


class HTTPRerank(HTTPOptions, RerankPostprocessor):
    """Reranks through a Cohere-compatible HTTP API chosen by ``api_format``.

    ``HTTPRerank(api_format="tei", base_url="http://localhost:8080", top_n=5)``
    """

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankHTTPRerank"
