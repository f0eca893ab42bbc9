"""Fixtures any test module may ask for; what only some modules share is in the ``*_support`` modules."""

from __future__ import annotations

import pytest

from multirerank import registry
from tests.leak_support import pytest_terminal_summary  # noqa: F401 - prints the secrets tally
from tests.memory_backend import REGISTRY_TARGET


@pytest.fixture
def memory_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-memory backend registered as provider ``memory``, for model strings like ``memory/x``."""
    monkeypatch.setitem(registry.PROVIDERS, "memory", REGISTRY_TARGET)
