"""Framework objects stay consistent with their settings after assignment and copying."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from pydantic import ValidationError

from langchain_multirerank.base import RerankCompressor
from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError
from tests.memory_backend import MemoryBackend


class LangChainMemory(RerankCompressor):
    label: str = "first"
    shared: Any = None

    def build_backend(self) -> Backend:
        return MemoryBackend(model=self.label)


class LlamaIndexMemory(RerankPostprocessor):
    label: str = "first"
    shared: Any = None

    def build_backend(self) -> Backend:
        return MemoryBackend(model=self.label)


FRAMEWORKS = [LangChainMemory, LlamaIndexMemory]


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_assignment_rebuilds_the_engine(kind: type[Any]) -> None:
    instance = kind()
    instance.normalize_scores = True
    instance.label = "second"
    assert instance.reranker.normalize_scores is True
    assert instance.reranker.model == "second"


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_wrong_assignments_fail_like_construction(kind: type[Any]) -> None:
    instance = kind()
    with pytest.raises(ValidationError, match="top_n must be at least 1"):
        instance.top_n = 0
    with pytest.raises(ConfigurationError, match="max_concurrency must be at least 1"):
        instance.max_concurrency = 0


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_copies_get_their_own_engine_from_their_own_settings(kind: type[Any]) -> None:
    client = threading.Lock()  # stands for an SDK client: it cannot be copied, so copies share it
    instance = kind(shared=client, rerank_fields=["title"])
    updated = instance.model_copy(update={"label": "second", "normalize_scores": True})
    assert updated.reranker is not instance.reranker
    assert (updated.reranker.model, updated.reranker.normalize_scores) == ("second", True)
    assert (instance.reranker.model, instance.reranker.normalize_scores) == ("first", False)

    deep = copy.deepcopy(instance)
    assert deep.reranker is not instance.reranker
    assert deep.shared is client and deep.rerank_fields == ["title"]
    assert deep.rerank_fields is not instance.rerank_fields
    assert copy.copy(instance).reranker is not instance.reranker
