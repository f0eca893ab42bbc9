"""When the engine asks a vendor again, and how long it waits first.

The decision is a plain function of the error and the call's history, so the sync scheduler and
the async twin share it and do their own waiting: neither a worker thread nor a concurrency slot
is held while a request waits for its next attempt.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Hashable

from multirerank.backends.base import Backend
from multirerank.errors import RerankError, ThrottledError
from multirerank.redaction import module_logger

logger = module_logger(__name__)

#: Seconds one call may spend waiting between attempts, unless the reranker sets another budget.
DEFAULT_RETRY_BUDGET = 30.0
#: Exponential back-off when the vendor names no wait: 0.5 s, 1 s, 2 s... at most 8 s, jittered.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0


class CallRetries:
    """The retry state of one rerank call, shared by all of its requests.

    Throttling (``ThrottledError``) is retried for as long as the call's ``budget`` of waiting
    lasts, since a burst of 429s says nothing about the request itself; other retryable errors
    are retried at most ``max_retries`` times per request. A wait longer than the budget left
    (the vendor's ``Retry-After`` included) is not waited for: the error is raised at once, its
    ``retry_after`` telling the caller how long the vendor asked for. ``max_retries=0`` turns
    engine retries off altogether (for SDKs that retry themselves).

    The budget is spent by waiting alone: time spent on requests (a slow answer, the SDK's
    first connection) does not use it up. Requests of a split call waiting at the same time
    spend it once, as the call's wall time it spends waiting.
    """

    def __init__(self, backend: Backend, max_retries: int, budget: float, *, until: float | None = None) -> None:
        self._backend = backend
        #: The call's deadline (``time.monotonic()``): no wait is scheduled past it.
        self._until = until
        self._max_retries = max_retries
        self._budget = budget
        #: Seconds of waiting scheduled so far, overlapping waits counted once.
        self._spent = 0.0
        #: When the last scheduled wait ends.
        self._waiting_until = 0.0
        self._failures: dict[Hashable, int] = {}
        #: Whether a retry was given up because the call's deadline would pass first.
        self.out_of_time = False

    def delay(self, error: BaseException, request: Hashable) -> float | None:
        """Seconds to wait before ``request`` is sent again after ``error``; ``None``: raise it."""
        if self._max_retries == 0 or not isinstance(error, RerankError) or not self._backend.should_retry(error):
            return None
        failures = self._failures.get(request, 0) + 1
        self._failures[request] = failures
        throttled = isinstance(error, ThrottledError)
        if not throttled and failures > self._max_retries:
            return None
        wait = _backoff(failures) if error.retry_after is None else max(error.retry_after, 0.0)
        if throttled and failures > self._max_retries:
            # Past the count, a vendor answering "Retry-After: 0" again and again is not hammered.
            wait = max(wait, _backoff(failures))
        now = time.monotonic()
        # Only the part of this wait that no other request of the call is already waiting out.
        added = max(0.0, now + wait - max(now, self._waiting_until))
        if self._until is not None and now + wait > self._until:
            self.out_of_time = True
            return None
        if self._spent + added > self._budget:
            return None
        self._spent += added
        self._waiting_until = max(self._waiting_until, now + wait)
        logger.log(
            logging.WARNING if throttled else logging.INFO,
            "retrying a %s request in %.2f s after %s%s (failure %d of this request)",
            self._backend.provider,
            wait,
            type(error).__name__,
            f", status {error.status}" if error.status is not None else "",
            failures,
        )
        return wait


def _backoff(failures: int) -> float:
    """Exponential back-off with full jitter, so callers throttled together do not return together."""
    return random.uniform(0.0, min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (failures - 1)))
