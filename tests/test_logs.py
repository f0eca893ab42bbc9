"""What the engine logs, and under which module loggers: retries, fallbacks, cooldowns."""

from __future__ import annotations

import logging

import pytest

from multirerank import Reranker
from multirerank.errors import ProviderError, ThrottledError
from multirerank.health import ROUTE_HEALTH
from multirerank.routing import Router
from tests.memory_backend import MemoryBackend


def failure(status: int = 503) -> ProviderError:
    return ProviderError("the model server is restarting", provider="memory", status=status, retry_after=0)


def records(caplog: pytest.LogCaptureFixture, logger: str) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records if record.name == logger]


def test_a_retry_is_logged_with_its_delay_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    backend = MemoryBackend(max_retries=1, fail_on={1: failure()})
    with caplog.at_level(logging.INFO, logger="multirerank"):
        Reranker(backend).rerank("a", ["a", "b"])
    [(level, message)] = records(caplog, "multirerank.engine.retries")
    assert level == logging.INFO
    assert (
        message
        == "retrying a memory request in 0.00 s after ProviderError, status 503 (failure 1 of this request)"
    )


def test_throttling_retries_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    throttled = ThrottledError("slow down", provider="memory", status=429, retry_after=0)
    backend = MemoryBackend(max_retries=1, fail_on={1: throttled})
    with caplog.at_level(logging.INFO, logger="multirerank"):
        Reranker(backend).rerank("a", ["a", "b"])
    [(level, message)] = records(caplog, "multirerank.engine.retries")
    assert level == logging.WARNING and "after ThrottledError, status 429" in message


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_fallbacks_and_cooldowns_are_logged(caplog: pytest.LogCaptureFixture, mode: str) -> None:
    ROUTE_HEALTH.clear()
    first = MemoryBackend(model="first", fail_on={1: failure()})
    reranker = Reranker(Router([first, MemoryBackend(model="second")], allowed_fails=1, cooldown_seconds=60))
    with caplog.at_level(logging.INFO, logger="multirerank"):
        if mode == "sync":
            reranker.rerank("a", ["a", "b"])
        else:
            await reranker.arerank("a", ["a", "b"])
    ROUTE_HEALTH.clear()
    [(level, message)] = records(caplog, "multirerank.engine.routed")
    assert level == logging.WARNING
    assert (
        message == "route memory/first failed (ProviderError, status 503); moving the call to the next route"
    )
    [(level, message)] = records(caplog, "multirerank.health")
    assert level == logging.WARNING and "cools down for 60 s after failing" in message
    assert "'memory', 'first'" in message
