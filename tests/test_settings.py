"""Framework objects stay consistent with their settings after assignment and copying."""

from __future__ import annotations

import copy
import importlib
import math
import threading
import types
import typing
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from pydantic import BaseModel, ValidationError

from langchain_multirerank import HTTPRerank as LangChainHTTPRerank
from langchain_multirerank.base import RerankCompressor
from llama_index_multirerank.base import RerankPostprocessor
from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.engine.inputs import check_score_threshold, check_top_n
from multirerank.errors import ConfigurationError, RerankInputError
from multirerank.settings import VENDOR_CLASSES
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
    with pytest.raises(ValidationError, match="max_concurrency"):
        instance.max_concurrency = 0
    with pytest.raises(ValidationError, match="max_concurrency"):
        kind(max_concurrency=0)


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


# -- all or nothing, and one rule for construction, assignment and calls --------------------------


class Breakable(RerankCompressor):
    """A compressor whose backend refuses to be built when ``broken`` is set."""

    broken: bool = False

    def build_backend(self) -> Backend:
        if self.broken:
            raise ConfigurationError("this backend cannot be built")
        return MemoryBackend()


class BreakablePostprocessor(RerankPostprocessor):
    broken: bool = False

    def build_backend(self) -> Backend:
        if self.broken:
            raise ConfigurationError("this backend cannot be built")
        return MemoryBackend()


def call(instance: Any) -> list[str]:
    """One rerank call through the framework's own entry point: the texts returned, best first."""
    texts = ["red apples", "blue sky", "green apples"]
    if isinstance(instance, RerankCompressor):
        return [d.page_content for d in instance.compress_documents([Document(t) for t in texts], "apples")]
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in texts]
    return [n.node.get_content() for n in instance.postprocess_nodes(nodes, query_str="apples")]


REFUSED_ASSIGNMENTS = [
    ("max_concurrency", 0),
    ("max_concurrency", True),
    ("max_concurrency", 2.0),
    ("max_concurrency", "3"),
    ("top_n", 0),
    ("top_n", True),
    ("top_n", 2.0),
    ("top_n", "3"),
    ("score_threshold", "0.5"),
    ("score_threshold", True),
    ("score_threshold", math.nan),
    ("retry_budget", -1),
    ("retry_budget", False),
    ("retry_budget", "30"),
    ("rerank_fields", "title"),
]


@pytest.mark.parametrize("kind", FRAMEWORKS)
@pytest.mark.parametrize(
    ("name", "value"), REFUSED_ASSIGNMENTS, ids=[f"{n}={v!r}" for n, v in REFUSED_ASSIGNMENTS]
)
def test_a_refused_assignment_keeps_the_previous_value_and_engine(
    kind: type[Any], name: str, value: Any
) -> None:
    instance = kind(top_n=2, max_concurrency=2, retry_budget=5, score_threshold=0.0)
    engine, before, fields_set = instance.reranker, instance.model_dump(), set(instance.model_fields_set)
    with pytest.raises(ValidationError, match=name):
        setattr(instance, name, value)
    assert instance.model_dump() == before
    assert instance.model_fields_set == fields_set
    assert instance.reranker is engine
    assert call(instance) == ["red apples", "green apples"]
    # The object still takes good values afterwards.
    instance.top_n = 1
    assert call(instance) == ["red apples"]


@pytest.mark.parametrize("kind", [Breakable, BreakablePostprocessor])
def test_an_engine_that_cannot_be_built_from_a_valid_value_leaves_the_object_as_it_was(
    kind: type[Any],
) -> None:
    instance = kind(top_n=2)
    engine = instance.reranker
    with pytest.raises(ConfigurationError, match="cannot be built"):
        instance.broken = True
    assert instance.broken is False
    assert "broken" not in instance.model_fields_set
    assert instance.reranker is engine
    assert call(instance) == ["red apples", "green apples"]
    with pytest.raises(ConfigurationError, match="cannot be built"):
        kind(broken=True)


def test_a_vendor_class_keeps_its_settings_when_the_backend_refuses_new_ones() -> None:
    compressor = LangChainHTTPRerank(api_format="tei", base_url="http://127.0.0.1:9/tei", max_retries=0)
    engine = compressor.reranker
    # A valid api_format, but cohere needs a model: the backend refuses it.
    with pytest.raises(ConfigurationError, match="model is required"):
        compressor.api_format = "cohere"
    assert compressor.api_format == "tei"
    assert compressor.reranker is engine
    with pytest.raises(ValidationError, match="max_concurrency"):
        compressor.max_concurrency = 0
    assert compressor.max_concurrency is None
    assert compressor.reranker is engine


def test_settings_read_per_call_do_not_rebuild_the_engine() -> None:
    for instance in (LangChainMemory(), LlamaIndexMemory()):
        engine = instance.reranker
        instance.top_n = 1
        instance.score_threshold = 0.5
        instance.rerank_fields = ["title"]
        assert instance.reranker is engine
        instance.normalize_scores = True
        assert instance.reranker is not engine


