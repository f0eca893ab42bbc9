"""The engine over an in-memory backend: splitting, merging, limits, validation, concurrency, retries."""

from __future__ import annotations

import asyncio
import json
import math
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from multirerank import registry
from multirerank.engine import Reranker
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankInputError,
    RerankTimeoutError,
    ThrottledError,
    error_for_status,
)
from multirerank.types import BatchResult, DocumentInput, IdentifiedText, RerankResponse, Usage
from tests.memory_backend import (
    REGISTRY_TARGET,
    AsyncMemoryBackend,
    Malformation,
    MemoryBackend,
    RecordedRequest,
    RecordingExecutor,
    wait_until,
)

QUERY = "which document wins"
TEXTS = [f"text {position}" for position in range(10)]
SCORES = [0.5, 0.9, 0.1, 0.9, 0.3, 0.5, 0.7, 0.2, 0.9, 0.4]
#: Best first, ties broken by the lower original index, whatever request a document went in.
EXPECTED_ORDER = [1, 3, 8, 6, 0, 5, 9, 4, 7, 2]


def scored_backend(**options: Any) -> MemoryBackend:
    return MemoryBackend(scores=dict(zip(TEXTS, SCORES, strict=True)), **options)


def sent_in_order(backend: MemoryBackend) -> list[list[str]]:
    """The documents of every request, requests ordered by where their documents sit in TEXTS."""
    batches = [[str(document) for document in request.documents] for request in backend.requests]
    return sorted(batches, key=lambda batch: TEXTS.index(batch[0]))


def indices(response: RerankResponse) -> list[int]:
    return [result.index for result in response]


# -- splitting and merging -----------------------------------------------------------------------


def test_ten_documents_over_a_limit_of_three_make_four_requests_and_one_merged_list() -> None:
    backend = scored_backend(max_documents=3)
    response = Reranker(backend).rerank(QUERY, TEXTS)

    assert len(backend.requests) == 4
    batches = sent_in_order(backend)
    assert [len(batch) for batch in batches] == [3, 3, 2, 2]
    assert [text for batch in batches for text in batch] == TEXTS
    assert indices(response) == EXPECTED_ORDER
    assert [result.relevance_score for result in response] == [SCORES[i] for i in EXPECTED_ORDER]


async def test_async_split_merges_the_same_way() -> None:
    backend = scored_backend(max_documents=3)
    response = await Reranker(backend).arerank(QUERY, TEXTS)
    assert len(backend.requests) == 4
    assert indices(response) == EXPECTED_ORDER


def test_unsplit_list_gives_the_same_order_as_a_split_one() -> None:
    whole = Reranker(scored_backend()).rerank(QUERY, TEXTS)
    split = Reranker(scored_backend(max_documents=1)).rerank(QUERY, TEXTS)
    assert indices(whole) == indices(split) == EXPECTED_ORDER


def test_lists_within_the_limit_make_one_request() -> None:
    backend = scored_backend(max_documents=10)
    Reranker(backend).rerank(QUERY, TEXTS)
    assert len(backend.requests) == 1


def test_input_sequence_is_not_changed_and_tuples_are_accepted() -> None:
    documents = tuple(TEXTS)
    response = Reranker(scored_backend(max_documents=4)).rerank(QUERY, documents)
    assert documents == tuple(TEXTS)
    assert sorted(indices(response)) == list(range(10))


