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
import contextvars
import functools
import heapq
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, NoReturn, TypeVar

from multirerank.backends.base import Backend
from multirerank.cache.base import ScoreCache, resolve_cache
from multirerank.engine.answers import billed, merge, rank
from multirerank.engine.cached import CachedCall, uses_cache
from multirerank.engine.inputs import Chunk, Plan, plan_call, request_top_n, strict_float
from multirerank.engine.retries import DEFAULT_RETRY_BUDGET, CallRetries
from multirerank.engine.routed import Call, ProgressCallback, arun_routed, is_router, run_routed
from multirerank.errors import ConfigurationError, RerankError, RerankTimeoutError
from multirerank.prices import Price, check_prices, price_for, region_of
from multirerank.redaction import scrub_failure
from multirerank.routing import rate_limit_of
from multirerank.tracing import request_answered, traced_call, traced_request
from multirerank.types import BatchResult, DocumentInput, RerankResponse, Usage

T = TypeVar("T")


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
    whatever the vendor; the ranking is unchanged. ``cache`` keeps scores for repeated calls
    (``True``: in memory; ``"sqlite:///path"``, ``"redis://..."`` or a
    :class:`~multirerank.cache.ScoreCache`; see :mod:`multirerank.engine.cached`). With
    OpenTelemetry installed each call is a span (:mod:`multirerank.tracing`);
    ``trace_content=False`` keeps the query and document texts off it. ``prices`` adds or
    overrides list prices for ``response.usage.cost_usd``: ``{"provider/model": Price |
    {"usd": 2.0, "per": "1k_searches"} | None}`` (see :mod:`multirerank.prices`). Raises
    :class:`ConfigurationError` for a backend or setting it cannot use.
    """

    #: The score cache, or None (set from ``cache=``).
    cache: ScoreCache | None
    _owns_cache: bool

    def __init__(
        self,
        backend: Backend | str,
        *,
        max_concurrency: int | None = None,
        max_retries: int | None = None,
        retry_budget: float | None = None,
        normalize_scores: bool = False,
        deadline: float | None = None,
        rate_limit: str | Mapping[str, str] | None = None,
        rate_limit_storage: str | None = None,
        fallbacks: Sequence[Any] | None = None,
        trace_content: bool = True,
        cache: bool | str | ScoreCache | None = None,
        prices: Mapping[str, Price | Mapping[str, Any] | None] | None = None,
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
        if fallbacks is not None and (isinstance(fallbacks, (str, Mapping)) or not isinstance(fallbacks, Sequence)):
            raise ConfigurationError("fallbacks must be a list of model strings, mappings or backends")
        if fallbacks:
            from multirerank.routing import Router, check_fallback_instructions

            if isinstance(backend, Router):
                raise ConfigurationError("fallbacks cannot be combined with a Router: list them among its routes")

            backend = Router([backend, *fallbacks], strategy="fallback")
            check_fallback_instructions(backend)
        self.backend = backend
        self.max_concurrency = _setting("max_concurrency", backend.max_concurrency, max_concurrency, minimum=1)
        self.max_retries = _setting("max_retries", backend.max_retries, max_retries, minimum=0)
        self.retry_budget = _budget(retry_budget)
        self.normalize_scores = normalize_scores
        self.deadline = None if deadline is None else _seconds("deadline", deadline, positive=True)
        self.rate_limit = rate_limit
        self.rate_limit_storage = rate_limit_storage
        #: Whether OpenTelemetry spans carry the query and document texts (see multirerank.tracing).
        self.trace_content = trace_content
        # Resolved to a store (or None) by __setattr__, as later assignments are.
        self.cache = cache  # type: ignore[assignment]
        #: The caller's prices, checked (on assignment too): ``"provider/model"`` -> Price or None.
        self.prices: dict[str, Price | None] = prices  # type: ignore[assignment]
        # What was asked for, not the backend's defaults: each route of a router has its own.
        self._asked: dict[str, Any] = {"max_concurrency": max_concurrency, "max_retries": max_retries}
        #: Client-side rate limits every request of this reranker waits for.
        self._limits: tuple[Any, ...] = (
            (rate_limit_of(rate_limit, rate_limit_storage, backend),) if rate_limit else ()
        )
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        # A twin made by with_backend borrows this reranker's pool instead of starting its own.
        self._pool_owner: Reranker | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Settings changed after construction pass the constructor's checks, or leave the old value.
        if name in ("max_concurrency", "max_retries") and hasattr(self, "backend"):
            default = getattr(self.backend, name)
            value = _setting(name, default, value, minimum=1 if name == "max_concurrency" else 0)
        elif name == "retry_budget" and hasattr(self, "backend"):
            value = _budget(value)
        elif name == "deadline" and hasattr(self, "backend") and value is not None:
            value = _seconds("deadline", value, positive=True)
        elif name == "cache":
            # A store made here from True or a URL is this reranker's to close; one given is not.
            owned = value is True or isinstance(value, str)
            value = resolve_cache(value)
            super().__setattr__("_owns_cache", owned)
        elif name in ("trace_content", "normalize_scores") and not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, got {type(value).__name__}")
        elif name == "prices":
            value = check_prices(value)
        super().__setattr__(name, value)
        if name in ("prices", "backend"):
            self.__dict__.pop("price", None)

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
        call = Call(query, documents, top_n, score_threshold, ids, skip_blank, return_documents, progress)
        until = self._until()
        traced = traced_call(self.backend, call, self.trace_content)
        if traced is None:  # the usual call: no tracer provider set
            return self._dispatch(call, until)
        with traced as trace:
            response = self._dispatch(call, until)
            trace.finished(response, call)
            return response

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
        call = Call(query, documents, top_n, score_threshold, ids, skip_blank, return_documents, progress)
        until = self._until()
        traced = traced_call(self.backend, call, self.trace_content)
        if traced is None:
            return await self._adispatch(call, until)
        with traced as trace:
            response = await self._adispatch(call, until)
            trace.finished(response, call)
            return response

    def _dispatch(self, call: Call, until: float | None) -> RerankResponse:
        return run_routed(self, call, until) if is_router(self.backend) else self._run(call, until)

    async def _adispatch(self, call: Call, until: float | None) -> RerankResponse:
        if is_router(self.backend):
            # Each route is held to the deadline there, so that the error lists the routes tried.
            return await arun_routed(self, call, until)
        return await self._arun_within(call, until)

    def _run(self, call: Call, until: float | None) -> RerankResponse:
        """One call through this reranker's own backend."""
        started = time.perf_counter()
        plan = call.plan(self.backend, self.max_concurrency)
        if uses_cache(self.cache, self.backend):
            cached = CachedCall(self.cache, self.backend, plan)
            cached.look_up()
            _report_cached(call.progress, cached)
            scored, usage = cached.combine(self._send(cached.to_send, call.progress, until), self.price)
            cached.store()
            return self._rank(plan, scored, usage, call.return_documents, started)
        return self._merge(plan, self._send(plan, call.progress, until), call.return_documents, started)

    async def _arun_within(self, call: Call, until: float | None) -> RerankResponse:
        """:meth:`_arun`, its requests cancelled when ``until`` (a ``time.monotonic()`` time)
        passes, and then the deadline's RerankTimeoutError."""
        if until is None:
            return await self._arun(call, until)
        sending: list[tuple[Plan, list[BatchResult | None]]] = []
        try:
            return await asyncio.wait_for(self._arun(call, until, sending), max(0.0, until - time.monotonic()))
        except asyncio.TimeoutError:
            timeout = deadline_error(self.deadline, self.provider)
            # The requests answered before the deadline were billed, as the sync twin reports.
            timeout.usage = billed(*sending[0], self.price) if sending else Usage(cost_usd=0.0)
            raise timeout from None

    async def _arun(
        self, call: Call, until: float | None, sending: list[tuple[Plan, list[BatchResult | None]]] | None = None
    ) -> RerankResponse:
        started = time.perf_counter()
        plan = call.plan(self.backend, self.max_concurrency)
        if uses_cache(self.cache, self.backend):
            cached = CachedCall(self.cache, self.backend, plan)
            await cached.alook_up()
            _report_cached(call.progress, cached)
            answers = await self._asend(cached.to_send, call.progress, until, sending)
            scored, usage = cached.combine(answers, self.price)
            await cached.astore()
            return self._rank(plan, scored, usage, call.return_documents, started)
        batches = await self._asend(plan, call.progress, until, sending)
        return self._merge(plan, batches, call.return_documents, started)

    def _until(self) -> float | None:
        return None if self.deadline is None else time.monotonic() + self.deadline

    def count_requests(self, query: str, documents: Sequence[DocumentInput]) -> int:
        """How many requests :meth:`rerank` would send for these inputs (checked as it checks them)."""
        plan = plan_call(
            self.backend, query, documents, None, None, skip_blank=False, concurrency=self.max_concurrency
        )
        return len(plan.chunks)

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
            deadline=self.deadline,
            trace_content=self.trace_content,
            cache=self.cache,
            prices=self.prices,
        )
        twin._pool_owner = self
        twin._limits = self._limits
        return twin

    def for_route(
        self, backend: Backend, limits: tuple[Any, ...], *, normalize: bool, last: bool
    ) -> Reranker:
        """The reranker one route of this reranker's router runs a call with: the settings asked
        for here (the route's backend's defaults otherwise), this pool, the route's rate limits.
        Only the last route retries: for the others, the next route is the retry, so a failing
        route costs one request, not several, and a throttled one no waiting."""
        twin = Reranker(
            backend,
            max_concurrency=self._asked["max_concurrency"],
            max_retries=self._asked["max_retries"] if last else 0,
            retry_budget=self.retry_budget,
            normalize_scores=self.normalize_scores or normalize,
            deadline=self.deadline,
            trace_content=self.trace_content,
            cache=self.cache,  # keyed by the route's backend, which scores
            prices=self.prices,
        )
        twin._pool_owner = self
        twin._limits = (*limits, *self._limits)
        return twin

    def close(self) -> None:
        """Shut the thread pool, the backend's clients, and a score cache this reranker made."""
        self._shutdown_pool()
        self.backend.close()
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    async def aclose(self) -> None:
        self._shutdown_pool()
        await self.backend.aclose()
        if self._owns_cache and self.cache is not None:
            await self.cache.aclose()

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- sending --------------------------------------------------------------------------------

    def _send(self, plan: Plan, progress: ProgressCallback | None, until: float | None) -> list[BatchResult]:
        """Every chunk's answer, in order. One request runs in the caller's thread (unless a
        deadline needs a thread to stop waiting for); a split list runs on the pool, at most
        ``max_concurrency`` at a time, while this thread schedules retries and does their
        waiting. Past ``until`` (a ``time.monotonic()`` time), a RerankTimeoutError."""
        chunks = plan.chunks
        if not chunks:
            return []
        if len(chunks) == 1 and until is None:
            retries = None  # made on a first failure: most calls never need one
            while True:
                try:
                    result = self._request(plan, chunks[0], None)
                except Exception as error:
                    if retries is None:
                        retries = CallRetries(self.backend, self.max_retries, self.retry_budget)
                    delay = retries.delay(error, 0)
                    if delay is None:
                        self._give_up(retries, error, plan, [])
                    time.sleep(delay)
                    continue
                _report(progress, chunks[0])
                return [result]
        retries = CallRetries(self.backend, self.max_retries, self.retry_budget, until=until)
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
                    # In a copy of this context: the request's span is a child of the call's.
                    request = contextvars.copy_context().run
                    running[pool.submit(request, self._request, plan, chunks[number], until)] = number
                timeout = max(0.0, waiting[0][0] - now) if waiting else None
                if until is not None:
                    if now >= until:
                        self._give_up(retries, deadline_error(self.deadline, self.provider), plan, results)
                    timeout = min(until - now, timeout if timeout is not None else until - now)
                if not running:
                    time.sleep(timeout or 0.0)
                    continue
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                # Answers first, so a failure giving up the call still counts what they billed.
                for future in sorted(done, key=lambda future: future.exception() is not None):
                    number = running.pop(future)
                    failure = future.exception()
                    if failure is None:
                        results[number] = future.result()
                        _report(progress, chunks[number])
                        continue
                    delay = retries.delay(failure, number)
                    if delay is None:
                        self._give_up(retries, failure, plan, results)
                    heapq.heappush(waiting, (time.monotonic() + delay, number))
        finally:
            for future in running:
                future.cancel()
        return results  # type: ignore[return-value]

    async def _asend(
        self,
        plan: Plan,
        progress: ProgressCallback | None,
        until: float | None,
        sending: list[tuple[Plan, list[BatchResult | None]]] | None = None,
    ) -> list[BatchResult]:
        """The non-blocking twin of :meth:`_send`: a task per chunk, a slot held only while a
        request is in flight (the caller's ``wait_for`` enforces the deadline; ``sending``, when
        given, receives the plan and its answers so far, for the usage of a call cut short)."""
        chunks = plan.chunks
        if not chunks:
            return []
        retries = CallRetries(self.backend, self.max_retries, self.retry_budget, until=until)
        answered: list[BatchResult | None] = [None] * len(chunks)
        if sending is not None:
            sending.append((plan, answered))
        slots = asyncio.Semaphore(self.max_concurrency)
        call = self._arequest if self.backend.has_native_async else self._request_on_pool

        async def run(number: int) -> BatchResult:
            while True:
                async with slots:
                    try:
                        result = await call(plan, chunks[number], until)
                    except Exception as error:
                        delay = retries.delay(error, number)
                        if delay is None:
                            self._give_up(retries, error, plan, answered)
                    else:
                        answered[number] = result
                        _report(progress, chunks[number])
                        return result
                await asyncio.sleep(delay)

        if len(chunks) == 1:
            return [await run(0)]
        return await _gather_or_cancel([run(number) for number in range(len(chunks))])

    # Every backend call goes through these two (the pool runs _request), and so every exception
    # leaving one passes through scrub_failure: the backend's secrets show nowhere in it. A
    # stand-in is raised after the handler, so the original is not chained to it as context.

    def _give_up(
        self, retries: CallRetries, error: BaseException, plan: Plan, answered: Sequence[BatchResult | None]
    ) -> NoReturn:
        """Raise ``error``, or the deadline's RerankTimeoutError when it stopped the retries,
        carrying the ``usage`` of the requests already ``answered`` (the vendor billed them)."""
        if retries.out_of_time:
            timeout = deadline_error(self.deadline, self.provider, before_retry=True)
            timeout.usage = billed(plan, answered, self.price)
            raise timeout from error
        if isinstance(error, RerankError):
            error.usage = billed(plan, answered, self.price)
        raise error

    def _request(self, plan: Plan, chunk: Chunk, until: float | None) -> BatchResult:
        for limit in self._limits:
            limit.acquire(requests=1, documents=len(chunk.documents), deadline=until)
        return self._call_backend(plan, chunk)

    def _call_backend(self, plan: Plan, chunk: Chunk) -> BatchResult:
        traced = traced_request(self.backend, plan.query, chunk.documents, chunk.offset)
        if traced is None:
            return self._scrubbed_call(plan, chunk)
        # The span sees the scrubbed failure, so that it records no secret either.
        with traced as span:
            return request_answered(span, self._scrubbed_call(plan, chunk))

    def _scrubbed_call(self, plan: Plan, chunk: Chunk) -> BatchResult:
        try:
            return self.backend.rerank_batch(plan.query, chunk.documents, request_top_n(plan, len(chunk.documents)))
        except Exception as error:
            failure = scrub_failure(error, self.backend)
            if failure is error:
                raise
        raise failure

    async def _await_limits(self, chunk: Chunk, until: float | None) -> None:
        """Wait until every rate limit of this reranker has room for ``chunk``'s request."""
        for limit in self._limits:
            await limit.aacquire(requests=1, documents=len(chunk.documents), deadline=until)

    async def _arequest(self, plan: Plan, chunk: Chunk, until: float | None) -> BatchResult:
        await self._await_limits(chunk, until)
        traced = traced_request(self.backend, plan.query, chunk.documents, chunk.offset)
        if traced is None:
            return await self._ascrubbed_call(plan, chunk)
        with traced as span:
            return request_answered(span, await self._ascrubbed_call(plan, chunk))

    async def _ascrubbed_call(self, plan: Plan, chunk: Chunk) -> BatchResult:
        try:
            return await self.backend.arerank_batch(
                plan.query, chunk.documents, request_top_n(plan, len(chunk.documents))
            )
        except Exception as error:
            failure = scrub_failure(error, self.backend)
            if failure is error:
                raise
        raise failure

    async def _request_on_pool(self, plan: Plan, chunk: Chunk, until: float | None) -> BatchResult:
        await self._await_limits(chunk, until)
        loop = asyncio.get_running_loop()
        # In a copy of this context: the request's span is a child of the call's.
        request = functools.partial(contextvars.copy_context().run, self._call_backend, plan, chunk)
        return await loop.run_in_executor(self._pool(), request)

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
            price=self.price,
        )

    def _rank(
        self,
        plan: Plan,
        scored: list[tuple[int, float]],
        usage: Usage,
        return_documents: bool,
        started: float,
    ) -> RerankResponse:
        return rank(
            self.backend,
            plan,
            scored,
            usage,
            normalize_scores=self.normalize_scores,
            return_documents=return_documents,
            started=started,
        )

    @functools.cached_property
    def price(self) -> Price | None:
        """The price ``usage.cost_usd`` is computed at: :attr:`prices`, then the list prices
        (looked up once, and again after ``prices`` or ``backend`` is assigned)."""
        backend = self.backend
        region = region_of(backend.provider, backend.describe())
        return price_for(backend.provider, backend.model, self.prices, region=region)

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


