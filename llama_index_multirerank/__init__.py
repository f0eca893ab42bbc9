"""LlamaIndex node postprocessors over every multirerank backend."""

from llama_index_multirerank.base import RerankPostprocessor
from llama_index_multirerank.rerankers import LocalRerank, MultiRerank

__all__ = ["LocalRerank", "MultiRerank", "RerankPostprocessor"]