def wire_size(query: str, documents: list[str]) -> int:
    return len(json.dumps({"query": query, "documents": documents}, ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize("query", ["short query", "long query " * 60])
def test_byte_limit_splits_so_every_request_fits(query: str) -> None:
    texts = [f"{position:02d} " + "é" * 100 for position in range(10)]
    budget = 1400
    backend = MemoryBackend(max_request_cost=budget)
    response = Reranker(backend).rerank(query, texts)

    assert len(backend.requests) > 1
    sent = [[str(document) for document in request.documents] for request in backend.requests]
    for documents in sent:
        assert wire_size(query, documents) <= budget
    assert sorted(text for documents in sent for text in documents) == texts
    assert sorted(indices(response)) == list(range(10))


def test_byte_limit_and_count_limit_together() -> None:
    texts = ["x" * 40 for _ in range(10)]
    backend = MemoryBackend(max_documents=4, max_request_cost=256 + 20 + 2 * 50)
    Reranker(backend).rerank("q", texts)
    assert all(len(request.documents) <= 2 for request in backend.requests)
    assert sum(len(request.documents) for request in backend.requests) == 10


def test_a_single_document_over_the_byte_limit_is_rejected_naming_its_index() -> None:
    texts = ["small one", "small two", "y" * 2000, "small three"]
    backend = MemoryBackend(max_request_cost=1000)
    with pytest.raises(RerankInputError, match=r"document at index 2 costs \d+ bytes") as info:
        Reranker(backend).rerank(QUERY, texts)
    assert "1000 bytes" in str(info.value)
    assert backend.requests == []


def test_a_query_over_the_byte_limit_is_rejected_as_the_query() -> None:
    backend = MemoryBackend(max_request_cost=600)
    with pytest.raises(RerankInputError, match=r"^the query alone costs \d+ bytes"):
        Reranker(backend).rerank("q" * 600, ["a", "b"])
    assert backend.requests == []


# -- top_n, thresholds, returned documents, usage ------------------------------------------------


def test_top_n_none_returns_every_document() -> None:
    response = Reranker(scored_backend(max_documents=3)).rerank(QUERY, TEXTS, top_n=None)
    assert indices(response) == EXPECTED_ORDER


def test_top_n_above_the_count_is_clamped_and_each_request_asks_for_at_most_its_size() -> None:
    backend = scored_backend(max_documents=3)
    response = Reranker(backend).rerank(QUERY, TEXTS, top_n=50)
    assert indices(response) == EXPECTED_ORDER
    assert all(request.top_n == len(request.documents) for request in backend.requests)


@pytest.mark.parametrize(("top_n", "per_request"), [(2, [2, 2, 2, 2]), (3, [3, 3, 2, 2]), (1, [1, 1, 1, 1])])
def test_top_n_is_pushed_down_to_each_request_capped_at_its_size(top_n: int, per_request: list[int]) -> None:
    backend = scored_backend(max_documents=3)
    response = Reranker(backend).rerank(QUERY, TEXTS, top_n=top_n)
    assert indices(response) == EXPECTED_ORDER[:top_n]
    by_position = sorted(backend.requests, key=lambda request: TEXTS.index(str(request.documents[0])))
    assert [request.top_n for request in by_position] == per_request


def test_top_n_with_a_threshold_asks_each_request_for_everything() -> None:
    backend = scored_backend(max_documents=3)
    response = Reranker(backend).rerank(QUERY, TEXTS, top_n=2, score_threshold=0.5)
    assert [request.top_n for request in backend.requests] == [None] * 4
    assert indices(response) == [1, 3]


def test_score_threshold_keeps_scores_at_or_above_it() -> None:
    response = Reranker(scored_backend(max_documents=3)).rerank(QUERY, TEXTS, score_threshold=0.5)
    assert indices(response) == [1, 3, 8, 6, 0, 5]


def test_score_threshold_above_every_score_returns_an_empty_list() -> None:
    response = Reranker(scored_backend()).rerank(QUERY, TEXTS, score_threshold=0.95)
    assert response.results == []


def test_negative_and_integer_thresholds_are_numbers_too() -> None:
    assert len(Reranker(scored_backend()).rerank(QUERY, TEXTS, score_threshold=-3.5)) == 10
    assert len(Reranker(scored_backend()).rerank(QUERY, TEXTS, score_threshold=1)) == 0


def test_return_documents() -> None:
    documents: list[Any] = [*TEXTS[:3], {"title": "text 3"}]
    with_documents = Reranker(scored_backend(max_documents=2)).rerank(QUERY, documents, return_documents=True)
    assert all(result.document == documents[result.index] for result in with_documents)
    without = Reranker(scored_backend(max_documents=2)).rerank(QUERY, documents)
    assert all(result.document is None for result in without)


def test_usage_is_summed_and_requests_are_counted() -> None:
    response = Reranker(scored_backend(max_documents=3, tokens_per_document=7)).rerank(QUERY, TEXTS)
    assert response.usage is not None
    assert response.usage.total_tokens == 70
    assert response.usage.requests == 4
    assert response.usage.search_units is None


def test_usage_without_token_counts_still_counts_requests() -> None:
    response = Reranker(scored_backend(max_documents=4)).rerank(QUERY, TEXTS)
    assert response.usage is not None
    assert response.usage.total_tokens is None
    assert response.usage.requests == 3


def test_response_describes_the_backend() -> None:
    response = Reranker(scored_backend()).rerank(QUERY, TEXTS, top_n=2)
    assert (response.provider, response.model, response.score_scale) == ("memory", "memory-1", "probability")
    assert response.metadata["memory"] is True
    assert response.elapsed_seconds >= 0
    assert response.as_dicts() == [{"index": 1, "relevance_score": 0.9}, {"index": 3, "relevance_score": 0.9}]
    assert len(response) == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_progress_reports_every_document_once(asynchronous: bool) -> None:
    done: list[int] = []
    reranker = Reranker(scored_backend(max_documents=3))
    if asynchronous:
        await reranker.arerank(QUERY, TEXTS, progress=done.append)
    else:
        reranker.rerank(QUERY, TEXTS, progress=done.append)
    assert sorted(done) == [2, 2, 3, 3]


# -- input validation ----------------------------------------------------------------------------


def rerank_error(call: Callable[[], object]) -> RerankInputError:
    with pytest.raises(RerankInputError) as info:
        call()
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("query", [None, "", "  ", "\n\t"])
def test_missing_query_message(query: Any) -> None:
    backend = MemoryBackend()
    error = rerank_error(lambda: Reranker(backend).rerank(query, ["a"]))
    assert str(error) == "query is required for rerank"
    assert backend.requests == []


@pytest.mark.parametrize("documents", [[], (), None, iter([])])
def test_missing_documents_message(documents: Any) -> None:
    error = rerank_error(lambda: Reranker(MemoryBackend()).rerank("q", documents))
    assert str(error) == "documents are required for rerank"


@pytest.mark.parametrize(
    ("documents", "index"),
    [(["a", "", "c"], 1), (["a", "b", "   "], 2), (["a", {}], 1), (["\n"], 0)],
)
def test_blank_document_message(documents: list[Any], index: int) -> None:
    backend = MemoryBackend()
    error = rerank_error(lambda: Reranker(backend).rerank("q", documents))
    assert str(error) == f"document text is required for rerank at index {index}"
    assert backend.requests == []


@pytest.mark.parametrize("top_n", [0, -1])
def test_top_n_too_small_message(top_n: int) -> None:
    error = rerank_error(lambda: Reranker(MemoryBackend()).rerank("q", ["a"], top_n=top_n))
    assert str(error) == "top_n must be at least 1"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"query": 5}, "query must be a string, got int"),
        ({"query": b"bytes"}, "query must be a string, got bytes"),
        ({"documents": "one text"}, "documents must be a list of texts, not a single string"),
        (
            {"documents": {"title": "one"}},
            "documents must be a list of texts or mappings, not a single mapping",
        ),
        ({"documents": 42}, "documents must be a list of texts, got int"),
        ({"documents": {"a", "b"}}, "documents must be a list, not a set: results are given by position"),
        ({"documents": {"a": 1}.keys()}, "documents must be a list, not a dict_keys: results are given by position"),
        ({"documents": ["a", "b", None]}, "document at index 2 must be a string or a mapping, got NoneType"),
        ({"documents": ["a", 7]}, "document at index 1 must be a string or a mapping, got int"),
        ({"top_n": "3"}, "top_n must be an integer or None, got str"),
        ({"top_n": True}, "top_n must be an integer or None, got bool"),
        ({"top_n": 2.0}, "top_n must be an integer or None, got float"),
        ({"score_threshold": math.nan}, "score_threshold must be a finite number"),
        ({"score_threshold": math.inf}, "score_threshold must be a finite number"),
        ({"score_threshold": "0.5"}, "score_threshold must be a number or None, got str"),
        ({"score_threshold": False}, "score_threshold must be a number or None, got bool"),
    ],
)
def test_wrong_types_name_the_field_or_index(arguments: dict[str, Any], message: str) -> None:
    call: dict[str, Any] = {"query": "q", "documents": ["a", "b", "c"], **arguments}
    backend = MemoryBackend()
    error = rerank_error(lambda: Reranker(backend).rerank(**call))
    assert str(error) == message
    assert backend.requests == []