def _report_cached(progress: ProgressCallback | None, cached: CachedCall) -> None:
    """Documents the cache scored are done before any request."""
    if progress is not None and cached.hits:
        progress(len(cached.hits))


def _report(progress: ProgressCallback | None, chunk: Chunk) -> None:
    if progress is not None:
        progress(len(chunk.documents))


def _setting(name: str, default: int, value: object, *, minimum: int) -> int:
    """A reranker-level integer setting, checked so a wrong type names the setting.

    The rule of the framework classes' strict integer fields: a bool, a float such as 2.0 or a
    string such as "3" is refused, not converted.
    """
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


def _seconds(name: str, value: object, *, positive: bool) -> float:
    seconds = strict_float(value)
    if seconds is None or not math.isfinite(seconds) or not (seconds > 0 if positive else seconds >= 0):
        raise ConfigurationError(f"{name} must be a number of seconds, {'above' if positive else 'at least'} 0")
    return seconds


def deadline_error(deadline: float | None, provider: str, *, before_retry: bool = False) -> RerankTimeoutError:
    """The error of a call whose ``deadline`` (seconds) passed, or (``before_retry``) would pass
    before the wait for its next attempt ended, so that the call stopped at once."""
    if before_retry:
        message = f"the call's deadline of {deadline} s would pass before its next attempt; it was not retried"
    else:
        message = f"the call's deadline of {deadline} s passed"
    return RerankTimeoutError(message, provider=provider, retryable=True)


def _budget(value: object) -> float:
    """``retry_budget`` checked by the rule of the framework classes' strict ``ge=0`` field."""
    if value is None:
        return DEFAULT_RETRY_BUDGET
    budget = strict_float(value)
    if budget is None or not budget >= 0:
        raise ConfigurationError("retry_budget must be a number of seconds, at least 0")
    return budget


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
