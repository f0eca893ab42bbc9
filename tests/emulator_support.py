"""What every test module that talks to the wire emulator shares: its fixtures and the expected order."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pytest

from multirerank.testing import Emulator


def emulator_fixtures(
    name: str = "emulator", *, keep: Collection[str] = (), **options: Any
) -> tuple[Any, Any]:
    """The two fixtures of a module that talks to the emulator; assign them under their names::

        server, emulator = emulator_fixtures(tls=True)

    ``server`` runs one ``Emulator(**options)`` for all the module's tests: one server per module,
    as starting and stopping one for every test would be slow. ``name`` is that emulator for one
    test, with no requests, faults or state left from earlier tests, but the state keys in ``keep``.
    """

    @pytest.fixture(scope="module", name="server")
    def running() -> Iterator[Emulator]:
        with Emulator(**options) as emulator:
            yield emulator

    @pytest.fixture(name=name)
    def fresh(server: Emulator) -> Iterator[Emulator]:
        def clear() -> None:
            kept = {key: server.state[key] for key in keep if key in server.state}
            server.clear()
            server.state.clear()
            server.state.update(kept)

        clear()
        yield server
        clear()

    return running, fresh


def expected_order(emulator: Emulator, query: str, texts: list[str]) -> list[int]:
    """The indices of ``texts`` best first, as the emulator ranks them for ``query``."""
    return [index for index, _ in emulator.ranked(query, texts)]