async def test_async_path_validates_the_same_way() -> None:
    with pytest.raises(RerankInputError, match=r"^query is required for rerank$"):
        await Reranker(AsyncMemoryBackend()).arerank(" ", ["a"])
    with pytest.raises(RerankInputError, match=r"^document text is required for rerank at index 0$"):
        await Reranker(MemoryBackend()).arerank("q", [""])


def test_long_document_is_rejected_naming_its_index_by_default() -> None:
    backend = MemoryBackend(max_document_chars=10)
    error = rerank_error(lambda: Reranker(backend).rerank("q", ["short", "0123456789", "ok", "0123456789X"]))
    assert str(error) == (
        "document at index 3 is 11 characters; memory accepts at most 10 (set truncate=True to cut it)"
    )
    assert backend.requests == []


def test_long_document_is_cut_when_the_backend_truncates() -> None:
    backend = MemoryBackend(max_document_chars=10, truncate=True)
    response = Reranker(backend).rerank("q", ["short", "0123456789ABC"])
    assert [str(document) for document in backend.requests[0].documents] == ["short", "0123456789"]
    assert sorted(indices(response)) == [0, 1]


def test_truncation_keeps_a_documents_id() -> None:
    backend = MemoryBackend(max_document_chars=4, truncate=True)
    Reranker(backend).rerank("q", [IdentifiedText("abcdefgh", "doc-1")])
    sent = backend.requests[0].documents[0]
    assert isinstance(sent, IdentifiedText)
    assert (str(sent), sent.document_id) == ("abcd", "doc-1")


