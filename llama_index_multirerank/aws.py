"""LlamaIndex postprocessors for Amazon Bedrock Rerank and SageMaker reranker endpoints."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.bedrock import BedrockOptions
from multirerank.backends.sagemaker import SageMakerOptions


class BedrockRerank(BedrockOptions, RerankPostprocessor):
    """Reranks with a Bedrock rerank model (``amazon.rerank-v1:0``, ``cohere.rerank-v3-5:0``)."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankBedrockRerank"


class SageMakerRerank(SageMakerOptions, RerankPostprocessor):
    """Reranks with a model deployed on a SageMaker endpoint (TEI, Hugging Face toolkit or custom)."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankSageMakerRerank"
