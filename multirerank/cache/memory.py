"""The in-memory store: an LRU of this process's scores, each entry expiring after ``ttl``."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from multirerank.cache.base import DEFAULT_TTL, ScoreCache, check_maxsize, check_ttl

#: Entries kept by default: at about 200 bytes each, some 20 MB.
DEFAULT_MAXSIZE = 100_000


class InMemoryScoreCache(ScoreCache):
    """At most ``maxsize`` scores, the least recently used evicted first; entries expire
    ``ttl`` seconds after they were stored (``None``: never). Thread-safe.

    Written on :class:`collections.OrderedDict` rather than ``cachetools.TTLCache``: the latter
    costs over a millisecond per 1,000 lookups, more than a whole cached call may take
    (``benchmarks/bench_cache.py``). Raises :class:`ConfigurationError` for a bad size or ttl.
    Pickles (and deep-copies) as an empty cache of the same size and ttl.
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: float | None = DEFAULT_TTL) -> None:
        self.maxsize = check_maxsize(maxsize)
        self.ttl = check_ttl(ttl)
        # key -> (score, expiry as time.monotonic(), or inf)
        self._entries: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        now = time.monotonic()
        found: dict[str, float] = {}
        entries = self._entries
        with self._lock:
            for key in keys:
                entry = entries.get(key)
                if entry is None:
                    continue
                if entry[1] <= now:
                    del entries[key]
                    continue
                entries.move_to_end(key)
                found[key] = entry[0]
        return found

    def set_many(self, scores: Mapping[str, float]) -> None:
        expires = float("inf") if self.ttl is None else time.monotonic() + self.ttl
        entries = self._entries
        with self._lock:
            for key, score in scores.items():
                entries[key] = (score, expires)
                entries.move_to_end(key)
            while len(entries) > self.maxsize:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.maxsize, self.ttl))

    def __repr__(self) -> str:
        return f"InMemoryScoreCache(maxsize={self.maxsize}, ttl={self.ttl})"