def test_long_json_document_is_rejected_even_when_truncating() -> None:
    backend = MemoryBackend(max_document_chars=10, truncate=True)
    error = rerank_error(lambda: Reranker(backend).rerank("q", ["ok", {"title": "a long title here"}]))
    assert str(error).startswith("document at index 1 is ")


def test_long_query_is_rejected_or_cut() -> None:
    strict = MemoryBackend(max_query_chars=5)
    error = rerank_error(lambda: Reranker(strict).rerank("a long query", ["a"]))
    assert str(error).startswith("query is 12 characters; memory accepts at most 5")
    cutting = MemoryBackend(max_query_chars=5, truncate=True)
    Reranker(cutting).rerank("a long query", ["a"])
    assert cutting.requests[0].query == "a lon"


# -- malformed backend answers -------------------------------------------------------------------

MALFORMED: list[tuple[Malformation, str]] = [
    ("index_out_of_range", "outside the 3 documents sent"),
    ("negative_index", "has index -1"),
    ("duplicate_index", "repeats index"),
    ("nan_score", "non-finite or non-numeric score nan"),
    ("inf_score", "non-finite or non-numeric score inf"),
    ("bool_score", "non-finite or non-numeric score True"),
    ("string_score", "non-finite or non-numeric score '0.9'"),
    ("float_index", "non-integer index"),
    ("not_a_pair", "is not an (index, score) pair"),
    ("scores_not_a_list", "scores as NoneType"),
    ("not_a_batch_result", "backend returned dict, expected BatchResult"),
]