#: Odd values for the four settings a framework field and a call (or the engine) both take.
CANDIDATES: list[Any] = [
    None,
    0,
    1,
    3,
    -1,
    True,
    False,
    2.0,
    0.5,
    -0.5,
    "3",
    "0.5",
    b"3",
    [],
    {},
    object(),
    math.inf,
    -math.inf,
    math.nan,
    np.int64(3),
    np.float64(0.5),
    np.float32(0.25),
    Decimal("0.5"),
    Fraction(1, 2),
]


def field_outcome(name: str, value: Any) -> tuple[bool, Any]:
    try:
        return True, getattr(LangChainMemory(**{name: value}), name)
    except ValidationError:
        return False, None


def call_outcome(name: str, value: Any) -> tuple[bool, Any]:
    try:
        if name == "top_n":
            return True, check_top_n(value)
        if name == "score_threshold":
            return True, check_score_threshold(value)
        made = Reranker(MemoryBackend(), **{name: value})
    except (RerankInputError, ConfigurationError):
        return False, None
    return True, None if value is None else getattr(made, name)


@pytest.mark.parametrize("name", ["top_n", "score_threshold", "max_concurrency", "retry_budget"])
@pytest.mark.parametrize("value", CANDIDATES, ids=[repr(value) for value in CANDIDATES])
def test_construction_assignment_and_calls_apply_one_rule(name: str, value: Any) -> None:
    built = field_outcome(name, value)
    instance = LangChainMemory()
    try:
        setattr(instance, name, value)
        assigned = (True, getattr(instance, name))
    except ValidationError:
        assigned = (False, None)
    called = call_outcome(name, value)
    assert built[0] == assigned[0] == called[0], (built, assigned, called)
    if built[0]:
        assert built[1] == assigned[1] or (math.isnan(built[1]) and math.isnan(assigned[1]))
        assert type(built[1]) is type(called[1]) or value is None
        assert built[1] == called[1] or value is None
    # No silent conversions: a bool is no count and a string no number.
    if isinstance(value, (bool, str, bytes)):
        assert not built[0]


def test_per_call_top_n_follows_the_field_rule() -> None:
    compressor = LangChainMemory()
    documents = [Document("red apples"), Document("green apples")]
    for value in (True, 2.0, "1", 0):
        with pytest.raises(RerankInputError, match="top_n"):
            compressor.rerank(documents, "apples", top_n=value)
    assert len(compressor.rerank(documents, "apples", top_n=1)) == 1


def vendor_options() -> list[type[BaseModel]]:
    return [
        getattr(importlib.import_module(target.partition(":")[0]), target.partition(":")[2])
        for target, _ in VENDOR_CLASSES.values()
    ]


def numeric_fields(model: type[BaseModel]) -> dict[str, type]:
    """The options whose type, None aside, is int or float."""
    found: dict[str, type] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = (
            set(typing.get_args(annotation)) - {type(None)}
            if typing.get_origin(annotation) in (typing.Union, types.UnionType)
            else {annotation}
        )
        if args in ({int}, {float}):
            found[name] = args.pop()
    return found


#: What each options model needs to validate at all.
REQUIRED: dict[str, dict[str, Any]] = {
    "HTTPOptions": {"api_format": "tei"},
    "WatsonxOptions": {"model_id": "m"},
    "SageMakerOptions": {"endpoint_name": "e"},
    "BedrockOptions": {"model_arn": "cohere.rerank-v3-5:0"},
    "ModelStringOptions": {"model": "local"},
}


def test_every_vendor_count_and_seconds_option_is_strict() -> None:
    checked = []
    for model in vendor_options():
        base = REQUIRED.get(model.__name__, {})
        model.model_validate(base)
        for name, kind in numeric_fields(model).items():
            refused = [True, "3", b"3"] + ([2.0] if kind is int else [])
            for value in refused:
                with pytest.raises(ValidationError) as caught:
                    model.model_validate({**base, name: value})
                assert [error["loc"] for error in caught.value.errors()] == [(name,)], (model, name, value)
            accepted = model.model_validate({**base, name: 3})
            assert getattr(accepted, name) == 3 and type(getattr(accepted, name)) is kind
            checked.append(f"{model.__name__}.{name}")
    # The counts and timeouts of every vendor, so a new one cannot slip through unchecked.
    assert {
        "HTTPOptions.max_retries",
        "HTTPOptions.timeout",
        "HTTPOptions.max_documents_per_request",
        "DashScopeOptions.max_retries",
        "WatsonxOptions.max_documents_per_request",
        "SageMakerOptions.max_documents_per_request",
        "LocalOptions.batch_size",
    } <= set(checked)


def test_model_string_options_are_strict_too() -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        Reranker("tei", base_url="http://127.0.0.1:9", max_retries=True)
    with pytest.raises(ConfigurationError, match="max_documents_per_request"):
        Reranker("tei", base_url="http://127.0.0.1:9", max_documents_per_request="3")
    with pytest.raises(ConfigurationError, match="retry_budget"):
        Reranker("tei", base_url="http://127.0.0.1:9", retry_budget=True)
