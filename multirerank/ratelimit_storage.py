"""Where :mod:`multirerank.ratelimit` keeps its windows: one ``limits`` storage per URI per process.

In memory, one ``limits.storage.MemoryStorage`` serves sync and async callers alike (its calls
take a lock for microseconds and never wait on I/O), so both count against the same windows.
In Redis, sync callers share one client (a thread-safe connection pool) and async callers get one
``redis.asyncio`` client per event loop (its connections belong to the loop that opened them),
closed when that loop shuts down; both run the same scripts on the same keys.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import limits.aio.strategies
import limits.errors
import limits.strategies
from limits.storage import storage_from_string

from multirerank.backends.per_loop import PerLoop
from multirerank.errors import ConfigurationError
from multirerank.redaction import redacted_url

MEMORY = "memory://"
#: URI schemes of the Redis storages ``limits`` runs with the :pypi:`redis` client.
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")

SyncLimiter = limits.strategies.MovingWindowRateLimiter
AsyncLimiter = limits.aio.strategies.MovingWindowRateLimiter

_lock = threading.Lock()
_sync: dict[str, SyncLimiter] = {}
_async: dict[str, PerLoop[_AsyncRedis]] = {}


def check_uri(uri: str | None) -> str:
    """``uri``, or :data:`MEMORY` for ``None``; a :class:`ConfigurationError` for another scheme."""
    if uri is None:
        return MEMORY
    scheme = urlsplit(uri).scheme if isinstance(uri, str) else ""
    if uri != MEMORY and scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"rate_limit_storage must be {MEMORY!r} or a Redis URI ({', '.join(s + '://' for s in REDIS_SCHEMES)}); "
            f"got {redacted_url(uri) if isinstance(uri, str) else uri!r}"
        )
    return uri


def sync_limiter(uri: str) -> SyncLimiter:
    """The process's moving-window limiter over the storage at ``uri``, made on first use."""
    with _lock:
        limiter = _sync.get(uri)
        if limiter is None:
            with translated(uri):
                limiter = _sync[uri] = SyncLimiter(storage_from_string(uri, wrap_exceptions=True))
        return limiter


async def async_limiter(uri: str) -> AsyncLimiter | None:
    """The running loop's limiter over the Redis storage at ``uri``; ``None`` for memory, whose
    sync limiter (:func:`sync_limiter`) async callers share."""
    if uri == MEMORY:
        return None
    with _lock:
        per_loop = _async.get(uri)
        if per_loop is None:
            per_loop = _async[uri] = PerLoop(
                lambda: _AsyncRedis(uri), _AsyncRedis.aclose, _AsyncRedis.is_closed
            )
    return (await per_loop.get()).limiter


class _AsyncRedis:
    """One loop's async Redis storage and its limiter."""

    def __init__(self, uri: str) -> None:
        with translated(uri):
            self.storage = storage_from_string("async+" + uri, implementation="redispy", wrap_exceptions=True)
        self.limiter = AsyncLimiter(self.storage)
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        await self.storage.bridge.get_connection().aclose()  # type: ignore[union-attr]

    def is_closed(self) -> bool:
        return self.closed


@contextlib.contextmanager
def translated(uri: str) -> Iterator[None]:
    """Turns a storage's failures into :class:`ConfigurationError` naming the (redacted) URI."""
    try:
        yield
    except limits.errors.ConfigurationError as error:
        raise ConfigurationError(
            f"rate_limit_storage {redacted_url(uri)} cannot be used: {error} "
            "(pip install 'multirerank[redis]' for Redis)"
        ) from error
    except limits.errors.StorageError as error:
        cause = error.storage_error
        raise ConfigurationError(
            f"rate_limit_storage {redacted_url(uri)} failed: {type(cause).__name__}: {cause}"
        ) from error