@pytest.mark.parametrize(("kind", "message"), MALFORMED)
def test_malformed_answers_are_rejected(kind: Malformation, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        Reranker(MemoryBackend(malformed=kind)).rerank("q", ["a", "b", "c"])
    assert info.value.provider == "memory"
    assert not info.value.retryable


@pytest.mark.parametrize(("kind", "message"), MALFORMED)
def test_malformed_long_answers_are_rejected_alike(kind: Malformation, message: str) -> None:
    # A long answer is checked by other code than a top-n one (answers._LOOP_CHECKED): same verdicts.
    documents = [f"text {number}" for number in range(40)]
    message = message.replace("the 3 documents", "the 40 documents")
    with pytest.raises(MalformedResponseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Reranker(MemoryBackend(malformed=kind)).rerank("q", documents)


@pytest.mark.parametrize(("kind", "message"), MALFORMED)
async def test_malformed_answers_are_rejected_on_the_async_path(kind: Malformation, message: str) -> None:
    with pytest.raises(MalformedResponseError):
        await Reranker(AsyncMemoryBackend(malformed=kind, max_documents=2)).arerank("q", ["a", "b", "c"])


# -- threads and the event loop ------------------------------------------------------------------


def hold_until_in_flight(backend: MemoryBackend, count: int) -> None:
    """Requests wait until ``count`` are in flight together (or a timeout), then take a little
    longer, so a pool that allows ``count`` reaches it and one that allows more exceeds it."""

    def hold(request: RecordedRequest) -> None:
        wait_until(lambda: backend.max_in_flight >= count)

    backend.before_answer = hold


def test_split_requests_run_concurrently_on_the_engines_pool_bounded_by_max_concurrency() -> None:
    backend = MemoryBackend(max_documents=1, delay=0.02)
    hold_until_in_flight(backend, 3)
    Reranker(backend, max_concurrency=3).rerank("q", TEXTS[:8])
    assert len(backend.requests) == 8
    assert backend.max_in_flight == 3
    assert all(name.startswith("multirerank-") for name in backend.thread_names)


def test_backend_default_concurrency_is_used() -> None:
    backend = MemoryBackend(max_documents=1, delay=0.02, max_concurrency=2)
    hold_until_in_flight(backend, 2)
    reranker = Reranker(backend)
    reranker.rerank("q", TEXTS[:6])
    assert reranker.max_concurrency == 2
    assert backend.max_in_flight == 2


def test_a_single_request_runs_in_the_callers_thread() -> None:
    backend = MemoryBackend()
    Reranker(backend).rerank("q", TEXTS)
    assert backend.thread_names == {threading.current_thread().name}


async def test_native_async_backend_is_awaited_with_bounded_concurrency() -> None:
    backend = AsyncMemoryBackend(max_documents=1, delay=0.02)
    response = await Reranker(backend, max_concurrency=3).arerank("q", TEXTS[:8])
    assert len(response) == 8
    assert backend.max_in_flight == 3
    # Awaited on the loop's own thread: no worker thread took part.
    assert backend.thread_names == {threading.current_thread().name}


async def test_sync_backend_on_the_async_path_uses_the_engines_pool_not_the_loops() -> None:
    loop = asyncio.get_running_loop()
    default = RecordingExecutor()
    loop.set_default_executor(default)
    try:
        backend = MemoryBackend(max_documents=2, delay=0.01)
        hold_until_in_flight(backend, 2)
        response = await Reranker(backend, max_concurrency=2).arerank("q", TEXTS[:6])
    finally:
        default.shutdown(wait=False)
    assert len(response) == 6
    assert default.submitted == 0
    assert all(name.startswith("multirerank-") for name in backend.thread_names)
    assert backend.max_in_flight == 2


async def test_a_slow_sync_backend_does_not_block_the_event_loop() -> None:
    # The backend answers only once the loop has ticked a few times while it waits: on a
    # blocked loop the ticker could not run and the wait would time out.
    ticks = 0
    ticked = threading.Event()
    finished = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not finished.is_set():
            ticks += 1
            if ticks >= 3:
                ticked.set()
            await asyncio.sleep(0.002)

    def hold(request: RecordedRequest) -> None:
        ticked.wait(timeout=2.0)

    backend = MemoryBackend()
    backend.before_answer = hold
    ticking = asyncio.create_task(ticker())
    try:
        await Reranker(backend).arerank("q", ["a", "b"])
    finally:
        finished.set()
        await ticking
    assert ticked.is_set()
    assert backend.thread_names != {threading.current_thread().name}


async def test_first_async_failure_cancels_the_requests_still_running() -> None:
    failure = BadRequestError("rejected", provider="memory", status=400)
    backend = AsyncMemoryBackend(max_documents=1, delay=0.05, fail_on={1: failure})
    with pytest.raises(BadRequestError) as info:
        await Reranker(backend, max_concurrency=4).arerank("q", TEXTS[:8])
    assert info.value is failure
    # Every request that started, but the failed one, was cancelled; most never began. (The
    # failure frees a semaphore slot, so one more may start before the cancel lands.)
    assert 4 <= len(backend.requests) <= 5
    assert backend.cancelled == len(backend.requests) - 1
    assert backend.completed == 0


def test_first_sync_failure_cancels_the_pending_requests() -> None:
    failure = AuthenticationError("bad key", provider="memory", status=401)
    backend = MemoryBackend(max_documents=1, fail_on={1: failure})
    released = threading.Event()

    def hold(request: RecordedRequest) -> None:
        # Requests that did not fail keep their worker until the error has reached the caller.
        released.wait(timeout=2.0)

    backend.before_answer = hold
    with pytest.raises(AuthenticationError) as info:
        Reranker(backend, max_concurrency=2).rerank("q", TEXTS[:8])
    assert info.value is failure
    released.set()
    time.sleep(0.05)
    # The failed request and at most one held request per worker; the rest were cancelled.
    assert 1 <= len(backend.requests) <= 3
    assert backend.completed == len(backend.requests) - 1


# -- retries -------------------------------------------------------------------------------------


def throttled() -> ThrottledError:
    return ThrottledError("slow down", provider="memory", status=429, code="Throttling", retry_after=0)


@pytest.mark.parametrize("kind", [MemoryBackend, AsyncMemoryBackend])
async def test_retryable_error_is_retried_when_retries_are_allowed(kind: type[MemoryBackend]) -> None:
    sync_backend = kind(fail_on={1: throttled()})
    assert len(Reranker(sync_backend, max_retries=1).rerank("q", ["a", "b"])) == 2
    assert len(sync_backend.requests) == 2
    async_backend = kind(fail_on={1: throttled()})
    assert len(await Reranker(async_backend, max_retries=1).arerank("q", ["a", "b"])) == 2
    assert len(async_backend.requests) == 2


def test_backend_default_retries_apply() -> None:
    backend = MemoryBackend(fail_on={1: throttled()}, max_retries=2)
    Reranker(backend).rerank("q", ["a"])
    assert len(backend.requests) == 2


@pytest.mark.parametrize("kind", [MemoryBackend, AsyncMemoryBackend])
async def test_retryable_error_is_not_retried_with_zero_retries(kind: type[MemoryBackend]) -> None:
    backend = kind(fail_on={1: throttled(), 2: throttled()})
    with pytest.raises(ThrottledError):
        Reranker(backend, max_retries=0).rerank("q", ["a"])
    with pytest.raises(ThrottledError):
        await Reranker(backend, max_retries=0).arerank("q", ["a"])
    assert len(backend.requests) == 2


def test_retries_give_up_after_the_last_attempt() -> None:
    failure = ProviderError("overloaded", provider="memory", status=503)
    backend = MemoryBackend(fail_on={1: failure, 2: failure, 3: failure})
    with pytest.raises(ProviderError):
        Reranker(backend, max_retries=1).rerank("q", ["a"])
    assert len(backend.requests) == 2


@pytest.mark.parametrize("kind", [MemoryBackend, AsyncMemoryBackend])
async def test_throttling_is_retried_past_the_count_while_the_budget_lasts(kind: type[MemoryBackend]) -> None:
    """A burst of 429s says nothing of the request: it is retried on time, not on a count."""
    wait = ThrottledError("slow down", provider="memory", status=429, retry_after=0.01)
    backend = kind(fail_on=dict.fromkeys(range(1, 5), wait))
    assert len(Reranker(backend, max_retries=1).rerank("q", ["a"])) == 1
    assert len(backend.requests) == 5
    backend = kind(fail_on=dict.fromkeys(range(1, 100), wait))
    with pytest.raises(ThrottledError):
        await Reranker(backend, max_retries=1, retry_budget=0.05).arerank("q", ["a"])
    assert 2 <= len(backend.requests) < 10


@pytest.mark.parametrize("kind", [MemoryBackend, AsyncMemoryBackend])
async def test_only_waiting_spends_the_retry_budget(kind: type[MemoryBackend]) -> None:
    """A slow request (a vendor's processing, an SDK's first connection) leaves the budget whole."""
    wait = ThrottledError("slow down", provider="memory", status=429, retry_after=0.05)
    backend = kind(delay=0.2, fail_on={1: wait, 3: wait})
    assert len(Reranker(backend, max_retries=1, retry_budget=0.1).rerank("q", ["a"])) == 1
    assert len(await Reranker(backend, max_retries=1, retry_budget=0.1).arerank("q", ["a"])) == 1
    assert len(backend.requests) == 4


@pytest.mark.parametrize("kind", [MemoryBackend, AsyncMemoryBackend])
async def test_requests_waiting_together_spend_the_budget_once(kind: type[MemoryBackend]) -> None:
    """Four requests of a split list throttled at once wait side by side: 0.06 s of the call's
    budget, not 0.24 s."""
    wait = ThrottledError("slow down", provider="memory", status=429, retry_after=0.06)
    backend = kind(max_documents=1, fail_on=dict.fromkeys(range(1, 5), wait))
    response = await Reranker(backend, max_retries=1, retry_budget=0.1).arerank("q", ["a", "b", "c", "d"])
    assert len(response) == 4 and len(backend.requests) == 8
    backend = kind(max_documents=1, fail_on=dict.fromkeys(range(1, 5), wait))
    assert len(Reranker(backend, max_retries=1, retry_budget=0.1).rerank("q", ["a", "b", "c", "d"])) == 4


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad", provider="memory", status=400),
        ProviderError("model broke", provider="memory", status=424, retryable=False),
        MalformedResponseError("garbled", provider="memory"),
    ],
)
async def test_non_retryable_errors_are_not_retried(error: RerankError) -> None:
    backend = AsyncMemoryBackend(fail_on={1: error, 2: error})
    with pytest.raises(type(error)):
        Reranker(backend, max_retries=3).rerank("q", ["a"])
    with pytest.raises(type(error)):
        await Reranker(backend, max_retries=3).arerank("q", ["a"])
    assert len(backend.requests) == 2


