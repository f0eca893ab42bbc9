"""The engine's one entry point: check, split, send concurrently, merge, cut.

Both framework adapters and the CLI call :class:`Reranker`; no behaviour of a rerank call lives
anywhere else.

Concurrency: ``max_concurrency`` bounds the requests in flight for one call. Calls do not share
slots, so concurrent callers (threads or tasks) never wait for each other; what is shared is the
reranker's thread pool (:data:`POOL_THREADS` threads at most, started as needed), which runs
sync SDK requests: a split list's requests for sync callers, and every request of async callers
whose backend has no async client. Waits between attempts (back-off, ``Retry-After``) hold no
slot and no pool thread.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from multirerank.backends.base import Backend
from multirerank.engine.answers import merge
from multirerank.engine.inputs import Chunk, Plan, plan_call, request_top_n
from multirerank.engine.retries import DEFAULT_RETRY_BUDGET, CallRetries
from multirerank.errors import ConfigurationError
from multirerank.types import BatchResult, DocumentInput, RerankResponse

T = TypeVar("T")

#: Called with the number of documents each finished request carried (for progress bars).
ProgressCallback = Callable[[int], None]

#: The most threads one reranker's pool runs at once: enough for dozens of concurrent callers.
POOL_THREADS = 64



class Reranker:
    """Reranks documents through one backend.

    ``backend`` is a :class:`~multirerank.backends.base.Backend` or a model string such as
    ``"local"`` or ``"bedrock/cohere.rerank-v3-5:0"``; ``backend_options`` go to the backend a
    model string names. ``max_concurrency`` bounds the requests in flight for one call (the
    backend's own default otherwise); ``max_retries`` bounds retries of each request after a
    retryable failure other than throttling, and throttled requests are retried while the
    call's ``retry_budget`` (seconds of waiting, default 30) lasts. ``normalize_scores=True``
    maps every score into 0..1 (see :mod:`multirerank.scales`), so one threshold means the same
    whatever the vendor; the ranking is unchanged. Raises :class:`ConfigurationError` for a
    backend or setting it cannot use.
    """

    def __init__(
        self,
        backend: Backend | str,
        *,
        max_concurrency: int | None = None,
        max_retries: int | None = None,
        retry_budget: float | None = None,
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
        self.backend = backend
        self.max_concurrency = _setting("max_concurrency", backend.max_concurrency, max_concurrency, minimum=1)
        self.max_retries = _setting("max_retries", backend.max_retries, max_retries, minimum=0)
        self.retry_budget = _budget(retry_budget)
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
        ids: Sequence[str | None] | None = None,
        skip_blank: bool = False,
    ) -> RerankResponse:
        """Rank ``documents`` by relevance to ``query``, best first.

        ``documents`` holds texts or JSON mappings; ``ids`` optionally gives each an id (or
        ``None``): documents repeating an earlier id are scored and returned once, and APIs that
        take ids receive them. Each result's ``index`` is the document's position in
        ``documents``. ``top_n=None`` returns every document; a ``top_n`` above the
        number of documents returns them all. ``score_threshold`` drops results scoring below
        it. A blank document is a :class:`RerankInputError` naming its index, or with
        ``skip_blank=True`` (as retriever pipelines want) is left out, and a list with nothing
        left returns an empty response without a request.
        """
        started = time.perf_counter()
        plan = plan_call(
            self.backend, query, documents, top_n, score_threshold, ids=ids, skip_blank=skip_blank
        )
        batches = self._send(plan, progress)
        return self._merge(plan, batches, return_documents, started)

    async def arerank(
        self,
        query: str,
        documents: Sequence[DocumentInput],
        top_n: int | None = None,
        *,
        score_threshold: float | None = None,
        return_documents: bool = False,
        progress: ProgressCallback | None = None,
        ids: Sequence[str | None] | None = None,
        skip_blank: bool = False,
    ) -> RerankResponse:
        """The non-blocking twin of :meth:`rerank`.

        Backends with an async client are awaited directly; the others run on this reranker's
        own thread pool, so the event loop never blocks and its default executor is left alone.
        """
        started = time.perf_counter()
        plan = plan_call(
            self.backend, query, documents, top_n, score_threshold, ids=ids, skip_blank=skip_blank
        )
        batches = await self._asend(plan, progress)
        return self._merge(plan, batches, return_documents, started)

    def count_requests(self, query: str, documents: Sequence[DocumentInput]) -> int:
        """How many requests :meth:`rerank` would send for these inputs (checked as it checks them)."""
        return len(plan_call(self.backend, query, documents, None, None, skip_blank=False).chunks)

    def with_backend(self, backend: Backend) -> Reranker:
        """A reranker over ``backend`` with this one's settings and thread pool.

        For a per-call variant of this reranker's backend (vendor fields for one request); the
        twin starts no threads of its own, so making one per call costs nothing to clean up.
        """
        twin = Reranker(
            backend,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            retry_budget=self.retry_budget,
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

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- sending --------------------------------------------------------------------------------

    def _send(self, plan: Plan, progress: ProgressCallback | None) -> list[BatchResult]:
        """Every chunk's answer, in order. One request runs in the caller's thread; a split list
        runs on the pool, at most ``max_concurrency`` at a time, while this thread schedules
        retries and does their waiting."""
        chunks = plan.chunks
        if not chunks:
            return []
        retries = CallRetries(self.backend, self.max_retries, self.retry_budget)
        if len(chunks) == 1:
            while True:
                try:
                    result = self._request(plan, chunks[0])
                except Exception as error:
                    delay = retries.delay(error, 0)
                    if delay is None:
                        raise
                    time.sleep(delay)
                    continue
                _report(progress, chunks[0])
                return [result]
        results: list[BatchResult | None] = [None] * len(chunks)
        ready = deque(range(len(chunks)))
        waiting: list[tuple[float, int]] = []
        running: dict[Future[BatchResult], int] = {}
        pool = self._pool()
        try:
            while ready or waiting or running:
                now = time.monotonic()
                while waiting and waiting[0][0] <= now:
                    ready.append(heapq.heappop(waiting)[1])
                while ready and len(running) < self.max_concurrency:
                    number = ready.popleft()
                    running[pool.submit(self._request, plan, chunks[number])] = number
                timeout = max(0.0, waiting[0][0] - now) if waiting else None
                if not running:
                    time.sleep(timeout or 0.0)
                    continue
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    number = running.pop(future)
                    failure = future.exception()
                    if failure is None:
                        results[number] = future.result()
                        _report(progress, chunks[number])
                        continue
                    delay = retries.delay(failure, number)
                    if delay is None:
                        raise failure
                    heapq.heappush(waiting, (time.monotonic() + delay, number))
        finally:
            for future in running:
                future.cancel()
        return results  # type: ignore[return-value]

    async def _asend(self, plan: Plan, progress: ProgressCallback | None) -> list[BatchResult]:
        """The non-blocking twin of :meth:`_send`: a task per chunk, a slot held only while a
        request is in flight."""
        chunks = plan.chunks
        if not chunks:
            return []
        retries = CallRetries(self.backend, self.max_retries, self.retry_budget)
        slots = asyncio.Semaphore(self.max_concurrency)
        call = self._arequest if self.backend.has_native_async else self._request_on_pool

        async def run(number: int) -> BatchResult:
            while True:
                async with slots:
                    try:
                        result = await call(plan, chunks[number])
                    except Exception as error:
                        delay = retries.delay(error, number)
                        if delay is None:
                            raise
                    else:
                        _report(progress, chunks[number])
                        return result
                await asyncio.sleep(delay)

        if len(chunks) == 1:
            return [await run(0)]
        return await _gather_or_cancel([run(number) for number in range(len(chunks))])

    def _request(self, plan: Plan, chunk: Chunk) -> BatchResult:
        return self.backend.rerank_batch(plan.query, chunk.documents, request_top_n(plan, len(chunk.documents)))

    async def _arequest(self, plan: Plan, chunk: Chunk) -> BatchResult:
        return await self.backend.arerank_batch(plan.query, chunk.documents, request_top_n(plan, len(chunk.documents)))

    async def _request_on_pool(self, plan: Plan, chunk: Chunk) -> BatchResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), functools.partial(self._request, plan, chunk))

    def _merge(
        self, plan: Plan, batches: list[BatchResult], return_documents: bool, started: float
    ) -> RerankResponse:
        return merge(
            self.backend,
            plan,
            batches,
            normalize_scores=self.normalize_scores,
            return_documents=return_documents,
            started=started,
        )

    # -- the pool -------------------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        if self._pool_owner is not None:
            return self._pool_owner._pool()
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=POOL_THREADS, thread_name_prefix=f"multirerank-{self.provider}"
                )
            return self._executor

    def _shutdown_pool(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _report(progress: ProgressCallback | None, chunk: Chunk) -> None:
    if progress is not None:
        progress(len(chunk.documents))


def _setting(name: str, default: int, value: object, *, minimum: int) -> int:
    """A reranker-level integer setting, checked so a wrong type names the setting."""
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


def _budget(value: object) -> float:
    if value is None:
        return DEFAULT_RETRY_BUDGET
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError("retry_budget must be a number of seconds, at least 0")
    return float(value)


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
