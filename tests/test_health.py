"""Route health: cooldown (closed, cooling, half-open), calls in flight and latency, on a fake clock."""

from __future__ import annotations

import asyncio
import threading

import pytest

from multirerank.errors import ConfigurationError
from multirerank.health import ROUTE_HEALTH, Cooldown, RouteCall, RouteHealth, RouteState


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


POLICY = Cooldown(allowed_fails=3, seconds=10.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> RouteState:
    return RouteHealth(clock=clock).get(("cohere", "rerank-v3.5", "https://api.cohere.com", "key-hash"))


def begin(state: RouteState, policy: Cooldown = POLICY) -> RouteCall:
    attempt = state.begin(policy)
    assert attempt is not None
    return attempt


def fail(state: RouteState, policy: Cooldown = POLICY) -> None:
    begin(state, policy).end(False)


def succeed(state: RouteState, latency: float | None = None) -> None:
    begin(state).end(True, latency)


def test_more_failures_than_allowed_within_the_window_cool_the_route(
    state: RouteState, clock: FakeClock
) -> None:
    fail(state)
    fail(state)
    assert state.status() == "closed"
    fail(state)
    assert state.status() == "cooling"
    assert state.cooling_until == clock.now + 10.0
    assert not state.available()
    assert state.begin(POLICY) is None
    assert state.in_flight == 0


def test_failures_older_than_the_window_do_not_count(state: RouteState, clock: FakeClock) -> None:
    fail(state)
    fail(state)
    clock.advance(10.0)
    fail(state)
    assert state.status() == "closed"
    fail(state)
    assert state.status() == "closed"
    fail(state)
    assert state.status() == "cooling"


def test_one_allowed_fail_cools_on_the_first_failure(state: RouteState) -> None:
    fail(state, Cooldown(allowed_fails=1, seconds=5.0))
    assert state.status() == "cooling"


def test_zero_cooldown_seconds_never_cools(state: RouteState) -> None:
    for _ in range(10):
        fail(state, Cooldown(allowed_fails=1, seconds=0))
    assert state.status() == "closed"


def test_after_the_cooldown_exactly_one_probe_goes_through(state: RouteState, clock: FakeClock) -> None:
    for _ in range(3):
        fail(state)
    clock.advance(9.999)
    assert state.begin(POLICY) is None
    clock.advance(0.001)
    assert state.status() == "half-open"
    assert state.available()
    probe = state.begin(POLICY)
    assert probe is not None and probe.probe
    assert state.status() == "probing"
    assert not state.available()
    assert state.begin(POLICY) is None
    assert state.in_flight == 1
    probe.end(True)
    assert state.status() == "closed"
    assert state.cooling_until is None
    # The failures before the cooldown are forgotten: two more are allowed again.
    fail(state)
    fail(state)
    assert state.status() == "closed"


def test_a_failed_probe_cools_the_route_again(state: RouteState, clock: FakeClock) -> None:
    for _ in range(3):
        fail(state)
    clock.advance(10.0)
    probe = state.begin(POLICY)
    assert probe is not None
    clock.advance(1.0)
    probe.end(False)
    assert state.status() == "cooling"
    assert state.cooling_until == clock.now + 10.0
    clock.advance(10.0)
    assert state.status() == "half-open"


def test_a_probe_ended_without_verdict_lets_another_probe_go(state: RouteState, clock: FakeClock) -> None:
    for _ in range(3):
        fail(state)
    clock.advance(10.0)
    with begin(state) as probe:
        assert probe.probe
    assert state.status() == "half-open"
    assert state.in_flight == 0
    assert state.begin(POLICY) is not None


def test_calls_begun_before_the_cooldown_do_not_change_it(state: RouteState, clock: FakeClock) -> None:
    early = [begin(state) for _ in range(3)]
    for _ in range(3):
        fail(state)
    until = state.cooling_until
    early[0].end(False)
    early[1].end(True)
    assert state.status() == "cooling"
    assert state.cooling_until == until
    clock.advance(10.0)
    probe = state.begin(POLICY)
    assert probe is not None
    early[2].end(True)
    assert state.status() == "probing"
    assert state.in_flight == 1


def test_in_flight_counts_calls_begun_and_not_ended(state: RouteState) -> None:
    attempts = [begin(state) for _ in range(3)]
    assert state.in_flight == 3
    attempts[0].end(True)
    attempts[0].end(False)  # a second end is ignored
    assert state.in_flight == 2
    for attempt in attempts[1:]:
        with attempt:
            pass
    assert state.in_flight == 0
    assert state.status() == "closed"


def test_latency_is_a_moving_average_of_successes(clock: FakeClock) -> None:
    state = RouteHealth(latency_weight=0.5, clock=clock).get("route")
    assert state.latency is None
    succeed(state, 1.0)
    assert state.latency == 1.0
    succeed(state, 3.0)
    assert state.latency == 2.0
    fail(state)  # failures and calls without verdict leave it alone
    with begin(state):
        clock.advance(100.0)
    assert state.latency == 2.0
    attempt = begin(state)
    clock.advance(4.0)
    attempt.end(True)  # measured on the clock: 4 seconds
    assert state.latency == 3.0


def test_states_are_shared_by_key(clock: FakeClock) -> None:
    health = RouteHealth(clock=clock)
    assert health.get(("a", 1)) is health.get(("a", 1))
    assert health.get(("a", 1)) is not health.get(("a", 2))
    assert isinstance(ROUTE_HEALTH.get("process-wide"), RouteState)
    assert ROUTE_HEALTH.get("process-wide") is ROUTE_HEALTH.get("process-wide")


def test_policy_and_weight_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="allowed_fails"):
        Cooldown(allowed_fails=0)
    with pytest.raises(ConfigurationError, match="cooldown_seconds"):
        Cooldown(seconds=-1)
    with pytest.raises(ConfigurationError, match="latency_weight"):
        RouteHealth(latency_weight=0)


def test_threads_racing_for_the_probe_get_exactly_one(state: RouteState, clock: FakeClock) -> None:
    for _ in range(3):
        fail(state)
    clock.advance(10.0)
    barrier = threading.Barrier(16)
    got = []

    def race() -> None:
        barrier.wait()
        got.append(state.begin(POLICY))

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(attempt is not None for attempt in got) == 1
    assert state.in_flight == 1


def test_concurrent_calls_keep_in_flight_exact(state: RouteState) -> None:
    def work() -> None:
        for _ in range(500):
            begin(state).end(True, 0.01)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.in_flight == 0


async def test_usable_from_async_code(state: RouteState) -> None:
    async def call() -> None:
        with begin(state) as attempt:
            await asyncio.sleep(0.01)
            attempt.end(True)

    tasks = [asyncio.create_task(call()) for _ in range(5)]
    await asyncio.sleep(0)
    assert state.in_flight == 5
    await asyncio.gather(*tasks)
    assert state.in_flight == 0
    assert state.latency is not None
