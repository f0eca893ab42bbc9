"""What every score cache store offers, and the ``cache=`` setting turned into a store."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from multirerank import redaction
from multirerank.errors import ConfigurationError

#: The logger of cache use: hits and misses per call (debug), bypasses, and store failures (warning).
logger = redaction.module_logger("multirerank.cache")

#: Seconds an entry lives unless a store is given another ``ttl``: one day, so that a vendor
#: updating a model behind the same name is picked up within a day.
DEFAULT_TTL = 86_400.0

#: URL schemes of the Redis store (as redis-py's ``from_url`` reads them).
REDIS_SCHEMES = ("redis", "rediss", "unix")


class ScoreCache(ABC):
    """A store of scores by key: ``get_many`` / ``set_many`` and their async twins.

    Keys are strings of at most a few hundred ASCII characters; scores are finite floats, the
    backend's raw scores. Each method handles many keys in one step (one round trip, one
    transaction), since a call looks up every document at once. A store may raise any
    exception when its storage fails: the engine then logs a warning and scores the call
    without the cache. ``ttl`` is the seconds an entry lives (``None``: until evicted).
    Stores pickle as their settings (path, URL, size, ttl), not their connections or contents.
    """

    ttl: float | None = DEFAULT_TTL

    @abstractmethod
    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        """The scores held for ``keys``, by key; keys not held (or expired) are left out."""

    @abstractmethod
    def set_many(self, scores: Mapping[str, float]) -> None:
        """Store each key's score, to expire ``ttl`` seconds from now."""

    async def aget_many(self, keys: Sequence[str]) -> dict[str, float]:
        """The non-blocking twin of :meth:`get_many`; stores doing I/O override it."""
        return self.get_many(keys)

    async def aset_many(self, scores: Mapping[str, float]) -> None:
        """The non-blocking twin of :meth:`set_many`; stores doing I/O override it."""
        self.set_many(scores)

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Release connections and threads. Safe to call more than once."""

    async def aclose(self) -> None:
        self.close()


def check_ttl(ttl: object) -> float | None:
    """``ttl`` as seconds above 0, or ``None``; a :class:`ConfigurationError` otherwise."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or ttl <= 0:
        raise ConfigurationError("cache ttl must be a number of seconds above 0, or None for no expiry")
    return float(ttl)


def check_maxsize(maxsize: object) -> int:
    if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
        raise ConfigurationError("cache maxsize must be an integer of at least 1")
    return maxsize


CACHE_CHOICES = "True, False/None, a ScoreCache, 'sqlite:///path/to/file.db' or 'redis://host:6379/0'"


def check_cache_setting(value: object) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is a ``cache=`` setting; make nothing."""
    if value is None or isinstance(value, (bool, ScoreCache)):
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"cache must be {CACHE_CHOICES}; got {type(value).__name__}")
    scheme = urlsplit(value).scheme if "://" in value else ""
    if scheme == "sqlite":
        if not sqlite_path(value):
            raise ConfigurationError("cache 'sqlite:///path' names no file; e.g. 'sqlite:///scores.db'")
        return
    if scheme not in REDIS_SCHEMES:
        # The string itself is not echoed: a Redis URL may carry a password.
        shown = f"a {scheme!r} URL" if scheme else "a string that is no URL"
        raise ConfigurationError(f"cache must be {CACHE_CHOICES}; got {shown}")


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (SQLAlchemy's form)."""
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""


def resolve_cache(value: object) -> ScoreCache | None:
    """The store a ``cache=`` setting means: ``True`` a new :class:`InMemoryScoreCache`,
    ``"sqlite:///path"`` a :class:`SQLiteScoreCache`, ``"redis://..."`` a
    :class:`RedisScoreCache`, a :class:`ScoreCache` itself, ``False`` / ``None`` none.

    Raises :class:`ConfigurationError` for anything else, without showing the value (a URL may
    carry a password).
    """
    check_cache_setting(value)
    if value is None or value is False:
        return None
    if isinstance(value, ScoreCache):
        return value
    if value is True:
        from multirerank.cache.memory import InMemoryScoreCache

        return InMemoryScoreCache()
    assert isinstance(value, str)
    if value.startswith("sqlite:"):
        from multirerank.cache.sqlite import SQLiteScoreCache

        return SQLiteScoreCache(sqlite_path(value))
    from multirerank.cache.redis_store import RedisScoreCache

    return RedisScoreCache(value)
