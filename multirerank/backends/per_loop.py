"""Async clients kept one per event loop, and closed when their loop shuts down; and the one
client of sync callers beside them (:class:`LazyClient`).

An httpx ``AsyncClient`` or an aiohttp session holds connections of the loop that opened them, so
a backend awaited from several loops (every ``asyncio.run`` makes a new one) needs one per loop.
Remembering them is the easy part; this module makes sure each is closed on its own loop and then
forgotten, so neither its sockets nor its loop outlive the loop's run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    resource: T
    keeper: AsyncGenerator[None, None]


class PerLoop(Generic[T]):
    """One resource per event loop: made on first use in a loop, closed when that loop ends.

    Each resource is tied to an async generator started on its loop. ``asyncio.run`` and
    ``asyncio.Runner`` (pytest-asyncio's loops among them) close a loop's async generators before
    closing the loop (``loop.shutdown_asyncgens()``), which closes the resource there, while the
    loop still runs, and drops it from here. So nobody has to call :meth:`aclose` once per loop,
    and a loop that is done is not kept alive by a client whose connections point back at it. A
    loop closed without that step is forgotten on the next :meth:`get` or :meth:`close`.
    """

    def __init__(
        self,
        make: Callable[[], T],
        close: Callable[[T], Awaitable[object]],
        is_closed: Callable[[T], bool],
    ) -> None:
        self._make = make
        self._close = close
        self._is_closed = is_closed
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[T]] = {}
        # Loops in other threads may ask at the same time.
        self._lock = threading.Lock()

    def count(self) -> int:
        """How many loops have a resource here."""
        with self._lock:
            return len(self._entries)

    def resources(self) -> list[T]:
        """The resources held now, of every loop."""
        with self._lock:
            return [entry.resource for entry in self._entries.values()]

    async def get(self) -> T:
        """The running loop's resource, made now if it has none (or only a closed one)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._forget_closed_loops()
            entry = self._entries.get(loop)
            if entry is not None and not self._is_closed(entry.resource):
                return entry.resource
            resource = self._make()
            keeper = self._keep(loop, resource)
            self._entries[loop] = _Entry(resource, keeper)
        # The first step registers the generator with the running loop, which will close it.
        await keeper.__anext__()
        return resource

    async def aclose(self) -> None:
        """Close the running loop's resource, and the others as far as :meth:`close` can."""
        with self._lock:
            entry = self._entries.get(asyncio.get_running_loop())
        self.close()
        if entry is not None:
            await entry.keeper.aclose()

    def close(self) -> None:
        """Close the resources of loops that are not running; the running ones close their own.

        Nothing is run on a loop that runs elsewhere: its resource may be in use there, and that
        loop closes it when it shuts down. A closed loop can run nothing any more, so its resource
        (left behind by a loop closed without ``shutdown_asyncgens``) is only forgotten.
        """
        with self._lock:
            self._forget_closed_loops()
            idle = [(loop, entry) for loop, entry in self._entries.items() if not loop.is_running()]
        for loop, entry in idle:
            closing = entry.keeper.aclose()
            try:
                loop.run_until_complete(closing)
            except RuntimeError:
                # Another loop runs in this thread; this one closes the resource at its shutdown.
                closing.close()

    async def _keep(self, loop: asyncio.AbstractEventLoop, resource: T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                entry = self._entries.get(loop)
                if entry is not None and entry.resource is resource:
                    del self._entries[loop]
            await self._close(resource)

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._entries if loop.is_closed()]:
            del self._entries[loop]


class LazyClient(Generic[T]):
    """The client of sync callers: made by ``make`` on first use (by one thread, however many
    ask at once), closed by ``close`` on :meth:`close`, which may be called again and leaves the
    next :meth:`get` to make a new one."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], object]) -> None:
        self._make = make
        self._close = close
        self._client: T | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> T | None:
        """The client made and not closed, if any (asking makes none)."""
        return self._client

    def get(self) -> T:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            self._close(client)
