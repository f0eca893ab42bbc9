"""What a router knows about each route: its cooldown (a circuit breaker), calls in flight, latency.

A route is one way to serve a call (a provider, model, base URL and credentials); the router
names it by any hashable key. :data:`ROUTE_HEALTH` holds one :class:`RouteState` per key for the
whole process, so every router and reranker sending to the same route sees the same state.

A route's cooldown goes through three states:

- **closed**: calls go through. ``allowed_fails`` failures within the last ``cooldown_seconds``
  put the route in cooldown.
- **cooling**: no calls for ``cooldown_seconds``.
- **half-open**: after the cooldown exactly one call, the probe, goes through; the others are
  refused until it ends. Its success closes the route (its failures forgotten); its failure cools
  it again for ``cooldown_seconds``.

While a route cools or probes, only the probe's outcome changes its cooldown: calls that began
before it count in flight and latency, and that is all. The :class:`Cooldown` policy is given with
each call, so routers with different policies can share a route's state.

Thread-safe, and cheap enough to call from async code (a lock held for microseconds, no I/O).
Times come from ``clock`` (:func:`time.monotonic` unless a test injects another), in seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import TracebackType

from multirerank.errors import ConfigurationError
from multirerank.redaction import module_logger

logger = module_logger(__name__)


@dataclass(frozen=True)
class Cooldown:
    """When a route cools: after ``allowed_fails`` failures (at least 1) within ``seconds``, for
    ``seconds``. ``seconds=0`` turns cooldown off: failures are not even counted."""

    allowed_fails: int = 3
    seconds: float = 30.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.allowed_fails, bool)
            or not isinstance(self.allowed_fails, int)
            or self.allowed_fails < 1
        ):
            raise ConfigurationError(
                f"allowed_fails must be a whole number, at least 1; got {self.allowed_fails!r}"
            )
        if (
            isinstance(self.seconds, bool)
            or not isinstance(self.seconds, (int, float))
            or not 0 <= self.seconds < float("inf")
        ):
            raise ConfigurationError(
                f"cooldown_seconds must be a finite number of seconds, at least 0; got {self.seconds!r}"
            )


class RouteCall:
    """One call on a route, from :meth:`RouteState.begin` to :meth:`end`. Used as a context
    manager, it ends without a verdict if :meth:`end` was not called (a call cancelled, or failed
    in a way that says nothing about the route)."""

    def __init__(self, state: RouteState, policy: Cooldown, started: float, probe: bool) -> None:
        self.state = state
        self.policy = policy
        #: When the call began, on the registry's clock.
        self.started = started
        #: Whether this is the half-open probe, whose outcome decides the route's cooldown.
        self.probe = probe
        self.ended = False

    def end(self, success: bool | None, latency: float | None = None) -> None:
        """Record the outcome: ``True`` (the route served it), ``False`` (the route failed: counts
        toward cooldown) or ``None`` (no verdict). ``latency`` in seconds, else measured from
        :attr:`started`; only successes feed the latency average. Later calls do nothing."""
        self.state._end(self, success, latency)

    def __enter__(self) -> RouteCall:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.end(None)


class RouteState:
    """One route's cooldown, calls in flight and latency; made by :meth:`RouteHealth.get`."""

    def __init__(self, key: Hashable, clock: Callable[[], float], latency_weight: float) -> None:
        self.key = key
        self._clock = clock
        self._weight = latency_weight
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._cooling_until: float | None = None
        self._probing = False
        self._in_flight = 0
        self._latency: float | None = None

    @property
    def in_flight(self) -> int:
        """Calls begun and not yet ended."""
        return self._in_flight

    @property
    def latency(self) -> float | None:
        """Exponentially weighted moving average of successful calls' seconds; ``None`` before one."""
        return self._latency

    @property
    def cooling_until(self) -> float | None:
        """When the current cooldown ends (clock time), ``None`` when the route is closed."""
        return self._cooling_until

    def status(self, now: float | None = None) -> str:
        """``"closed"``, ``"cooling"``, ``"half-open"`` (a probe may go) or ``"probing"``."""
        now = self._clock() if now is None else now
        with self._lock:
            if self._cooling_until is None:
                return "closed"
            if now < self._cooling_until:
                return "cooling"
            return "probing" if self._probing else "half-open"

    def available(self, now: float | None = None) -> bool:
        """Whether :meth:`begin` would let a call through now."""
        return self.status(now) in ("closed", "half-open")

    def begin(self, policy: Cooldown) -> RouteCall | None:
        """Start a call under ``policy``: its :class:`RouteCall`, or ``None`` (nothing counted) when
        the route is cooling or its probe is out."""
        now = self._clock()
        with self._lock:
            probe = False
            if self._cooling_until is not None:
                if now < self._cooling_until or self._probing:
                    return None
                self._probing = probe = True
            self._in_flight += 1
            return RouteCall(self, policy, now, probe)

    def _end(self, call: RouteCall, success: bool | None, latency: float | None) -> None:
        now = self._clock()
        with self._lock:
            was_cooling = self._cooling_until
            self._record_end(call, success, latency, now)
            cooling = self._cooling_until
        # Logged outside the lock. The key shows a hash of the credentials, never them.
        if cooling is not None and cooling != was_cooling:
            logger.warning("route %s cools down for %g s after failing", self.key, call.policy.seconds)
        elif was_cooling is not None and cooling is None:
            logger.info("route %s is back in use: its probe call succeeded", self.key)

    def _record_end(self, call: RouteCall, success: bool | None, latency: float | None, now: float) -> None:
        """:meth:`_end`'s bookkeeping, under the lock."""
        if call.ended:
            return
        call.ended = True
        self._in_flight -= 1
        if success:
            seconds = now - call.started if latency is None else latency
            previous = self._latency
            self._latency = seconds if previous is None else previous + self._weight * (seconds - previous)
        if call.probe:
            self._probing = False
            if success:
                self._cooling_until = None
                self._failures.clear()
            elif success is False:
                self._cooling_until = now + call.policy.seconds
        elif success is False and self._cooling_until is None:
            self._failed(now, call.policy)

    def _failed(self, now: float, policy: Cooldown) -> None:
        if policy.seconds == 0:
            return
        failures = self._failures
        failures.append(now)
        while failures and failures[0] <= now - policy.seconds:
            failures.popleft()
        if len(failures) >= policy.allowed_fails:
            self._cooling_until = now + policy.seconds


class RouteHealth:
    """The :class:`RouteState` of each route key; :data:`ROUTE_HEALTH` is the process's.

    ``latency_weight`` (above 0, at most 1) is the weight of the newest sample in the latency
    average. ``clock`` returns seconds; tests pass a fake one.
    """

    def __init__(self, *, latency_weight: float = 0.3, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < latency_weight <= 1:
            raise ConfigurationError(f"latency_weight must be above 0 and at most 1; got {latency_weight!r}")
        self._weight = latency_weight
        self._clock = clock
        self._states: dict[Hashable, RouteState] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> RouteState:
        """The state of the route ``key``, made (closed, idle, no latency) on first use."""
        with self._lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = RouteState(key, self._clock, self._weight)
            return state

    def clear(self) -> None:
        """Forget every route (tests)."""
        with self._lock:
            self._states.clear()


#: Every route's state in this process.
ROUTE_HEALTH = RouteHealth()
