"""The engine: validate, split over per-request limits, send concurrently, merge, cut.

Both framework adapters and the CLI call :class:`Reranker`; no behaviour of a rerank call lives
anywhere else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError, RerankError, RerankInputError
from multirerank.scales import to_probability
from multirerank.types import BatchResult, DocumentInput, RerankResponse, RerankResult, Usage
from multirerank.validation import (
    check_batch,
    check_documents,
    check_query,
    check_score_threshold,
    check_top_n,
    fit_documents,
    fit_query,
)

T = TypeVar("T")

#: Called with the number of documents each finished request carried (for progress bars).
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class _Chunk:
    offset: int
    documents: list[DocumentInput]

    def top_n(self, wanted: int | None) -> int | None:
        """How many results to ask this request for: never more than it carries."""
        return None if wanted is None else min(wanted, len(self.documents))


@dataclass(frozen=True)
class _Plan:
    """One call, checked and split: what every request needs and what the merge needs."""

    query: str
    originals: list[DocumentInput]
    chunks: list[_Chunk]
    top_n: int | None
    threshold: float | None
    started: float

    @property
    def batch_top_n(self) -> int | None:
        # With a threshold, a request's best few may all fall below it while others pass:
        # ask for everything then, and cut after the merge.
        return None if self.threshold is not None else self.top_n


class Reranker:
    """Reranks documents through one backend.

    ``backend`` is a :class:`~multirerank.backends.base.Backend` or a model string such as
    ``"local"`` or ``"bedrock/cohere.rerank-v3-5:0"``; ``backend_options`` go to the backend a
    model string names. ``max_concurrency`` bounds the requests in flight for one call (the
    backend's own default otherwise); ``max_retries`` retries errors marked retryable.
    ``normalize_scores=True`` maps every score into 0..1 (see :mod:`multirerank.scales`), so one
    threshold means the same whatever the vendor; the ranking is unchanged.
    """

    def __init__(
        self,
        backend: Backend | str,
        *,
        max_concurrency: int | None = None,
        max_retries: int | None = None,
        normalize_scores: bool = False,
        **backend_options: Any,
    ) -> None:
        if isinstance(backend, str):
            from multirerank.registry import backend_from_model

            backend = backend_from_model(backend, **backend_options)
        elif backend_options:
            raise ConfigurationError(
                f"options {sorted(backend_options)} only apply when the backend is given as a model string"
            )
        if not isinstance(backend, Backend):
            raise ConfigurationError(
                f"backend must be a Backend or a model string, got {type(backend).__name__}"
            )
        concurrency = _setting("max_concurrency", backend.max_concurrency, max_concurrency, minimum=1)
        retries = _setting("max_retries", backend.max_retries, max_retries, minimum=0)
        self.backend = backend
        self.max_concurrency = concurrency
        self.max_retries = retries
        self.normalize_scores = normalize_scores
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        # A twin made by with_backend borrows this reranker's pool instead of starting its own.
        self._pool_owner: Reranker | None = None

    @property
    def provider(self) -> str:
        return self.backend.provider

    @property
    def model(self) -> str:
        return self.backend.model

    def __repr__(self) -> str:
        return f"Reranker({self.backend!r}, max_concurrency={self.max_concurrency})"

    # -- public API ---------------------------------------------------------------------------

    def rerank(
        self,
        query: str,
        documents: Sequence[DocumentInput],
        top_n: int | None = None,
        *,
        score_threshold: float | None = None,
        return_documents: bool = False,
        progress: ProgressCallback | None = None,
    ) -> RerankResponse:
        """Rank ``documents`` by relevance to ``query``, best first.

        ``top_n=None`` returns every document; a ``top_n`` above the number of documents returns
        them all. ``score_threshold`` drops results scoring below it.
        """
        plan = self._plan(query, documents, top_n, score_threshold)

        def run(chunk: _Chunk) -> BatchResult:
            result = self._with_retries(
                lambda: self.backend.rerank_batch(plan.query, chunk.documents, chunk.top_n(plan.batch_top_n))
            )
            if progress is not None:
                progress(len(chunk.documents))
            return result

        # One request runs in the caller's thread; only a split list needs the pool.
        chunks = plan.chunks
        batches = [run(chunks[0])] if len(chunks) == 1 else self._map_in_threads(run, chunks)
        return self._merge(plan, batches, return_documents)

    async def arerank(
        self,
        query: str,
        documents: Sequence[DocumentInput],
        top_n: int | None = None,
        *,
        score_threshold: float | None = None,
        return_documents: bool = False,
        progress: ProgressCallback | None = None,
    ) -> RerankResponse:
        """The non-blocking twin of :meth:`rerank`.

        Backends with an async client are awaited directly; the others run on this reranker's
        own bounded thread pool, so the event loop never blocks and its default executor is
        left alone.
        """
        plan = self._plan(query, documents, top_n, score_threshold)
        semaphore = asyncio.Semaphore(self.max_concurrency)
        loop = asyncio.get_running_loop()
        native = self.backend.has_native_async

        async def call(chunk: _Chunk) -> BatchResult:
            chunk_top_n = chunk.top_n(plan.batch_top_n)
            if native:
                return await self.backend.arerank_batch(plan.query, chunk.documents, chunk_top_n)
            return await loop.run_in_executor(
                self._pool(),
                functools.partial(self.backend.rerank_batch, plan.query, chunk.documents, chunk_top_n),
            )

        async def run(chunk: _Chunk) -> BatchResult:
            async with semaphore:
                result = await self._with_async_retries(lambda: call(chunk))
            if progress is not None:
                progress(len(chunk.documents))
            return result

        batches = await _gather_or_cancel([run(chunk) for chunk in plan.chunks])
        return self._merge(plan, batches, return_documents)

    def count_requests(self, query: str, documents: Sequence[DocumentInput]) -> int:
        """How many requests :meth:`rerank` would send for these inputs (checked as it checks them)."""
        return len(self._plan(query, documents, None, None).chunks)

    def with_backend(self, backend: Backend) -> Reranker:
        """A reranker over ``backend`` with this one's settings and thread pool.

        For a per-call variant of this reranker's backend (vendor fields for one request); the
        twin starts no threads of its own, so making one per call costs nothing to clean up.
        """
        twin = Reranker(
            backend,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            normalize_scores=self.normalize_scores,
        )
        twin._pool_owner = self
        return twin

    def close(self) -> None:
        """Shut the thread pool and the backend's clients."""
        self._shutdown_pool()
        self.backend.close()

    async def aclose(self) -> None:
        self._shutdown_pool()
        await self.backend.aclose()

    def _shutdown_pool(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- steps --------------------------------------------------------------------------------

    def _plan(self, query: object, documents: object, top_n: object, score_threshold: object) -> _Plan:
        """Every input checked, texts fitted to the backend (cut when it truncates), and split."""
        started = time.perf_counter()
        checked_query = fit_query(check_query(query), self.backend)
        originals = check_documents(documents)
        sent = fit_documents(originals, self.backend)
        return _Plan(
            query=checked_query,
            originals=originals,
            chunks=self._split(checked_query, sent),
            top_n=check_top_n(top_n),
            threshold=check_score_threshold(score_threshold),
            started=started,
        )

    def _split(self, query: str, documents: list[DocumentInput]) -> list[_Chunk]:
        """Chunks that respect the backend's count and byte limits, as even in size as possible."""
        limits = self.backend.limits
        per_request = limits.max_documents or len(documents)
        count = math.ceil(len(documents) / per_request)
        base, extra = divmod(len(documents), count)
        chunks: list[_Chunk] = []
        offset = 0
        for number in range(count):
            size = base + (1 if number < extra else 0)
            chunks.append(_Chunk(offset, documents[offset : offset + size]))
            offset += size
        if limits.max_request_cost is None:
            return chunks
        budget = limits.max_request_cost
        return [piece for chunk in chunks for piece in self._split_by_cost(query, chunk, budget)]

    def _split_by_cost(self, query: str, chunk: _Chunk, budget: int) -> Iterator[_Chunk]:
        """Pieces of ``chunk`` whose cost, as the backend counts it, stays within ``budget``."""
        backend = self.backend
        overhead = backend.request_overhead(query)
        if overhead >= budget:
            raise RerankInputError(
                f"the query alone costs {overhead} {backend.cost_unit}; "
                f"{backend.provider} accepts at most {budget} {backend.cost_unit} per request"
            )
        start = chunk.offset
        current: list[DocumentInput] = []
        used = overhead
        for position, document in enumerate(chunk.documents, start=chunk.offset):
            cost = backend.document_cost(query, document)
            if overhead + cost > budget:
                raise RerankInputError.for_document(
                    "document at index {index} costs {cost} {unit}; with the query it exceeds "
                    "the {budget} {unit} {provider} accepts per request",
                    position,
                    cost=cost,
                    unit=backend.cost_unit,
                    budget=budget,
                    provider=backend.provider,
                )
            if current and used + cost > budget:
                yield _Chunk(start, current)
                start, current, used = position, [], overhead
            current.append(document)
            used += cost
        if current:
            yield _Chunk(start, current)

    def _merge(self, plan: _Plan, batches: list[BatchResult], return_documents: bool) -> RerankResponse:
        usage = Usage()
        scored: list[tuple[int, float]] = []
        for chunk, batch in zip(plan.chunks, batches, strict=True):
            checked = check_batch(batch, len(chunk.documents), self.backend.provider)
            # A batch is at least one request; pages or path fallbacks make more, and the
            # backend that made them says how many.
            usage = usage + dataclasses.replace(checked.usage, requests=max(1, checked.usage.requests))
            scored.extend((chunk.offset + int(index), float(score)) for index, score in checked.scores)
        scale = self.backend.score_scale
        if self.normalize_scores and scale != "probability":
            scored = [(index, to_probability(score, scale)) for index, score in scored]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        if plan.threshold is not None:
            scored = [pair for pair in scored if pair[1] >= plan.threshold]
        if plan.top_n is not None:
            scored = scored[: plan.top_n]
        results = [
            RerankResult(index, score, plan.originals[index] if return_documents else None)
            for index, score in scored
        ]
        return RerankResponse(
            results=results,
            provider=self.backend.provider,
            model=self.backend.model,
            score_scale="probability" if self.normalize_scores else scale,
            usage=usage,
            elapsed_seconds=time.perf_counter() - plan.started,
            metadata={**self.backend.describe(), "backend_score_scale": scale},
        )

    # -- execution ----------------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        if self._pool_owner is not None:
            return self._pool_owner._pool()
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix=f"multirerank-{self.provider}"
                )
            return self._executor

    def _map_in_threads(self, function: Callable[[_Chunk], T], chunks: list[_Chunk]) -> list[T]:
        futures: list[Future[T]] = [self._pool().submit(function, chunk) for chunk in chunks]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((future for future in futures if future in done and future.exception()), None)
        if failed is not None:
            for future in pending:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
        return [future.result() for future in futures]

    def _retry_options(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "retry": retry_if_exception(self._worth_retrying),
            "wait": _wait_for_retry,
            "reraise": True,
        }

    def _worth_retrying(self, error: BaseException) -> bool:
        # A vendor asking for a longer pause than we would wait (a daily quota, say) fails now
        # rather than holding a request slot for minutes and failing anyway.
        return (
            isinstance(error, RerankError)
            and self.backend.should_retry(error)
            and (error.retry_after is None or error.retry_after <= MAX_RETRY_AFTER)
        )

    def _with_retries(self, call: Callable[[], T]) -> T:
        if self.max_retries == 0:
            return call()
        for attempt in Retrying(**self._retry_options()):
            with attempt:
                return call()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _with_async_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.max_retries == 0:
            return await call()
        async for attempt in AsyncRetrying(**self._retry_options()):
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover


#: The longest ``Retry-After`` the engine waits for; a vendor asking for more fails at once.
MAX_RETRY_AFTER = 60.0

_backoff = wait_exponential_jitter(multiplier=0.5, max=8.0)


def _wait_for_retry(state: RetryCallState) -> float:
    """The vendor's ``Retry-After`` when it sent one, exponential back-off with jitter otherwise."""
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, RerankError) and error.retry_after is not None:
        return max(error.retry_after, 0.0)
    return float(_backoff(state))


def _setting(name: str, default: int, value: object, *, minimum: int) -> int:
    """A reranker-level integer setting, checked so a wrong type names the setting."""
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


async def _gather_or_cancel(awaitables: list[Awaitable[T]]) -> list[T]:
    """Like ``asyncio.gather``, but the first failure cancels the requests still running."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
