"""LangChain document compressors over every multirerank backend."""

from langchain_multirerank.base import RerankCompressor
from langchain_multirerank.rerankers import LocalRerank, MultiRerank

__all__ = ["LocalRerank", "MultiRerank", "RerankCompressor"]
