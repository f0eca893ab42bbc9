"""aiobotocore clients for the AWS backends' native async path, on one I/O loop per process.

Each is built from the settings of the backend's boto3 client (region, endpoint, credentials or
profile, botocore ``Config``), so both paths reach the same service the same way.

botocore spends a millisecond or more of CPU building and parsing one rerank request (shape
validation and serialisation of every document). Run on the caller's event loop, 64 concurrent
calls would hold it for a fifth of a second at a time; run on 64 threads, they fight over the GIL
and hold it as long. So the clients live on :func:`io_loop`, a loop of the process's own on one
daemon thread: that thread does the botocore work, the caller's loop only awaits the answer, and
the GIL changes hands between just two threads (every few milliseconds at most).

aiobotocore is imported when the first async client is made, never when a backend module is, and
on a thread of its own: with aiohttp under it the import takes over a tenth of a second.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

from multirerank.backends.aws_json import encode_json_bodies_directly
from multirerank.backends.per_loop import PerLoop
from multirerank.errors import ConfigurationError

INSTALL_HINT = "pip install 'multirerank[aws]'"

T = TypeVar("T")


@dataclass(frozen=True)
class AioClientSettings:
    """What an aiobotocore client is made from: the settings of the backend's boto3 client.

    ``region_name`` is the region the boto3 client resolved, so a region found in the environment
    or a profile is the same for both. Keys stay secret, and out of the repr with the endpoint.
    """

    service_name: str
    region_name: str | None
    # A URL may carry credentials of its own.
    endpoint_url: str | None = field(default=None, repr=False)
    profile: str | None = None
    config: Any = field(default=None, repr=False)
    keys: tuple[tuple[str, SecretStr], ...] = field(default=(), repr=False)

    async def open(self) -> Any:
        """A new aiobotocore client, its HTTP session entered; close it with ``await client.close()``."""
        from botocore.exceptions import BotoCoreError

        session = await run_off_loop(self._new_session)
        keys = {name: secret.get_secret_value() for name, secret in self.keys}
        try:
            creating = session.create_client(
                self.service_name,
                region_name=self.region_name,
                endpoint_url=self.endpoint_url,
                config=self.config,
                **keys,
            )
            client = await creating.__aenter__()
        except (BotoCoreError, ValueError) as error:
            raise ConfigurationError(f"cannot build the async {self.service_name} client: {error}") from None
        encode_json_bodies_directly(client)
        return client

    def _new_session(self) -> Any:
        """An aiobotocore session for one loop's client (sessions hold loop-bound credentials)."""
        try:
            from aiobotocore.session import AioSession
        except ImportError as error:
            raise ConfigurationError(
                f"the async path of AWS backends needs aiobotocore: {INSTALL_HINT} ({error})"
            ) from None
        from multirerank.backends.aws import _shared_loader

        session = AioSession()
        # The service models the boto3 client parsed are reused, not read again.
        session.register_component("data_loader", _shared_loader())
        if self.profile is not None:
            session.set_config_variable("profile", self.profile)
        return session


