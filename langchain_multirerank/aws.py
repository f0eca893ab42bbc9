"""LangChain compressors for Amazon Bedrock Rerank and SageMaker reranker endpoints.

``BedrockRerank`` takes the fields of langchain-aws's ``BedrockRerank`` and returns the same
shapes, so switching is a change of import; it adds async, lists over 1,000 documents, long-text
handling, ``top_n=None`` for every result, and an ``endpoint_url`` that is really used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from langchain_multirerank.base import RerankCompressor
from multirerank.backends.bedrock import BedrockBackend, BedrockOptions
from multirerank.backends.sagemaker import SageMakerOptions
from multirerank.engine import Reranker
from multirerank.errors import RerankInputError


class BedrockRerank(BedrockOptions, RerankCompressor):
    """Reranks with a Bedrock rerank model (``amazon.rerank-v1:0``, ``cohere.rerank-v3-5:0``).

    ``rerank(..., additional_model_request_fields={...})`` adds model fields for one call, as in
    langchain-aws.
    """

    def _reranker_for(self, options: Mapping[str, Any]) -> Reranker:
        options = dict(options)
        fields = options.pop("additional_model_request_fields", None)
        if fields is not None and not isinstance(fields, Mapping):
            raise RerankInputError("additional_model_request_fields must be a dict")
        reranker = super()._reranker_for(options)
        if not fields:
            return reranker
        # A twin sharing the client: the compressor's own settings stay as they were.
        backend = cast(BedrockBackend, reranker.backend).with_request_fields(fields)
        return reranker.with_backend(backend)


class SageMakerRerank(SageMakerOptions, RerankCompressor):
    """Reranks with a model deployed on a SageMaker endpoint (TEI, Hugging Face toolkit or custom)."""
