"""LangChain document compressors over every multirerank backend."""

from langchain_multirerank.aws import BedrockRerank, SageMakerRerank
from langchain_multirerank.base import RerankCompressor
from langchain_multirerank.dashscope import DashScopeRerank
from langchain_multirerank.http_api import HTTPRerank
from langchain_multirerank.rerankers import LocalRerank, MultiRerank
from langchain_multirerank.watsonx import WatsonxRerank

__all__ = [
    "BedrockRerank",
    "DashScopeRerank",
    "HTTPRerank",
    "LocalRerank",
    "MultiRerank",
    "RerankCompressor",
    "SageMakerRerank",
    "WatsonxRerank",
]
