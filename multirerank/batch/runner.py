"""Scoring many queries' documents with one reranker, a bounded number of requests in flight.

Every query's documents go out as one rerank call (the engine splits a list over the vendor's
per-request limits); calls run as tasks on one event loop, owned by the :class:`BatchReranker`
and kept on a thread of its own, so that async clients (httpx, aiobotocore) and their
connections live as long as the batch object and sync callers (Ray actors, Spark tasks, the CLI)
need no loop of their own. A call takes as many of ``concurrency`` slots as it can have requests
in flight, so ``concurrency`` bounds the requests in flight across queries; sync-only backends
(the local model, watsonx.ai) run on the reranker's thread pool.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from multirerank.backends.base import Backend
from multirerank.engine import Reranker
from multirerank.errors import AuthenticationError, ConfigurationError, NotFoundError, RerankInputError
from multirerank.types import DocumentInput, RerankResponse, Usage

T = TypeVar("T")
OnError = Literal["raise", "column"]

#: Errors every later call would repeat: they stop the run whatever ``on_error`` says.
FATAL = (AuthenticationError, ConfigurationError, NotFoundError)

#: Requests in flight at once by default: the figure the issue measures one process by.
DEFAULT_CONCURRENCY = 8


@dataclass
class Job:
    """One rerank call of a batch: a query, its documents, and the table rows they came from."""

    query: str
    documents: list[DocumentInput]
    rows: list[int]
    ids: list[str | None] | None = None
    top_n: int | None = None


@dataclass
class Outcome:
    """What one :class:`Job` got: its response, or the error it failed with."""

    response: RerankResponse | None = None
    error: BaseException | None = None


class _Slots:
    """A weighted semaphore: a call takes as many slots as it may have requests in flight."""

    def __init__(self, total: int) -> None:
        self.free = total
        self._changed = asyncio.Condition()

    async def take(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.free >= count)
            self.free -= count

    async def give(self, count: int) -> None:
        async with self._changed:
            self.free += count
            self._changed.notify_all()


class _LoopThread:
    """An event loop running on a daemon thread, for sync callers' coroutines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="multirerank-batch", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C in the caller's thread: stop the batch's requests too.
            future.cancel()
            raise

    def stop(self) -> None:
        async def finish() -> None:
            await self.loop.shutdown_asyncgens()  # closes per-loop clients (backends.per_loop)

        asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class BatchReranker:
    """A reranker for tables of many queries: :meth:`rerank_pairs` and :meth:`rerank_groups`
    (see :mod:`multirerank.batch`).

    ``model_or_reranker`` is a model string or a :class:`~multirerank.backends.base.Backend`
    (a :class:`~multirerank.Reranker` is built from it with ``reranker_options``, such as
    ``api_key``, ``base_url``, ``cache`` or ``rate_limit``, and closed by :meth:`close`), or a
    :class:`~multirerank.Reranker` you keep (and close). ``concurrency`` bounds the requests in
    flight across queries, and across calls of this object running at once on one event loop
    (a query split into more requests than that still sends up to the reranker's
    ``max_concurrency`` at once). :attr:`usage` sums every call's usage, failed calls'
    billed requests included. Raises :class:`ConfigurationError` for a setting it cannot use.
    """

    def __init__(
        self,
        model_or_reranker: str | Backend | Reranker,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        **reranker_options: Any,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an integer of at least 1, got {concurrency!r}")
        if isinstance(model_or_reranker, Reranker):
            if reranker_options:
                raise ConfigurationError(
                    f"options {sorted(reranker_options)} only apply when a model string or backend is given"
                )
            self.reranker, self._owns = model_or_reranker, False
        elif isinstance(model_or_reranker, (str, Backend)):
            self.reranker, self._owns = Reranker(model_or_reranker, **reranker_options), True
        else:
            raise ConfigurationError(
                f"model must be a model string, a Backend or a Reranker, got {type(model_or_reranker).__name__}"
            )
        self.concurrency = concurrency
        #: Every call's usage so far, summed (``usage.cost_usd`` None when a price is unknown).
        self.usage = Usage()
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()
        # One set of slots per event loop, shared by the calls of this object running on it (a
        # Ray actor working on two batches at once, say), so concurrency bounds them together.
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"BatchReranker({self.reranker!r}, concurrency={self.concurrency})"

    # The table-level methods live in multirerank.batch.pairs; they call run/arun with jobs.

    def rerank_pairs(self, table: Any, **options: Any) -> Any:
        """:func:`multirerank.batch.rerank_pairs` with this object's reranker."""
        from multirerank.batch.pairs import pairs_jobs

        prepared = pairs_jobs(table, **options)
        return prepared.finish(self.run(prepared.jobs, prepared.on_error, prepared.progress))

    async def arerank_pairs(self, table: Any, **options: Any) -> Any:
        """The non-blocking twin of :meth:`rerank_pairs`, on the caller's event loop."""
        from multirerank.batch.pairs import pairs_jobs

        prepared = pairs_jobs(table, **options)
        return prepared.finish(await self.arun(prepared.jobs, prepared.on_error, prepared.progress))

    def rerank_groups(self, table: Any, **options: Any) -> Any:
        """:func:`multirerank.batch.rerank_groups` with this object's reranker."""
        from multirerank.batch.pairs import groups_jobs

        prepared = groups_jobs(table, **options)
        return prepared.finish(self.run(prepared.jobs, prepared.on_error, prepared.progress))

    async def arerank_groups(self, table: Any, **options: Any) -> Any:
        """The non-blocking twin of :meth:`rerank_groups`."""
        from multirerank.batch.pairs import groups_jobs

        prepared = groups_jobs(table, **options)
        return prepared.finish(await self.arun(prepared.jobs, prepared.on_error, prepared.progress))

    # -- running jobs -----------------------------------------------------------------------------

    def run(
        self, jobs: Sequence[Job], on_error: OnError = "raise", progress: Callable[[int], None] | None = None
    ) -> list[Outcome]:
        """:meth:`arun` on this object's own event loop thread, from a sync caller."""
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
            loop = self._loop
        return loop.run(self.arun(jobs, on_error, progress))

    async def arun(
        self, jobs: Sequence[Job], on_error: OnError = "raise", progress: Callable[[int], None] | None = None
    ) -> list[Outcome]:
        """Each job's outcome, in order. With ``on_error="raise"`` the first failure cancels the
        calls in flight and is raised; with ``"column"`` it is the failed job's outcome.
        An authentication, configuration or not-found error, which every later call would
        repeat, is raised whatever ``on_error`` says, and the jobs not sent yet are not sent.
        ``progress`` is called with the number of rows of each finished job."""
        outcomes = [Outcome() for _ in jobs]
        with self._lock:
            slots = self._slots.setdefault(asyncio.get_running_loop(), _Slots(self.concurrency))
        running: set[asyncio.Task[None]] = set()
        failure: list[BaseException] = []

        async def one(number: int, weight: int) -> None:
            job = jobs[number]
            try:
                response = await self.reranker.arerank(job.query, job.documents, job.top_n, ids=job.ids)
            except Exception as error:
                self._add_usage(getattr(error, "usage", None))
                outcomes[number].error = error
                if (on_error == "raise" or isinstance(error, FATAL)) and not failure:
                    failure.append(error)
            else:
                self._add_usage(response.usage)
                outcomes[number].response = response
            finally:
                await slots.give(weight)
            if progress is not None:
                progress(len(job.rows))

        try:
            for number, job in enumerate(jobs):
                if failure:
                    break
                weight = self._weight(job, outcomes[number], on_error)
                if weight == 0:
                    if outcomes[number].error is not None and on_error == "raise":
                        raise outcomes[number].error  # type: ignore[misc]
                    if progress is not None:
                        progress(len(job.rows))
                    continue
                await slots.take(weight)
                if failure:  # it came while waiting for the slots
                    await slots.give(weight)
                    break
                task = asyncio.ensure_future(one(number, weight))
                running.add(task)
                task.add_done_callback(running.discard)
            while running and not failure:
                await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED)
            if failure:
                raise failure[0]
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return outcomes

    def _weight(self, job: Job, outcome: Outcome, on_error: OnError) -> int:
        """Slots a job takes: the requests it may have in flight, at most :attr:`concurrency`;
        0 for a job with nothing to send, or whose input the engine refuses (its outcome)."""
        if not job.documents:
            return 0
        try:
            requests = self.reranker.count_requests(job.query, job.documents)
        except RerankInputError as error:
            outcome.error = error
            return 0
        return max(1, min(requests, self.reranker.max_concurrency, self.concurrency))

    def _add_usage(self, usage: Usage | None) -> None:
        if usage is not None:
            with self._lock:
                self.usage = self.usage + usage

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the event loop thread and close the reranker if this object made it."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            if self._owns:
                loop.run(self.reranker.aclose())
            loop.stop()
        if self._owns:
            self.reranker.close()

    async def aclose(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            if self._owns:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.reranker.aclose(), loop.loop))
            await asyncio.get_running_loop().run_in_executor(None, loop.stop)
        if self._owns:
            await self.reranker.aclose()

    def __enter__(self) -> BatchReranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> BatchReranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def error_text(error: BaseException) -> str:
    """An error as the ``error`` column shows it: its type and one-line message."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"
