"""Emulated deployments for routing tests: several emulators at once, and an address that is down.

::

    with instances(3, rate_limit="10/second") as (first, second, third), closed_port() as down:
        fault = second.inject(status=503, times=None)  # answers 503 until withdrawn
        ...                                            # route over first.url, second.url, down
        second.withdraw(fault)                         # up again

Each emulator has its own port, faults, request log and rate limit.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from multirerank.testing.server import Emulator


@contextlib.contextmanager
def instances(count: int, /, **options: Any) -> Iterator[list[Emulator]]:
    """``count`` emulators, each ``Emulator(**options)`` on a port of its own (``port`` is not
    accepted: each picks a free one), running until the block ends. ``ValueError`` for a count
    below 1 or a bad option."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number, at least 1; got {count!r}")
    if "port" in options:
        raise ValueError("instances() picks a free port for each emulator; start them one by one for fixed ports")
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(Emulator(**options)) for _ in range(count)]


@contextlib.contextmanager
def closed_port(host: str = "127.0.0.1") -> Iterator[str]:
    """``http://host:port`` of a port nothing listens on: connecting is refused at once.

    The port is held (bound, never listening) until the block ends, so no other server takes it
    meanwhile, as it could take the port of an emulator that was stopped.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind((host, 0))
        yield f"http://{host}:{held.getsockname()[1]}"
