"""The ``multirerank.rerank`` event of the framework adapters: LangChain callbacks, LlamaIndex
instrumentation (an event inside the postprocessing's dispatcher span)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.schema import QueryBundle

from llama_index_multirerank.base import MultirerankRerankEvent
from multirerank.tracing import EVENT_NAME
from tests.adapter_support import QUERY
from tests.test_langchain_adapter import FixedRetriever, compressor, make_documents
from tests.test_llama_index_adapter import make_nodes, postprocessor


class Events(BaseCallbackHandler):
    """Keeps the custom events it is given, with their run ids."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, UUID]] = []
        self.retriever_runs: list[UUID] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.seen.append((name, data, run_id))

    def on_retriever_start(self, serialized: Any, query: str, *, run_id: UUID, **kwargs: Any) -> None:
        self.retriever_runs.append(run_id)


class AsyncEvents(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, UUID]] = []

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.seen.append((name, data, run_id))


def check_data(data: dict[str, Any]) -> None:
    assert data["provider"] == "memory" and data["model"] == "memory-1"
    assert (data["documents_in"], data["documents_out"]) == (5, 3)
    assert [result["id"] for result in data["results"]] == ["c", "a", "e"]
    assert data["results"][0]["score"] == pytest.approx(0.9)
    assert data["usage"]["requests"] == 1 and "documents" in data["usage"]
    assert "cost_usd" in data and data["elapsed_seconds"] >= 0


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_callbacks_given_directly_receive_the_event(asynchronous: bool) -> None:
    handler = AsyncEvents() if asynchronous else Events()
    documents = make_documents()
    if asynchronous:
        await compressor().acompress_documents(documents, QUERY, callbacks=[handler])
    else:
        compressor().compress_documents(documents, QUERY, callbacks=[handler])
    [(name, data, _)] = handler.seen
    assert name == EVENT_NAME
    check_data(data)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_compression_retriever_passes_its_run_and_the_event_joins_it(asynchronous: bool) -> None:
    handler = Events()
    pipeline = ContextualCompressionRetriever(
        base_compressor=compressor(), base_retriever=FixedRetriever(documents=make_documents())
    )
    config: Any = {"callbacks": [handler]}
    if asynchronous:
        await pipeline.ainvoke(QUERY, config=config)
    else:
        pipeline.invoke(QUERY, config=config)
    [(name, data, run_id)] = handler.seen
    assert name == EVENT_NAME
    check_data(data)
    # The event belongs to the compression retriever's run, as dispatch_custom_event does it.
    assert run_id == handler.retriever_runs[0]


def test_no_callbacks_no_event_and_no_error() -> None:
    assert len(compressor().compress_documents(make_documents(), QUERY)) == 3


class Recorder(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankEventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, MultirerankRerankEvent):
            self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    root = get_dispatcher()
    handler = Recorder(events=[])
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers = [existing for existing in root.event_handlers if existing is not handler]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_llama_index_event_inside_the_postprocessing_span(
    recorder: Recorder, asynchronous: bool
) -> None:
    reranker = postprocessor(top_n=2)
    nodes, bundle = make_nodes(), QueryBundle(QUERY)
    if asynchronous:
        await reranker.apostprocess_nodes(nodes, query_bundle=bundle)
    else:
        reranker.postprocess_nodes(nodes, query_bundle=bundle)
    [event] = recorder.events
    assert event.class_name() == "MultirerankRerankEvent"
    assert (event.provider, event.documents_in, event.documents_out) == ("memory", 5, 2)
    assert event.results[0]["id"] == "node-2"
    assert event.usage is not None and event.usage["requests"] == 1
    method = "_apostprocess_nodes" if asynchronous else "_postprocess_nodes"
    assert event.span_id is not None and f".{method}-" in event.span_id
