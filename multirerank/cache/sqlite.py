"""The SQLite store: scores in one file, shared by the threads and processes of one machine."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from multirerank.cache.base import DEFAULT_TTL, ScoreCache, check_ttl
from multirerank.errors import ConfigurationError

T = TypeVar("T")

#: Keys per SELECT: below SQLite's oldest limit of 999 bound variables.
_KEYS_PER_QUERY = 500
#: Seconds between two deletions of expired rows (each write may prune, at most this often).
PRUNE_INTERVAL = 60.0

_SCHEMA = "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL, expires REAL) WITHOUT ROWID"


class SQLiteScoreCache(ScoreCache):
    """Scores in the SQLite file ``path`` (made if missing; ``":memory:"`` for none), with
    Python's :mod:`sqlite3`.

    The database runs in WAL mode, so readers in other processes do not wait for a writer;
    one connection serves this object's threads, one at a time. ``ttl`` (seconds, ``None``:
    never) is checked on every read, and expired rows are deleted on writes at most once a
    minute. The async methods run on a thread of this store's own, so an event loop never
    waits for the disk. Raises :class:`ConfigurationError` when the file cannot be opened.
    Pickles as its path and ttl.
    """

    def __init__(self, path: str | os.PathLike[str], ttl: float | None = DEFAULT_TTL) -> None:
        self.path = os.fspath(path)
        self.ttl = check_ttl(ttl)
        try:
            # Autocommit mode: transactions are begun explicitly, one per set_many.
            self._connection = sqlite3.connect(
                self.path, timeout=10.0, check_same_thread=False, isolation_level=None
            )
            if self.path != ":memory:":
                self._connection.execute("PRAGMA journal_mode=WAL")
                self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(_SCHEMA)
        except sqlite3.Error as error:
            # sqlite3's message ("unable to open database file") does not say which file.
            raise ConfigurationError(
                f"cannot open the SQLite score cache file {self.path}: {error}"
            ) from None
        self._lock = threading.Lock()
        self._pruned = 0.0
        self._thread: ThreadPoolExecutor | None = None

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        now = time.time()
        found: dict[str, float] = {}
        with self._lock:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                part = keys[start : start + _KEYS_PER_QUERY]
                marks = ",".join("?" * len(part))
                rows = self._connection.execute(
                    f"SELECT key, score FROM scores WHERE key IN ({marks}) AND (expires IS NULL OR expires > ?)",
                    (*part, now),
                )
                found.update(rows)
        return found

    def set_many(self, scores: Mapping[str, float]) -> None:
        if not scores:
            return
        now = time.time()
        expires = None if self.ttl is None else now + self.ttl
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO scores (key, score, expires) VALUES (?, ?, ?)",
                    [(key, score, expires) for key, score in scores.items()],
                )
                if now - self._pruned >= PRUNE_INTERVAL:
                    connection.execute("DELETE FROM scores WHERE expires <= ?", (now,))
                    self._pruned = now
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    async def aget_many(self, keys: Sequence[str]) -> dict[str, float]:
        found: dict[str, float] = await self._on_thread(self.get_many, keys)
        return found

    async def aset_many(self, scores: Mapping[str, float]) -> None:
        await self._on_thread(self.set_many, scores)

    async def _on_thread(self, function: Any, argument: Any) -> Any:
        with self._lock:
            if self._thread is None:
                # One thread: the connection serves one statement at a time anyway.
                self._thread = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="multirerank-sqlite-cache"
                )
            thread = self._thread
        return await asyncio.get_running_loop().run_in_executor(thread, function, argument)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._connection.close()
        if thread is not None:
            thread.shutdown(wait=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.ttl))

    def __repr__(self) -> str:
        return f"SQLiteScoreCache({self.path!r}, ttl={self.ttl})"