# -- construction, model strings, closing --------------------------------------------------------


def test_options_beside_a_backend_object_are_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match=r"\['some_option'\] only apply when the backend is given"):
        Reranker(MemoryBackend(), some_option=1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        ({"max_concurrency": "4"}, "max_concurrency must be an integer, got str"),
        ({"max_retries": -1}, "max_retries must be at least 0"),
        ({"max_retries": 1.5}, "max_retries must be an integer, got float"),
    ],
)
def test_engine_settings_are_checked(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Reranker(MemoryBackend(), **arguments)
    assert str(info.value) == message


def test_a_backend_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="backend must be a Backend or a model string, got object"):
        Reranker(object())  # type: ignore[arg-type]


@pytest.mark.usefixtures("memory_provider")
def test_model_string_reaches_a_registered_provider() -> None:
    reranker = Reranker("memory/model-two", max_documents=3)
    assert isinstance(reranker.backend, MemoryBackend)
    assert (reranker.provider, reranker.model) == ("memory", "model-two")
    assert reranker.backend.limits.max_documents == 3
    assert Reranker("MEMORY").model == "memory-1"


@pytest.mark.usefixtures("memory_provider")
def test_model_string_options_are_checked_by_the_provider() -> None:
    with pytest.raises(ConfigurationError, match="invalid options for 'memory': bogus"):
        Reranker("memory", bogus=1)


def test_unknown_provider_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "PROVIDERS", {"local": "x:y", "memory": REGISTRY_TARGET})
    with pytest.raises(ConfigurationError) as info:
        Reranker("nope/some-model")
    assert (
        str(info.value)
        == "unknown provider 'nope' in model 'nope/some-model'; known providers: local, memory"
    )


