"""An in-memory backend for tests of the engine, the pipeline and the adapters: no vendor, no model.

Scores are deterministic (a text->score table, else the share of query words a text contains),
every request is recorded, and hooks make it slow, fail on a chosen request or answer malformed.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from multirerank.backends.base import Backend
from multirerank.types import BatchResult, DocumentInput, Limits, ScoreScale, Usage, document_text

#: Ways the backend can break its answer, so the engine's checks can be exercised.
Malformation = Literal[
    "index_out_of_range",
    "negative_index",
    "duplicate_index",
    "nan_score",
    "inf_score",
    "bool_score",
    "string_score",
    "float_index",
    "not_a_pair",
    "scores_not_a_list",
    "not_a_batch_result",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One call the engine made: what it sent and on which thread."""

    number: int
    query: str
    documents: list[DocumentInput]
    top_n: int | None
    thread_name: str


def lexical_score(query: str, text: str) -> float:
    """Share of the query's distinct words found in ``text`` (0..1)."""
    query_words = set(re.findall(r"\w+", query.lower()))
    if not query_words:
        return 0.0
    text_words = set(re.findall(r"\w+", text.lower()))
    return len(query_words & text_words) / len(query_words)


class MemoryBackend(Backend):
    """Scores in memory and records what the engine asked for."""

    provider = "memory"
    score_scale: ScoreScale = "probability"
    cuts_when_told = True  # its truncate= cuts long texts, as Bedrock's does

    def __init__(
        self,
        *,
        model: str = "memory-1",
        max_documents: int | None = None,
        max_request_cost: int | None = None,
        max_document_chars: int | None = None,
        max_query_chars: int | None = None,
        truncate: bool = False,
        max_concurrency: int = 4,
        max_retries: int = 0,
        scores: Mapping[str, float] | None = None,
        delay: float = 0.0,
        fail_on: Mapping[int, BaseException] | None = None,
        malformed: Malformation | None = None,
        tokens_per_document: int | None = None,
    ) -> None:
        self.model = model
        self.limits = Limits(
            max_documents=max_documents,
            max_document_chars=max_document_chars,
            max_query_chars=max_query_chars,
            max_request_cost=max_request_cost,
        )
        self.truncate = truncate
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.scores = dict(scores or {})
        self.delay = delay
        #: 1-based request number -> error raised by that request (attempts count, retries too).
        self.fail_on = dict(fail_on or {})
        self.malformed = malformed
        self.tokens_per_document = tokens_per_document
        #: Called by the sync path before answering (after any injected failure), so a test can
        #: hold requests until something it controls has happened instead of racing a delay.
        self.before_answer: Callable[[RecordedRequest], None] | None = None
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed = 0
        self.cancelled = 0
        self.close_calls = 0
        self.aclose_calls = 0
        self._lock = threading.Lock()

    # -- the contract ----------------------------------------------------------------------------

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        number = self._begin(query, documents, top_n)
        try:
            self._maybe_fail(number)
            if self.before_answer is not None:
                self.before_answer(self.requests[number - 1])
            if self.delay:
                time.sleep(self.delay)
            return self._answer(query, documents, top_n)
        finally:
            self._end()

    def score_text(self, query: str, document: DocumentInput) -> float:
        text = document_text(document)
        if text in self.scores:
            return self.scores[text]
        return lexical_score(query, text)

    def describe(self) -> dict[str, Any]:
        return {"memory": True}

    def close(self) -> None:
        with self._lock:
            self.close_calls += 1

    async def aclose(self) -> None:
        with self._lock:
            self.aclose_calls += 1

    # -- what the tests look at ------------------------------------------------------------------

    @property
    def thread_names(self) -> set[str]:
        return {request.thread_name for request in self.requests}

    @property
    def sent_sizes(self) -> list[int]:
        return [len(request.documents) for request in sorted(self.requests, key=_first_document)]

    # -- internals -------------------------------------------------------------------------------

    def _begin(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> int:
        with self._lock:
            number = len(self.requests) + 1
            self.requests.append(
                RecordedRequest(number, query, list(documents), top_n, threading.current_thread().name)
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return number

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _maybe_fail(self, number: int) -> None:
        error = self.fail_on.get(number)
        if error is not None:
            raise error

    def _answer(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        ranked = sorted(
            ((index, self.score_text(query, document)) for index, document in enumerate(documents)),
            key=lambda pair: (-pair[1], pair[0]),
        )
        if top_n is not None:
            ranked = ranked[:top_n]
        usage = Usage(
            total_tokens=None
            if self.tokens_per_document is None
            else self.tokens_per_document * len(documents)
        )
        with self._lock:
            self.completed += 1
        if self.malformed is not None:
            return _malformed(self.malformed, ranked, len(documents), usage)  # type: ignore[no-any-return]
        return BatchResult(ranked, usage)


class AsyncMemoryBackend(MemoryBackend):
    """The same backend with a native async path that never leaves the event loop's thread."""

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        number = self._begin(query, documents, top_n)
        try:
            self._maybe_fail(number)
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(query, documents, top_n)
        except asyncio.CancelledError:
            with self._lock:
                self.cancelled += 1
            raise
        finally:
            self._end()


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; for ``before_answer`` hooks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class RecordingExecutor(ThreadPoolExecutor):
    """A loop default executor that counts what it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def _first_document(request: RecordedRequest) -> str:
    return document_text(request.documents[0]) if request.documents else ""


def _malformed(kind: Malformation, ranked: list[tuple[int, float]], size: int, usage: Usage) -> Any:
    pairs: list[Any] = list(ranked)
    if kind == "index_out_of_range":
        pairs[0] = (size, pairs[0][1])
    elif kind == "negative_index":
        pairs[0] = (-1, pairs[0][1])
    elif kind == "duplicate_index":
        pairs.append((pairs[0][0], 0.0))
    elif kind == "nan_score":
        pairs[0] = (pairs[0][0], math.nan)
    elif kind == "inf_score":
        pairs[0] = (pairs[0][0], math.inf)
    elif kind == "bool_score":
        pairs[0] = (pairs[0][0], True)
    elif kind == "string_score":
        pairs[0] = (pairs[0][0], "0.9")
    elif kind == "float_index":
        pairs[0] = (float(pairs[0][0]), pairs[0][1])
    elif kind == "not_a_pair":
        pairs[0] = pairs[0][0]
    elif kind == "scores_not_a_list":
        return BatchResult(None, usage)  # type: ignore[arg-type]
    elif kind == "not_a_batch_result":
        return {"scores": pairs}
    return BatchResult(pairs, usage)


class MemoryOptions(BaseModel):
    """The memory backend's user-facing options, in the shape every vendor's options model has."""

    model_config = ConfigDict(extra="forbid")

    model: str = "memory-1"
    max_documents: int | None = Field(default=None, ge=1)
    max_document_chars: int | None = Field(default=None, ge=1)
    truncate: bool = False
    scores: dict[str, float] = Field(default_factory=dict)
    asynchronous: bool = False

    def build_backend(self) -> MemoryBackend:
        kind = AsyncMemoryBackend if self.asynchronous else MemoryBackend
        return kind(
            model=self.model,
            max_documents=self.max_documents,
            max_document_chars=self.max_document_chars,
            truncate=self.truncate,
            scores=self.scores,
        )


def from_model_string(rest: str | None, **options: Any) -> MemoryBackend:
    """Registry factory: ``"memory/<model>"``, options as :class:`MemoryOptions` fields."""
    if rest is not None:
        options = {"model": rest, **options}
    return MemoryOptions(**options).build_backend()


#: The registry entry tests patch into ``multirerank.registry.PROVIDERS``.
REGISTRY_TARGET = f"{__name__}:from_model_string"
