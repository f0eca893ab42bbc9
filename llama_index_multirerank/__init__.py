"""LlamaIndex node postprocessors over every multirerank backend."""

from llama_index_multirerank.aws import BedrockRerank, SageMakerRerank
from llama_index_multirerank.base import RerankPostprocessor
from llama_index_multirerank.dashscope import DashScopeRerank
from llama_index_multirerank.http_api import HTTPRerank
from llama_index_multirerank.rerankers import LocalRerank, MultiRerank
from llama_index_multirerank.watsonx import WatsonxRerank

__all__ = [
    "BedrockRerank",
    "DashScopeRerank",
    "HTTPRerank",
    "LocalRerank",
    "MultiRerank",
    "RerankPostprocessor",
    "SageMakerRerank",
    "WatsonxRerank",
]
