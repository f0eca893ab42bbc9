"""LangChain compressor for IBM watsonx.ai rerank models.

``WatsonxRerank`` takes langchain-ibm's credential fields (``apikey`` and ``watsonx_client`` are
accepted as aliases of ``api_key`` and ``api_client``) and adds what that class lacks: a real
``top_n`` field (``None`` for every document), async that never blocks the event loop, candidate
lists split over the per-request limit, and document ids kept on the returned copies.
"""

from __future__ import annotations

from langchain_multirerank.base import RerankCompressor
from multirerank.backends.watsonx import WatsonxOptions


class WatsonxRerank(WatsonxOptions, RerankCompressor):
    """Reranks with a watsonx.ai rerank model such as ``cross-encoder/ms-marco-minilm-l-12-v2``.

    Scores are the model's raw logits (unbounded, higher is better), as watsonx.ai returns them.
    """
