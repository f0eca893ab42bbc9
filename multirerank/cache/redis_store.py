"""The Redis store: scores shared by every process and machine that reaches one server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from multirerank.backends.per_loop import LazyClient, PerLoop
from multirerank.cache.base import DEFAULT_TTL, REDIS_SCHEMES, ScoreCache, check_ttl
from multirerank.errors import ConfigurationError
from multirerank.redaction import redacted_url

#: Prefixed to every key, so scores share a database with other data without clashing.
DEFAULT_PREFIX = "multirerank:score:"
#: Seconds to wait for the server: a cache that is down must cost a call little.
DEFAULT_TIMEOUT = 1.0


class RedisScoreCache(ScoreCache):
    """Scores in the Redis server at ``url`` (``redis://[:password@]host:6379/0``,
    ``rediss://`` for TLS, ``unix:///path.sock``), through :pypi:`redis` (``pip install
    'multirerank[redis]'``).

    A lookup is one ``MGET`` and a store one pipelined round of ``SET key score EX ttl``, so a
    call costs two round trips whatever its size; Redis expires the entries itself, and evicts
    by its own ``maxmemory-policy``. The async methods use ``redis.asyncio`` with one client per
    event loop. The server is waited for at most ``timeout`` seconds and never retried: when it
    is down the engine scores without it. Raises :class:`ConfigurationError` for a URL of
    another scheme, or when :pypi:`redis` is not installed. The password never shows in the
    repr; the object pickles as its URL, prefix, ttl and timeout.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        ttl: float | None = DEFAULT_TTL,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in REDIS_SCHEMES:
            raise ConfigurationError("RedisScoreCache url must start with redis://, rediss:// or unix://")
        try:
            urlsplit(url).port  # noqa: B018 - read for its check: a port that is no number raises
        except ValueError:
            raise ConfigurationError(
                f"RedisScoreCache url has a port that is not a number: {redacted_url(url)}"
            ) from None
        try:
            import redis  # noqa: F401 - checked here, used by the clients made on first use
        except ImportError:
            raise ConfigurationError(
                "RedisScoreCache needs the redis package: pip install 'multirerank[redis]'"
            ) from None
        self.url = url
        self.ttl = check_ttl(ttl)
        self.prefix = prefix
        self.timeout = timeout
        self._client: LazyClient[Any] = LazyClient(self._new_sync_client, _close_sync)
        self._async_clients: PerLoop[Any] = PerLoop(self._new_async_client, _close_async, _never_closed)

    def _options(self) -> dict[str, Any]:
        # No retries: an outage should cost one short timeout, not a series of them.
        return {"socket_timeout": self.timeout, "socket_connect_timeout": self.timeout, "retry": None}

    def _new_sync_client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, **self._options())

    def _new_async_client(self) -> Any:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(self.url, **self._options())

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        values = self._client.get().mget([self.prefix + key for key in keys])
        return _found(keys, values)

    def set_many(self, scores: Mapping[str, float]) -> None:
        if not scores:
            return
        pipeline = self._client.get().pipeline(transaction=False)
        for key, score in scores.items():
            pipeline.set(self.prefix + key, repr(score), ex=_seconds(self.ttl))
        pipeline.execute()

    async def aget_many(self, keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        client = await self._async_clients.get()
        values = await client.mget([self.prefix + key for key in keys])
        return _found(keys, values)

    async def aset_many(self, scores: Mapping[str, float]) -> None:
        if not scores:
            return
        client = await self._async_clients.get()
        pipeline = client.pipeline(transaction=False)
        for key, score in scores.items():
            pipeline.set(self.prefix + key, repr(score), ex=_seconds(self.ttl))
        await pipeline.execute()

    def close(self) -> None:
        self._client.close()
        self._async_clients.close()

    async def aclose(self) -> None:
        self._client.close()
        await self._async_clients.aclose()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.url, self.ttl, self.prefix, self.timeout))

    def __repr__(self) -> str:
        return f"RedisScoreCache({redacted_url(self.url)!r}, ttl={self.ttl})"


def _rebuild(url: str, ttl: float | None, prefix: str, timeout: float) -> RedisScoreCache:
    return RedisScoreCache(url, ttl, prefix=prefix, timeout=timeout)


def _found(keys: Sequence[str], values: Sequence[Any]) -> dict[str, float]:
    return {key: float(value) for key, value in zip(keys, values, strict=True) if value is not None}


def _seconds(ttl: float | None) -> int | None:
    # EX takes whole seconds; a fraction rounds up, so an entry never lives shorter than asked.
    return None if ttl is None else max(1, -int(-ttl // 1))


def _close_sync(client: Any) -> None:
    client.close()


async def _close_async(client: Any) -> None:
    await client.aclose()


def _never_closed(client: Any) -> bool:
    # A client stays usable until its loop ends; PerLoop closes it then.
    return False