@pytest.mark.parametrize("model", ["", "   "])
def test_empty_model_string_is_a_configuration_error(model: str) -> None:
    with pytest.raises(ConfigurationError, match="model must be a 'provider/model' string"):
        Reranker(model)


def test_close_is_idempotent_and_shuts_the_pool() -> None:
    backend = MemoryBackend(max_documents=1)
    reranker = Reranker(backend)
    reranker.rerank("q", ["a", "b"])
    reranker.close()
    reranker.close()
    assert backend.close_calls == 2


def test_context_managers_close_the_backend() -> None:
    backend = MemoryBackend()
    with Reranker(backend) as reranker:
        reranker.rerank("q", ["a"])
    assert backend.close_calls == 1


async def test_async_context_manager_closes_the_backend() -> None:
    backend = AsyncMemoryBackend(max_documents=1)
    async with Reranker(backend) as reranker:
        await reranker.arerank("q", ["a", "b"])
    await reranker.aclose()
    assert backend.aclose_calls == 2


def test_repr_names_backend_and_concurrency() -> None:
    assert repr(Reranker(MemoryBackend(), max_concurrency=2)) == (
        "Reranker(MemoryBackend(provider='memory', model='memory-1'), max_concurrency=2)"
    )


# -- errors --------------------------------------------------------------------------------------

ERROR_KINDS = [
    RerankError,
    RerankInputError,
    ConfigurationError,
    BadRequestError,
    AuthenticationError,
    NotFoundError,
    ThrottledError,
    ProviderError,
    RerankTimeoutError,
    MalformedResponseError,
]


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_errors_survive_pickling(kind: type[RerankError]) -> None:
    error = kind("it failed", provider="memory", status=503, code="Busy", retry_after=2.5)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is kind
    assert str(copy) == str(error) == "it failed (provider=memory, status=503, code=Busy)"
    assert (copy.message, copy.provider, copy.status, copy.code, copy.retryable, copy.retry_after) == (
        "it failed",
        "memory",
        503,
        "Busy",
        error.retryable,
        2.5,
    )


def test_error_str_lists_only_known_details() -> None:
    assert str(RerankError("plain")) == "plain"
    assert str(ProviderError("down", provider="memory")) == "down (provider=memory)"
    assert str(BadRequestError("bad", status=422)) == "bad (status=422)"


def test_retryable_defaults_and_overrides() -> None:
    assert ThrottledError("x").retryable
    assert ProviderError("x").retryable
    assert RerankTimeoutError("x").retryable
    assert not BadRequestError("x").retryable
    assert not ProviderError("x", retryable=False).retryable
    assert BadRequestError("x", retryable=True).retryable


def test_input_errors_are_value_errors_and_setup_errors_rerank_errors() -> None:
    assert issubclass(RerankInputError, ValueError)
    assert issubclass(RerankInputError, RerankError)
    assert issubclass(ConfigurationError, RerankError)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (408, RerankTimeoutError),
        (413, BadRequestError),
        (422, BadRequestError),
        (429, ThrottledError),
        (500, ProviderError),
        (503, ProviderError),
        (504, RerankTimeoutError),
    ],
)
def test_error_for_status(status: int, kind: type[RerankError]) -> None:
    error = error_for_status(status, "vendor said no", provider="memory", code="C", retry_after=1.0)
    assert type(error) is kind
    assert (error.status, error.code, error.provider, error.retry_after) == (status, "C", "memory", 1.0)


def test_identified_text_pickles_with_its_id() -> None:
    text = pickle.loads(pickle.dumps(IdentifiedText("body", "id-7")))
    assert isinstance(text, IdentifiedText)
    assert (text, text.document_id) == ("body", "id-7")


def test_with_backend_keeps_the_settings_and_borrows_the_pool() -> None:
    """A per-call twin (e.g. Bedrock fields for one request) starts no threads of its own."""
    parent = Reranker(MemoryBackend(max_documents=2), max_concurrency=2, max_retries=1, normalize_scores=True)
    twin_backend = MemoryBackend(max_documents=2)
    twin = parent.with_backend(twin_backend)
    assert (twin.max_concurrency, twin.max_retries, twin.normalize_scores) == (2, 1, True)
    twin.rerank("alpha", ["alpha", "beta", "gamma", "delta"])
    assert parent._executor is not None and twin._executor is None
    assert all(request.thread_name.startswith("multirerank-memory") for request in twin_backend.requests)
    twin.close()
    assert twin_backend.close_calls == 1
    assert len(parent.rerank("alpha", ["alpha", "beta", "gamma"])) == 3  # the pool survives the twin
    parent.close()


