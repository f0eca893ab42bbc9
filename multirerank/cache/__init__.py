"""The score cache: a document's score for a query, kept so a repeated call does not pay for it.

A cache maps a key (see :mod:`multirerank.engine.cached`: the scoring backend's identity, the
query and a hash of the document's text) to the raw score that backend gave. Three stores:

- :class:`InMemoryScoreCache`: an LRU in this process (``cache=True``);
- :class:`SQLiteScoreCache`: a file shared by processes on one machine (``"sqlite:///path"``);
- :class:`RedisScoreCache`: a Redis server shared by many machines (``"redis://host:6379/0"``).

Entries expire ``ttl`` seconds after they were stored (``None``: never). Importing this package
loads neither :mod:`sqlite3` nor :pypi:`redis`; each store imports what it needs when made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multirerank.cache.base import DEFAULT_TTL, ScoreCache, resolve_cache

if TYPE_CHECKING:
    from multirerank.cache.memory import InMemoryScoreCache
    from multirerank.cache.redis_store import RedisScoreCache
    from multirerank.cache.sqlite import SQLiteScoreCache

__all__ = [
    "DEFAULT_TTL",
    "InMemoryScoreCache",
    "RedisScoreCache",
    "SQLiteScoreCache",
    "ScoreCache",
    "resolve_cache",
]

_STORES = {
    "InMemoryScoreCache": "multirerank.cache.memory",
    "SQLiteScoreCache": "multirerank.cache.sqlite",
    "RedisScoreCache": "multirerank.cache.redis_store",
}


def __getattr__(name: str) -> Any:
    module = _STORES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
