"""LlamaIndex postprocessors for Amazon Bedrock Rerank and SageMaker reranker endpoints."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.bedrock import BedrockBackend, BedrockOptions
from multirerank.backends.sagemaker import SageMakerBackend, SageMakerOptions


class BedrockRerank(RerankPostprocessor, BedrockOptions):
    """Reranks with a Bedrock rerank model (``amazon.rerank-v1:0``, ``cohere.rerank-v3-5:0``)."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankBedrockRerank"

    def _build_backend(self) -> BedrockBackend:
        return self.build_backend()


class SageMakerRerank(RerankPostprocessor, SageMakerOptions):
    """Reranks with a model deployed on a SageMaker endpoint (TEI, Hugging Face toolkit or custom)."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankSageMakerRerank"

    def _build_backend(self) -> SageMakerBackend:
        return self.build_backend()
