"""aiobotocore clients for the AWS backends' native async path, one per event loop.

Each is built from the settings of the backend's boto3 client (region, endpoint, credentials or
profile, botocore ``Config``), so both paths reach the same service the same way. aiobotocore is
imported when the first async client is made, never when a backend module is, and on a thread of
its own: with aiohttp under it the import takes over a tenth of a second, and a session takes a
few hundredths more to register its handlers, which would stall the event loop (whose default
executor is the application's, not ours to borrow).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

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
            return await creating.__aenter__()
        except (BotoCoreError, ValueError) as error:
            raise ConfigurationError(f"cannot build the async {self.service_name} client: {error}") from None

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

    def _new_slot(self) -> _LoopClient:
        return _LoopClient(self.settings)

    async def get(self) -> Any:
        """The running loop's client, made now if it has none."""
        slot = await self._slots.get()
        return await slot.client()

    def count(self) -> int:
        """How many loops hold a client (or are making one)."""
        return self._slots.count()

    def close(self) -> None:
        """Close the clients of loops that are not running; running loops close theirs at shutdown."""
        self._slots.close()

    async def aclose(self) -> None:
        """Close the running loop's client, and the others as far as :meth:`close` can."""
        await self._slots.aclose()

    def __repr__(self) -> str:
        return f"AioClients({self.settings!r})"


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


def aio_call_errors() -> tuple[type[Exception], ...]:
    """What an aiobotocore call raises for the service's or the network's failures: botocore's
    errors, which aiobotocore shares, and aiohttp's and timeouts from reading an answer's body."""
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, aiohttp.ClientError, TimeoutError, asyncio.TimeoutError)