def test_backend_decides_which_errors_are_retried() -> None:
    """A backend whose SDK retries some failures narrows the engine's retries to the rest."""

    class ThrottleOnly(MemoryBackend):
        def should_retry(self, error: RerankError) -> bool:
            return isinstance(error, ThrottledError)

    throttled = ThrottleOnly(max_retries=2, fail_on={1: ThrottledError("slow down", retry_after=0)})
    assert len(Reranker(throttled).rerank("q", ["a"])) == 1
    failing = ThrottleOnly(max_retries=2, fail_on={1: ProviderError("boom")})
    with pytest.raises(ProviderError):
        Reranker(failing).rerank("q", ["a"])
    assert len(failing.requests) == 1


def test_a_retry_after_longer_than_the_engine_waits_fails_at_once() -> None:
    backend = MemoryBackend(max_retries=3, fail_on={1: ThrottledError("daily quota", retry_after=3600.0)})
    with pytest.raises(ThrottledError, match="daily quota"):
        Reranker(backend).rerank("q", ["a"])
    assert len(backend.requests) == 1


def test_usage_counts_the_requests_each_batch_reports() -> None:
    """A batch is one request unless the backend says it made more (pages, path fallbacks)."""

    class Paging(MemoryBackend):
        def rerank_batch(
            self, query: str, documents: Sequence[DocumentInput], top_n: int | None
        ) -> BatchResult:
            answer = super().rerank_batch(query, documents, top_n)
            return BatchResult(answer.scores, Usage(requests=3 if len(documents) > 2 else 0))

    usage = Reranker(Paging(max_documents=3)).rerank("q", ["a", "b", "c", "d", "e"]).usage
    assert usage is not None and usage.requests == 3 + 1  # chunks of 3 and 2 documents


def test_not_implemented_is_not_worth_retrying() -> None:
    assert not error_for_status(501, "no", provider="x").retryable
    assert error_for_status(502, "bad gateway", provider="x").retryable


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_concurrency", 0), ("max_concurrency", True), ("max_retries", -1), ("retry_budget", -1), ("deadline", 0)],
)
def test_settings_changed_after_construction_are_checked(name: str, value: object) -> None:
    reranker = Reranker(MemoryBackend(max_documents=1), max_concurrency=2, deadline=5.0)
    before = getattr(reranker, name)
    with pytest.raises(ConfigurationError, match=name):
        setattr(reranker, name, value)
    assert getattr(reranker, name) == before
    assert len(reranker.rerank("q", ["a", "b"])) == 2


# -- switches are strict bools, and progress is checked before sending -----------------------------


def test_normalize_scores_must_be_a_bool() -> None:
    """"false" is truthy: it turned normalisation on."""
    with pytest.raises(ConfigurationError, match=r"^normalize_scores must be True or False, got str$"):
        Reranker(MemoryBackend(), normalize_scores="false")  # type: ignore[arg-type]
    reranker = Reranker(MemoryBackend())
    with pytest.raises(ConfigurationError, match="normalize_scores"):
        reranker.normalize_scores = 1  # type: ignore[assignment]
    assert reranker.normalize_scores is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"return_documents": "false"}, r"^return_documents must be True or False, got str$"),
        ({"skip_blank": 1}, r"^skip_blank must be True or False, got int$"),
        ({"progress": 5}, r"^progress must be a function taking a count of documents \(or None\), got int$"),
    ],
)
async def test_call_switches_and_progress_are_checked_before_sending(
    arguments: dict[str, Any], message: str
) -> None:
    backend = MemoryBackend()
    reranker = Reranker(backend)
    with pytest.raises(RerankInputError, match=message):
        reranker.rerank("q", ["a", "b"], **arguments)
    with pytest.raises(RerankInputError, match=message):
        await reranker.arerank("q", ["a", "b"], **arguments)
    assert backend.requests == []
    counted: list[int] = []
    reranker.rerank("q", ["a", "b"], return_documents=True, progress=counted.append)
    assert counted == [2]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_deadline_error_carries_the_usage_of_the_requests_answered(use_async: bool) -> None:
    released = threading.Event()
    backend = MemoryBackend(max_documents=1)
    # The second request is held past the deadline; the first is answered (and billed) at once.
    backend.before_answer = lambda request: None if request.documents != ["slow"] else released.wait(5)
    reranker = Reranker(backend, deadline=0.3)
    try:
        with pytest.raises(RerankTimeoutError) as caught:
            if use_async:
                asyncio.run(reranker.arerank("q", ["fast", "slow"]))
            else:
                reranker.rerank("q", ["fast", "slow"])
    finally:
        released.set()
        reranker.close()
    usage = caught.value.usage
    assert usage is not None
    assert (usage.requests, usage.documents) == (1, 1)
