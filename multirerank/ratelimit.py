"""Client-side rate limits: requests, documents and tokens per period, kept by the ``limits`` library.

A :class:`RateLimit` is parsed from the ``rate_limit`` setting, either one string (requests)::

    "100/minute"                     # also "10/second;500/minute", "100 per minute"

or a mapping of what to count to such a string::

    {"requests": "100/minute", "documents": "10000/minute", "tokens": "1000000/minute"}

Limits use a moving window: no span of the period's length (so no shorter span either) holds
more than its amount. Each window is kept :data:`HEADROOM` longer than its period, so that a vendor
counting the same limit is not reached faster either, although requests reach it a little after
they were counted here, and not all equally late. Every :class:`RateLimit` with the same ``key``
and storage counts against the same windows: in memory, within the process (the default); in
Redis (``storage="redis://host:port/db"``, ``pip install 'multirerank[redis]'``), across every
process using that Redis, whose clocks must agree. :meth:`RateLimit.acquire` sleeps until every limit has room for a call's cost, and
:meth:`RateLimit.aacquire` awaits the same; neither ever holds a thread or a lock while waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from limits import RateLimitItem, parse_many
from limits.aio.storage import MovingWindowSupport as AsyncWindows
from limits.storage import MemoryStorage
from limits.storage import MovingWindowSupport as SyncWindows

from multirerank import ratelimit_storage
from multirerank.errors import ConfigurationError, RerankInputError, RerankTimeoutError

#: What a limit can count, in the order costs are checked.
KINDS = ("requests", "documents", "tokens")

#: Seconds added to each computed wait, so that the entry it waits for has expired when it wakes.
_MARGIN = 0.002

#: Seconds each window is kept longer than its period. A request reaches the vendor a moment after
#: it was counted here, and not always the same moment (the first on a new connection, one whose
#: thread waited its turn): with windows of exactly the period, the first and the last request of
#: two windows in a row can reach a vendor counting the same limit less than a period apart.
HEADROOM = 0.05


@dataclass(frozen=True)
class RateLimit:
    """Limits on what one ``key`` sends, shared by every user of that key and storage.

    ``limits`` pairs a kind from :data:`KINDS` with one ``limits.RateLimitItem`` (a kind may have
    several, e.g. per second and per minute). ``storage`` is a ``limits`` storage URI:
    ``"memory://"`` or a Redis one (``redis://``, ``rediss://``, ``redis+unix://``...).
    """

    key: str
    limits: tuple[tuple[str, RateLimitItem], ...]
    storage: str = ratelimit_storage.MEMORY

    @classmethod
    def parse(cls, spec: str | Mapping[str, str], *, key: Hashable, storage: str | None = None) -> RateLimit:
        """The limits ``spec`` describes (see the module's docstring), counted under ``key``: a
        string, or another hashable whose ``repr`` is the same in every process (a tuple of
        strings, such as a route's key).

        Raises :class:`ConfigurationError` naming ``rate_limit`` (or ``rate_limit_storage``) for a
        spec that does not parse, an unknown kind, an amount of 0 or an unsupported storage URI.
        """
        name = key if isinstance(key, str) else repr(key)
        if key is None or not name:
            raise ConfigurationError(f"a rate limit needs a key: a non-empty string or a tuple; got {key!r}")
        entries = {"requests": spec} if isinstance(spec, str) else spec
        if not isinstance(entries, Mapping) or not entries:
            raise ConfigurationError(
                f"rate_limit must be a string like '100/minute' or a mapping of {', '.join(KINDS)} "
                f"to such strings; got {spec!r}"
            )
        unknown = sorted(str(kind) for kind in entries if kind not in KINDS)
        if unknown:
            raise ConfigurationError(
                f"rate_limit counts {', '.join(KINDS)}; got unknown {', '.join(map(repr, unknown))}"
            )
        parsed = tuple(
            (kind, item) for kind in KINDS if kind in entries for item in _items(kind, entries[kind])
        )
        uri = ratelimit_storage.check_uri(storage)
        return cls(name, parsed, uri)

    def acquire(
        self, *, requests: int = 1, documents: int = 0, tokens: int = 0, deadline: float | None = None
    ) -> None:
        """Block until every limit has room for this cost, then take it.

        ``deadline`` is a :func:`time.monotonic` time. Raises :class:`RerankTimeoutError`
        (``code="rate_limit"``, ``retry_after``: seconds until a slot opens) as soon as the next
        slot would open after the deadline, :class:`RerankInputError` when a cost exceeds a
        limit's whole amount (it could never be sent), and :class:`ConfigurationError` when the
        storage cannot be reached.
        """
        costs = self._costs(requests, documents, tokens)
        if not costs:
            return
        limiter = ratelimit_storage.sync_limiter(self.storage)
        while True:
            with ratelimit_storage.translated(self.storage):
                wait = _attempt_sync(limiter, self._ids, costs)
            if wait is None:
                return
            time.sleep(self._checked(wait, deadline))

    async def aacquire(
        self, *, requests: int = 1, documents: int = 0, tokens: int = 0, deadline: float | None = None
    ) -> None:
        """The async twin of :meth:`acquire`: waits with :func:`asyncio.sleep`, same errors."""
        costs = self._costs(requests, documents, tokens)
        if not costs:
            return
        while True:
            with ratelimit_storage.translated(self.storage):
                limiter = await ratelimit_storage.async_limiter(self.storage)
                if limiter is None:  # in memory: the shared sync storage, which never blocks
                    wait = _attempt_sync(ratelimit_storage.sync_limiter(self.storage), self._ids, costs)
                else:
                    wait = await _attempt_async(limiter, self._ids, costs)
            if wait is None:
                return
            await asyncio.sleep(self._checked(wait, deadline))

    def describe(self) -> str:
        """The limits in words, e.g. ``"20 requests per 1 second, 500 documents per 1 minute"``."""
        return ", ".join(f"{item.amount} {kind} per {_period(item)}" for kind, item in self.limits)

    @property
    def _ids(self) -> tuple[str, str]:
        # With the kind and the limit's amount and period, limits makes the storage key of each.
        return ("multirerank", self.key)

    def _costs(self, requests: int, documents: int, tokens: int) -> list[tuple[str, RateLimitItem, int]]:
        amounts = {"requests": requests, "documents": documents, "tokens": tokens}
        for kind, amount in amounts.items():
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise RerankInputError(
                    f"a rate limit cost of {kind} must be a whole number, at least 0; got {amount!r}"
                )
        costs = [(kind, item, amounts[kind]) for kind, item in self.limits if amounts[kind] > 0]
        for kind, item, cost in costs:
            if cost > item.amount:
                raise RerankInputError(
                    f"one call costs {cost} {kind}, more than rate_limit allows in a whole window "
                    f"({item.amount} per {_period(item)}); raise the limit or send smaller requests"
                )
        return costs

    def _checked(self, wait: float, deadline: float | None) -> float:
        """``wait`` seconds, plus a margin; a timeout error when the deadline comes first."""
        wait = max(wait, 0.0) + _MARGIN
        if deadline is not None:
            left = deadline - time.monotonic()
            if wait > left:
                raise RerankTimeoutError(
                    f"rate limit {self.key!r} ({self.describe()}) has no room before the deadline: "
                    f"the next slot opens in {wait:.3f}s, the deadline is in {max(left, 0.0):.3f}s",
                    code="rate_limit",
                    retryable=False,
                    retry_after=wait,
                )
        return wait


Costs = list[tuple[str, RateLimitItem, int]]


def _attempt_sync(limiter: ratelimit_storage.SyncLimiter, ids: tuple[str, ...], costs: Costs) -> float | None:
    """Take ``costs`` from every limit and return ``None``, or the seconds to wait before trying again.

    Each limit is tested (over its period and :data:`HEADROOM`) before any is taken, so a call
    that one limit refuses does not use up the others. Should another caller take the room
    between the test and the take, what this attempt took is left taken (counted, never sent):
    the limits may be spent early, but never exceeded.
    """
    storage = cast(SyncWindows, limiter.storage)
    kept = isinstance(storage, MemoryStorage)
    waits = [
        _wait_for(storage.get_moving_window(*_window(item, ids, kind)), item, cost)
        for kind, item, cost in costs
    ]
    if any(wait is not None for wait in waits):
        return max(wait for wait in waits if wait is not None)
    for kind, item, cost in costs:
        key, amount, span = _window(item, ids, kind)
        if not storage.acquire_entry(key, amount, _kept(item, kept), cost):
            return _wait_for(storage.get_moving_window(key, amount, span), item, cost) or _MARGIN
    return None


async def _attempt_async(
    limiter: ratelimit_storage.AsyncLimiter, ids: tuple[str, ...], costs: Costs
) -> float | None:
    """:func:`_attempt_sync` over an async storage (Redis)."""
    storage = cast(AsyncWindows, limiter.storage)
    waits = [
        _wait_for(await storage.get_moving_window(*_window(item, ids, kind)), item, cost)
        for kind, item, cost in costs
    ]
    if any(wait is not None for wait in waits):
        return max(wait for wait in waits if wait is not None)
    for kind, item, cost in costs:
        key, amount, span = _window(item, ids, kind)
        if not await storage.acquire_entry(key, amount, _kept(item, False), cost):
            return _wait_for(await storage.get_moving_window(key, amount, span), item, cost) or _MARGIN
    return None


def _window(item: RateLimitItem, ids: tuple[str, ...], kind: str) -> tuple[str, int, Any]:
    """The storage key of a limit, its amount, and how far back it is tested: its period and
    :data:`HEADROOM` (a float, which the storages' window reads take)."""
    return item.key_for(*ids, kind), item.amount, item.get_expiry() + HEADROOM


def _kept(item: RateLimitItem, in_memory: bool) -> Any:
    """How long a taken entry is kept, long enough for the test to see it: in memory its period
    and :data:`HEADROOM`; in Redis, whose key expiry counts whole seconds, its period, since the
    key's list holds the newest entries for as long as it lives."""
    return item.get_expiry() + HEADROOM if in_memory else item.get_expiry()


def _wait_for(window: tuple[float, int], item: RateLimitItem, cost: int) -> float | None:
    """``None`` when the tested window ``(oldest entry, entries)`` has room for ``cost``, else the
    seconds until its oldest entry leaves it."""
    start, count = window
    if count + cost <= item.amount:
        return None
    return start + item.get_expiry() + HEADROOM - time.time()


def _items(kind: str, text: object) -> list[RateLimitItem]:
    field = f"rate_limit[{kind!r}]" if kind != "requests" else "rate_limit (or its 'requests')"
    if not isinstance(text, str):
        raise ConfigurationError(f"{field} must be a string like '100/minute'; got {text!r}")
    try:
        items = list(parse_many(text))
    except ValueError:
        items = []
    if not items:
        raise ConfigurationError(
            f"{field} must look like '100/minute', '10 per second' or '10/second;500/minute'; got {text!r}"
        )
    for item in items:
        if item.amount < 1:
            raise ConfigurationError(f"{field} must allow at least 1 per period; got {text!r}")
    return items


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.multiples} {unit}" + ("s" if item.multiples != 1 else "")
