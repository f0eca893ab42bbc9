"""The LangChain adapter's generic behaviour, through a real ContextualCompressionRetriever."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from langchain_multirerank import MultiRerank, RerankCompressor
from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError, RerankError, RerankInputError
from tests.adapter_support import QUERY, SCORES
from tests.memory_backend import (
    AsyncMemoryBackend,
    MemoryBackend,
    RecordedRequest,
    RecordingExecutor,
    wait_until,
)


def make_documents() -> list[Document]:
    return [
        Document(
            page_content="apples are red fruit", metadata={"source": "a", "nested": {"pages": [1, 2]}}, id="a"
        ),
        Document(page_content="the sky is blue", metadata={"source": "b", "relevance_score": 0.42}, id="b"),
        Document(page_content="red apples and green apples", metadata={"source": "c"}, id="c"),
        Document(page_content="bananas are yellow", metadata={"source": "d"}, id="d"),
        Document(page_content="cherries are red", id="e"),
    ]


class MemoryCompressor(RerankCompressor):
    """The adapter over the in-memory backend, as a vendor compressor would be written."""

    backend: MemoryBackend

    def build_backend(self) -> Backend:
        return self.backend


class FixedRetriever(BaseRetriever):
    """Returns the same Document objects every time, so tests can check they are left alone."""

    documents: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.documents

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.documents


def compressor(**fields: Any) -> MemoryCompressor:
    backend = fields.pop("backend", None) or MemoryBackend(scores=SCORES)
    return MemoryCompressor(backend=backend, **fields)


def ids(documents: list[Document]) -> list[str | None]:
    return [document.id for document in documents]


async def retrieve(pipeline: ContextualCompressionRetriever, asynchronous: bool) -> list[Document]:
    if asynchronous:
        return await pipeline.ainvoke(QUERY)
    return pipeline.invoke(QUERY)


# -- through the retriever -----------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_retriever_returns_scored_copies_best_first(asynchronous: bool) -> None:
    documents = make_documents()
    snapshot = copy.deepcopy(documents)
    pipeline = ContextualCompressionRetriever(
        base_compressor=compressor(), base_retriever=FixedRetriever(documents=documents)
    )

    result = await retrieve(pipeline, asynchronous)

    assert ids(result) == ["c", "a", "e"]
    by_id = {document.id: document for document in documents}
    for returned in result:
        original = by_id[returned.id]
        assert returned is not original
        assert returned.page_content == original.page_content
        assert returned.metadata == {**original.metadata, "relevance_score": SCORES[original.page_content]}
    assert documents == snapshot
    assert [document.metadata for document in documents] == [document.metadata for document in snapshot]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_returned_metadata_is_a_deep_copy(asynchronous: bool) -> None:
    documents = make_documents()
    pipeline = ContextualCompressionRetriever(
        base_compressor=compressor(), base_retriever=FixedRetriever(documents=documents)
    )
    result = await retrieve(pipeline, asynchronous)
    returned_a = next(document for document in result if document.id == "a")
    returned_a.metadata["nested"]["pages"].append(3)
    assert documents[0].metadata["nested"] == {"pages": [1, 2]}


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_top_n_none_returns_all_and_keeps_an_earlier_score(asynchronous: bool) -> None:
    documents = make_documents()
    pipeline = ContextualCompressionRetriever(
        base_compressor=compressor(top_n=None), base_retriever=FixedRetriever(documents=documents)
    )
    result = await retrieve(pipeline, asynchronous)
    assert ids(result) == ["c", "a", "e", "d", "b"]
    sky = result[-1]
    assert sky.metadata["relevance_score"] == 0.1
    assert sky.metadata["previous_relevance_score"] == 0.42
    assert documents[1].metadata == {"source": "b", "relevance_score": 0.42}


def test_top_n_defaults_to_three() -> None:
    assert compressor().top_n == 3
    assert len(compressor().compress_documents(make_documents(), QUERY)) == 3


def test_top_n_above_the_count_returns_every_document() -> None:
    assert len(compressor(top_n=50).compress_documents(make_documents(), QUERY)) == 5


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_score_threshold_drops_lower_scores(asynchronous: bool) -> None:
    reranker = compressor(top_n=None, score_threshold=0.5)
    if asynchronous:
        result = await reranker.acompress_documents(make_documents(), QUERY)
    else:
        result = reranker.compress_documents(make_documents(), QUERY)
    assert ids(list(result)) == ["c", "a", "e"]


def test_rerank_fields_build_the_scored_text() -> None:
    backend = MemoryBackend()
    documents = [
        Document(page_content="body one", metadata={"title": "Title one", "year": 2020}),
        Document(page_content="body two", metadata={"year": 2021}),
    ]
    compressor(backend=backend, rerank_fields=["title", "page_content", "year"]).compress_documents(
        documents, QUERY
    )
    assert [str(text) for text in backend.requests[0].documents] == [
        "Title one\nbody one\n2020",
        "body two\n2021",
    ]


def test_duplicate_ids_are_scored_once_and_returned_once() -> None:
    backend = MemoryBackend(scores=SCORES)
    documents = [*make_documents(), Document(page_content="apples are red fruit", id="a")]
    result = compressor(backend=backend, top_n=None).compress_documents(documents, QUERY)
    assert ids(list(result)) == ["c", "a", "e", "d", "b"]
    assert len(backend.requests[0].documents) == 5


def test_documents_without_ids_are_never_duplicates() -> None:
    documents = [Document(page_content="apples are red fruit"), Document(page_content="apples are red fruit")]
    assert len(compressor(top_n=None).compress_documents(documents, QUERY)) == 2


def test_blank_documents_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    documents = [Document(page_content="  ", id="blank"), *make_documents()]
    with caplog.at_level(logging.INFO, logger="multirerank"):
        result = compressor(top_n=None).compress_documents(documents, QUERY)
    assert "blank" not in ids(list(result))
    assert len(result) == 5
    assert "skipped 1 document(s) with blank text" in caplog.text


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_empty_list_returns_nothing_without_a_request(asynchronous: bool) -> None:
    backend = MemoryBackend()
    reranker = compressor(backend=backend)
    result = (
        await reranker.acompress_documents([], QUERY)
        if asynchronous
        else reranker.compress_documents([], QUERY)
    )
    assert list(result) == []
    assert backend.requests == []


def test_missing_query_and_wrong_documents_are_clear() -> None:
    reranker = compressor()
    with pytest.raises(RerankInputError, match=r"^query is required for rerank$"):
        reranker.compress_documents(make_documents(), "  ")
    with pytest.raises(RerankInputError, match=r"^document at index 1 must be a Document, got str$"):
        reranker.compress_documents([make_documents()[0], "text"], QUERY)  # type: ignore[list-item]


# -- rerank() ------------------------------------------------------------------------------------


def test_rerank_accepts_strings_documents_and_dicts() -> None:
    json_document = {"text": "apples"}
    scores = {**SCORES, json.dumps(json_document): 0.6}
    backend = MemoryBackend(scores=scores)
    inputs: list[Any] = [
        "the sky is blue",
        Document(page_content="red apples and green apples"),
        json_document,
    ]
    result = compressor(backend=backend).rerank(inputs, QUERY)
    assert result == [
        {"index": 1, "relevance_score": 0.9},
        {"index": 2, "relevance_score": 0.6},
        {"index": 0, "relevance_score": 0.1},
    ]
    assert backend.requests[0].documents[2] == json_document


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_rerank_top_n_argument_and_default(asynchronous: bool) -> None:
    reranker = compressor(top_n=2)
    texts = list(SCORES)

    async def call(**arguments: Any) -> list[dict[str, Any]]:
        if asynchronous:
            return await reranker.arerank(texts, QUERY, **arguments)
        return reranker.rerank(texts, QUERY, **arguments)

    assert [item["index"] for item in await call()] == [2, 0]
    assert [item["index"] for item in await call(top_n=4)] == [2, 0, 4, 3]
    assert len(await call(top_n=50)) == 5


def test_rerank_refuses_unknown_options_and_wrong_inputs() -> None:
    reranker = compressor()
    with pytest.raises(RerankInputError, match=r"got unexpected options \['foo'\]"):
        reranker.rerank(["a"], QUERY, foo=1)
    with pytest.raises(RerankInputError, match=r"^documents must be a list, got str$"):
        reranker.rerank("a text", QUERY)
    with pytest.raises(
        RerankInputError, match=r"^document at index 1 must be a str, Document or dict, got int$"
    ):
        reranker.rerank(["a", 5], QUERY)  # type: ignore[list-item]
    with pytest.raises(RerankInputError, match=r"^top_n must be at least 1$"):
        reranker.rerank(["a"], QUERY, top_n=0)


# -- async without the loop's executor -----------------------------------------------------------


async def test_acompress_runs_a_sync_backend_on_the_engines_pool() -> None:
    loop = asyncio.get_running_loop()
    default = RecordingExecutor()
    loop.set_default_executor(default)
    backend = MemoryBackend(scores=SCORES)
    try:
        result = await compressor(backend=backend).acompress_documents(make_documents(), QUERY)
    finally:
        default.shutdown(wait=False)
    assert ids(list(result)) == ["c", "a", "e"]
    assert default.submitted == 0
    assert all(name.startswith("multirerank-") for name in backend.thread_names)


async def test_acompress_with_a_native_async_backend_uses_no_thread() -> None:
    backend = AsyncMemoryBackend(scores=SCORES, max_documents=2)
    pipeline = ContextualCompressionRetriever(
        base_compressor=compressor(backend=backend), base_retriever=FixedRetriever(documents=make_documents())
    )
    result = await pipeline.ainvoke(QUERY)
    assert ids(result) == ["c", "a", "e"]
    assert len(backend.requests) == 3
    assert backend.thread_names == {threading.current_thread().name}


def test_max_concurrency_field_bounds_split_requests() -> None:
    backend = MemoryBackend(scores=SCORES, max_documents=1, delay=0.02)

    def hold(request: RecordedRequest) -> None:
        # Wait for a second request so a slow thread start cannot hide the concurrency.
        wait_until(lambda: backend.max_in_flight >= 2)

    backend.before_answer = hold
    compressor(backend=backend, max_concurrency=2).compress_documents(make_documents(), QUERY)
    assert len(backend.requests) == 5
    assert backend.max_in_flight == 2


# -- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"top_n": 0}, "top_n must be at least 1"),
        ({"top_n": -2}, "top_n must be at least 1"),
        ({"top_n": "many"}, "top_n"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"rerank_fields": "title"}, "rerank_fields"),
        ({"rerank_fields": ["title", ""]}, "rerank_fields[1] must be a non-empty string"),
        ({"max_concurrency": 0}, "max_concurrency\n  Input should be greater than or equal to 1"),
        ({"top_n": True}, "top_n\n  Input should be a valid integer"),
        ({"top_n": 2.0}, "top_n\n  Input should be a valid integer"),
    ],
)
def test_constructor_validation(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises((ValueError, RerankError)) as info:
        compressor(**fields)
    assert fragment in str(info.value)


# -- MultiRerank with a registered provider ------------------------------------------------------


@pytest.mark.usefixtures("memory_provider")
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_multirerank_reaches_the_registered_backend(asynchronous: bool) -> None:
    reranker = MultiRerank(model="memory/model-x", backend_options={"scores": SCORES, "max_documents": 2})
    pipeline = ContextualCompressionRetriever(
        base_compressor=reranker, base_retriever=FixedRetriever(documents=make_documents())
    )
    result = await retrieve(pipeline, asynchronous)
    assert ids(result) == ["c", "a", "e"]
    backend = reranker.reranker.backend
    assert isinstance(backend, MemoryBackend)
    assert backend.model == "model-x"
    assert len(backend.requests) == 3


@pytest.mark.usefixtures("memory_provider")
def test_multirerank_uses_the_native_async_path_when_the_backend_has_one() -> None:
    reranker = MultiRerank(model="memory", backend_options={"asynchronous": True})
    assert reranker.reranker.backend.has_native_async


@pytest.mark.usefixtures("memory_provider")
def test_multirerank_setup_errors_surface_at_construction() -> None:
    with pytest.raises(ConfigurationError, match=r"known providers: .*memory"):
        MultiRerank(model="nope/model")
    with pytest.raises(ConfigurationError, match="invalid options for 'memory': bogus"):
        MultiRerank(model="memory", backend_options={"bogus": 1})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        MultiRerank(model="memory", bogus=1)  # type: ignore[call-arg]


def test_setup_errors_reach_the_caller_as_configuration_errors() -> None:
    # Not a ValueError, so pydantic passes it through instead of wrapping it in a ValidationError.
    with pytest.raises(ConfigurationError, match="unknown provider 'nope' in model 'nope/model'"):
        MultiRerank(model="nope/model")
    # A backend whose own default the engine refuses; a field pydantic refuses is a ValidationError.
    with pytest.raises(ConfigurationError, match="max_concurrency must be at least 1"):
        compressor(backend=MemoryBackend(max_concurrency=0))
