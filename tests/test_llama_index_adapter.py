"""The LlamaIndex adapter's generic behaviour, through a real retriever query engine and its events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_multirerank import MultiRerank, RerankPostprocessor
from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError, ProviderError, RerankError, RerankInputError
from tests.adapter_support import QUERY, SCORES
from tests.memory_backend import AsyncMemoryBackend, MemoryBackend


def make_nodes() -> list[NodeWithScore]:
    """Retrieved nodes in retrieval order, with retrieval scores that must survive untouched."""
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{position}"), score=1.0 - position / 10)
        for position, text in enumerate(SCORES)
    ]


class MemoryRerank(RerankPostprocessor):
    """The adapter over the in-memory backend, as a vendor postprocessor would be written."""

    backend: MemoryBackend

    @classmethod
    def class_name(cls) -> str:
        return "MemoryRerank"

    def build_backend(self) -> Backend:
        return self.backend


class FixedRetriever(BaseRetriever):
    """Returns the same NodeWithScore objects every time."""

    def __init__(self, nodes: list[NodeWithScore]) -> None:
        super().__init__()
        self.nodes = nodes

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.nodes


class Recorder(BaseEventHandler):
    """Keeps the rerank events it sees."""

    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, (ReRankStartEvent, ReRankEndEvent)):
            self.events.append(event)

    def kinds(self) -> list[str]:
        return [type(event).__name__ for event in self.events]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    root = get_dispatcher()
    handler = Recorder(events=[])
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers = [existing for existing in root.event_handlers if existing is not handler]


def postprocessor(**fields: Any) -> MemoryRerank:
    backend = fields.pop("backend", None) or MemoryBackend(scores=SCORES)
    return MemoryRerank(backend=backend, **fields)


def node_ids(nodes: list[NodeWithScore]) -> list[str]:
    return [item.node.node_id for item in nodes]


async def run(
    processor: RerankPostprocessor, nodes: list[NodeWithScore], asynchronous: bool, query: str | None = QUERY
) -> list[NodeWithScore]:
    if asynchronous:
        return await processor.apostprocess_nodes(nodes, query_str=query)
    return processor.postprocess_nodes(nodes, query_str=query)


# -- through a query engine ----------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_query_engine_sources_are_the_reranked_nodes(asynchronous: bool) -> None:
    nodes = make_nodes()
    engine = RetrieverQueryEngine.from_args(
        retriever=FixedRetriever(nodes), node_postprocessors=[postprocessor()], llm=MockLLM()
    )
    response = await engine.aquery(QUERY) if asynchronous else engine.query(QUERY)

    assert node_ids(response.source_nodes) == ["node-2", "node-0", "node-4"]
    assert [item.score for item in response.source_nodes] == [0.9, 0.7, 0.5]
    assert [item.score for item in nodes] == [1.0, 0.9, 0.8, 0.7, 0.6]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_new_node_with_score_objects_and_callers_scores_unchanged(asynchronous: bool) -> None:
    nodes = make_nodes()
    result = await run(postprocessor(top_n=None), nodes, asynchronous)
    assert node_ids(result) == ["node-2", "node-0", "node-4", "node-3", "node-1"]
    assert not any(item is original for item in result for original in nodes)
    assert [item.score for item in nodes] == [1.0, 0.9, 0.8, 0.7, 0.6]
    by_id = {item.node.node_id: item.node for item in nodes}
    assert all(item.node is by_id[item.node.node_id] for item in result)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_same_node_twice_is_returned_once(asynchronous: bool) -> None:
    nodes = make_nodes()
    repeated = [*nodes, NodeWithScore(node=nodes[2].node, score=0.01)]
    backend = MemoryBackend(scores=SCORES)
    result = await run(postprocessor(backend=backend, top_n=None), repeated, asynchronous)
    assert node_ids(result) == ["node-2", "node-0", "node-4", "node-3", "node-1"]
    assert sum(len(request.documents) for request in backend.requests) == 5


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_threshold_and_top_n(asynchronous: bool) -> None:
    assert node_ids(await run(postprocessor(top_n=1), make_nodes(), asynchronous)) == ["node-2"]
    result = await run(postprocessor(top_n=None, score_threshold=0.5), make_nodes(), asynchronous)
    assert node_ids(result) == ["node-2", "node-0", "node-4"]


def test_node_text_includes_embed_metadata_by_default_and_fields_when_asked() -> None:
    node = TextNode(text="body", metadata={"title": "Apples"}, id_="n")
    backend = MemoryBackend()
    postprocessor(backend=backend).postprocess_nodes([NodeWithScore(node=node)], query_str=QUERY)
    assert "title: Apples" in str(backend.requests[0].documents[0])
    assert "body" in str(backend.requests[0].documents[0])

    fields_backend = MemoryBackend()
    postprocessor(backend=fields_backend, rerank_fields=["title", "text"]).postprocess_nodes(
        [NodeWithScore(node=node)], query_str=QUERY
    )
    assert str(fields_backend.requests[0].documents[0]) == "Apples\nbody"

    bare_backend = MemoryBackend()
    postprocessor(backend=bare_backend, metadata_mode="none").postprocess_nodes(
        [NodeWithScore(node=node)], query_str=QUERY
    )
    assert str(bare_backend.requests[0].documents[0]) == "body"


def test_node_ids_reach_the_backend() -> None:
    backend = MemoryBackend(scores=SCORES)
    backend.sends_ids = True  # as for an API that takes ids (Bifrost)
    postprocessor(backend=backend).postprocess_nodes(make_nodes(), query_str=QUERY)
    sent = backend.requests[0].documents
    assert [getattr(document, "document_id", None) for document in sent] == [f"node-{i}" for i in range(5)]


def test_query_bundle_is_accepted() -> None:
    result = postprocessor().postprocess_nodes(make_nodes(), query_bundle=QueryBundle(QUERY))
    assert node_ids(result) == ["node-2", "node-0", "node-4"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_wrong_items_are_named_by_index(recorder: Recorder, asynchronous: bool) -> None:
    nodes: list[Any] = [make_nodes()[0], TextNode(text="x")]
    with pytest.raises(RerankInputError, match=r"^node at index 1 must be a NodeWithScore, got TextNode$"):
        await run(postprocessor(), nodes, asynchronous)
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]


# -- async without the loop's executor -----------------------------------------------------------


async def test_apostprocess_runs_a_sync_backend_on_the_engines_pool() -> None:
    backend = MemoryBackend(scores=SCORES)
    await postprocessor(backend=backend).apostprocess_nodes(make_nodes(), query_str=QUERY)
    assert all(name.startswith("multirerank-") for name in backend.thread_names)


async def test_apostprocess_with_a_native_async_backend_uses_no_thread() -> None:
    backend = AsyncMemoryBackend(scores=SCORES, max_documents=2)
    result = await postprocessor(backend=backend).apostprocess_nodes(make_nodes(), query_str=QUERY)
    assert node_ids(result) == ["node-2", "node-0", "node-4"]
    assert len(backend.requests) == 3
    assert backend.thread_names == {threading.current_thread().name}


# -- events --------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_events_pair_on_a_normal_call(recorder: Recorder, asynchronous: bool) -> None:
    nodes = make_nodes()
    result = await run(postprocessor(), nodes, asynchronous)
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]
    start, end = recorder.events
    assert isinstance(start, ReRankStartEvent)
    assert isinstance(end, ReRankEndEvent)
    assert start.top_n == 3
    assert start.model_name == "memory-1"
    assert node_ids(start.nodes) == node_ids(nodes)
    assert node_ids(end.nodes) == node_ids(result)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_events_pair_on_empty_input(recorder: Recorder, asynchronous: bool) -> None:
    backend = MemoryBackend()
    assert await run(postprocessor(backend=backend), [], asynchronous) == []
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]
    assert backend.requests == []


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_events_pair_when_the_query_is_missing(recorder: Recorder, asynchronous: bool) -> None:
    with pytest.raises(RerankInputError, match="a query is required"):
        await run(postprocessor(), make_nodes(), asynchronous, query=None)
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_events_pair_when_the_query_is_blank(recorder: Recorder, asynchronous: bool) -> None:
    with pytest.raises(RerankInputError, match=r"^query is required for rerank$"):
        await run(postprocessor(), make_nodes(), asynchronous, query="  ")
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_events_pair_when_the_backend_fails(recorder: Recorder, asynchronous: bool) -> None:
    failure = ProviderError("model server down", provider="memory", status=503)
    backend = MemoryBackend(fail_on={1: failure})
    with pytest.raises(ProviderError) as info:
        await run(postprocessor(backend=backend), make_nodes(), asynchronous)
    assert info.value is failure
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"]
    assert recorder.events[1].nodes == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_start_event_top_n_is_the_node_count_when_returning_all(
    recorder: Recorder, asynchronous: bool
) -> None:
    await run(postprocessor(top_n=None), make_nodes(), asynchronous)
    start = recorder.events[0]
    assert isinstance(start, ReRankStartEvent)
    assert start.top_n == 5


async def test_query_engine_emits_one_pair_per_query(recorder: Recorder) -> None:
    engine = RetrieverQueryEngine.from_args(
        retriever=FixedRetriever(make_nodes()), node_postprocessors=[postprocessor()], llm=MockLLM()
    )
    engine.query(QUERY)
    await engine.aquery(QUERY)
    assert recorder.kinds() == ["ReRankStartEvent", "ReRankEndEvent"] * 2


# -- construction and MultiRerank ----------------------------------------------------------------


def test_class_names() -> None:
    assert MemoryRerank.class_name() == "MemoryRerank"
    assert RerankPostprocessor.class_name() == "RerankPostprocessor"
    assert MultiRerank.class_name() == "MultirerankMultiRerank"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"top_n": 0}, "top_n must be at least 1"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"rerank_fields": "title"}, "rerank_fields"),
        ({"metadata_mode": "everything"}, "metadata_mode"),
        ({"max_concurrency": 0}, "max_concurrency\n  Input should be greater than or equal to 1"),
        ({"top_n": True}, "top_n\n  Input should be a valid integer"),
        ({"top_n": 2.0}, "top_n\n  Input should be a valid integer"),
    ],
)
def test_constructor_validation(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises((ValueError, RerankError)) as info:
        postprocessor(**fields)
    assert fragment in str(info.value)


@pytest.mark.usefixtures("memory_provider")
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_multirerank_reaches_the_registered_backend(asynchronous: bool) -> None:
    processor = MultiRerank(model="memory/model-y", backend_options={"scores": SCORES, "max_documents": 2})
    result = await run(processor, make_nodes(), asynchronous)
    assert node_ids(result) == ["node-2", "node-0", "node-4"]
    backend = processor.reranker.backend
    assert isinstance(backend, MemoryBackend)
    assert backend.model == "model-y"
    assert len(backend.requests) == 3
    assert processor.to_dict()["class_name"] == "MultirerankMultiRerank"


@pytest.mark.usefixtures("memory_provider")
def test_multirerank_setup_errors_surface_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
        MultiRerank(model="nope/model")
    with pytest.raises(ConfigurationError, match="invalid options for 'memory': bogus"):
        MultiRerank(model="memory", backend_options={"bogus": 1})