class _LoopClient:
    """One loop's client, made on first use: making it is a coroutine, and :class:`PerLoop`
    makes its resources synchronously."""

    def __init__(self, settings: AioClientSettings) -> None:
        self._settings = settings
        self._client: Any = None
        # Concurrent first requests on a loop wait for one client instead of each making one.
        self._lock = asyncio.Lock()
        self.closed = False

    async def client(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self.closed:
                raise RuntimeError("the async AWS client of this event loop is closed")
            if self._client is None:
                self._client = await self._settings.open()
            return self._client

    def current(self) -> Any:
        """The client, when it has been made."""
        return self._client

    async def aclose(self) -> None:
        self.closed = True
        async with self._lock:
            client, self._client = self._client, None
        if client is not None:
            await client.close()


async def _close_slot(slot: _LoopClient) -> None:
    await slot.aclose()


def _slot_closed(slot: _LoopClient) -> bool:
    return slot.closed


class AioClients:
    """The async clients of one backend (and of its twins), one per event loop.

    Each is closed when its loop shuts down (see :class:`PerLoop`), or by :meth:`close` /
    :meth:`aclose`.
    """

    def __init__(self, settings: AioClientSettings) -> None:
        self.settings = settings
        self._slots: PerLoop[_LoopClient] = PerLoop(self._new_slot, _close_slot, _slot_closed)
        # Closed at interpreter exit if nobody closed them, while the I/O loop still runs.
        _open_clients.add(self)

    def _new_slot(self) -> _LoopClient:
        return _LoopClient(self.settings)

    async def get(self) -> Any:
        """The running loop's client, made now if it has none."""
        slot = await self._slots.get()
        return await slot.client()

    def count(self) -> int:
        """How many loops hold a client (or are making one)."""
        return self._slots.count()

    def secrets(self) -> list[str]:
        """The keys the clients are made with, and the credentials each loop's client signs with
        (those it found itself: a profile's, the environment's, an assumed role's)."""
        from multirerank.backends.aws import client_credentials

        found = [secret.get_secret_value() for _, secret in self.settings.keys]
        for slot in self._slots.resources():
            found += client_credentials(slot.current())
        return found

    def close(self) -> None:
        """Close the client on the I/O loop (waiting a few seconds at most), and any other."""
        loop = _running_io_loop()
        if loop is not None and threading.current_thread() is not _io_thread():
            closing = asyncio.run_coroutine_threadsafe(self._slots.aclose(), loop)
            with contextlib.suppress(Exception):
                closing.result(timeout=CLOSE_TIMEOUT)
        self._slots.close()

    async def aclose(self) -> None:
        """Close the client on the I/O loop, and any other as :meth:`close` does."""
        if _running_io_loop() is not None:
            await on_io_loop(self._slots.aclose())
        self._slots.close()

    def __repr__(self) -> str:
        return f"AioClients({self.settings!r})"


#: Seconds :meth:`AioClients.close` waits for a client to close on the I/O loop.
CLOSE_TIMEOUT = 5.0

_io_lock = threading.Lock()
#: The I/O loop, its thread and the process that started them (a forked child starts its own).
_io: tuple[asyncio.AbstractEventLoop, threading.Thread, int] | None = None


_open_clients: weakref.WeakSet[AioClients] = weakref.WeakSet()


def io_loop() -> asyncio.AbstractEventLoop:
    """The process's loop for aiobotocore clients, started on a daemon thread on first use."""
    global _io
    with _io_lock:
        if _io is None or _io[2] != os.getpid() or not _io[1].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="multirerank-aws-io", daemon=True)
            thread.start()
            if _io is None:
                atexit.register(_shut_down)
            _io = (loop, thread, os.getpid())
        return _io[0]


def _shut_down() -> None:
    """At exit: close the clients still open, on their loop, then stop it (aiohttp's sessions
    must close on the loop they belong to, not from the exiting main thread)."""
    loop = _running_io_loop()
    if loop is None:
        return
    for clients in list(_open_clients):
        clients.close()
    # Clients whose backend was dropped unclosed are held by their keepers: close those too.
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=CLOSE_TIMEOUT)
    loop.call_soon_threadsafe(loop.stop)
    thread = _io_thread()
    if thread is not None:
        thread.join(timeout=CLOSE_TIMEOUT)
    if not loop.is_running():
        loop.close()


def _running_io_loop() -> asyncio.AbstractEventLoop | None:
    with _io_lock:
        if _io is None or _io[2] != os.getpid() or not _io[1].is_alive():
            return None
        return _io[0]


def _io_thread() -> threading.Thread | None:
    with _io_lock:
        return None if _io is None else _io[1]


async def on_io_loop(work: Coroutine[Any, Any, T]) -> T:
    """``work`` run on :func:`io_loop` and awaited from the running loop; cancelling the awaiting
    task cancels it there."""
    loop = io_loop()
    if asyncio.get_running_loop() is loop:
        return await work
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))


async def run_off_loop(function: Callable[[], T]) -> T:
    """``function()`` on a thread of its own, awaited without blocking the running loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        deliver: Callable[[], None]
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting coroutine, whatever it is
            deliver = functools.partial(_set_exception, future, error)
        else:
            deliver = functools.partial(_set_result, future, result)
        # A loop closed meanwhile has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=work, name="multirerank-aws-setup", daemon=True).start()
    return await future


def _set_result(future: asyncio.Future[T], result: T) -> None:
    # The waiting task may have been cancelled.
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


@functools.cache
def aio_call_errors() -> tuple[type[Exception], ...]:
    """What an aiobotocore call raises for the service's or the network's failures: botocore's
    errors, which aiobotocore shares, and aiohttp's and timeouts from reading an answer's body."""
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, aiohttp.ClientError, TimeoutError, asyncio.TimeoutError)
