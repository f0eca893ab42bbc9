"""Checks that no secret shows, and a tally of what was checked, printed at the end of a run.

Every rendering a test looks at (an error's ``str``, its traceback, a repr, a dump, a log line) is
one surface; :func:`assert_no_secret` counts them, and the terminal summary says
``secrets: 0 leaks in N surfaces``. The hook is re-exported by ``conftest.py``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    """Surfaces checked in this run, and the leaks found."""

    surfaces: int = 0
    leaks: list[str] = field(default_factory=list)


TALLY = Tally()


def shows(text: str, secret: str) -> bool:
    """Whether ``text`` shows ``secret``, whatever its case (a URL's host may come back lower-cased)."""
    return secret.lower() in text.lower()


def assert_no_secret(surfaces: Mapping[str, str], secrets: Iterable[str], where: str = "") -> None:
    """No ``secrets`` in any of ``surfaces`` (name -> rendering); each counts in the tally."""
    wanted = [secret for secret in secrets if secret]
    assert wanted, "nothing to look for"
    found = []
    for name, text in surfaces.items():
        TALLY.surfaces += 1
        found += [f"{where} {name}: shows {secret!r}" for secret in wanted if shows(text, secret)]
    TALLY.leaks += found
    assert not found, "\n".join(found)


def chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception chained to it, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [link for link in (current.__cause__, current.__context__) if link is not None]


def error_surfaces(error: BaseException) -> dict[str, str]:
    """Everything of ``error`` a person or a log may see: ``str``, ``repr``, ``args``, attributes,
    the full traceback with its causes, and each chained exception's own text and attributes."""
    surfaces = {
        "str": str(error),
        "repr": repr(error),
        "args": repr(error.args),
        "attributes": repr(vars(error)),
        "traceback": "".join(traceback.format_exception(error)),
    }
    for depth, link in enumerate(list(chain(error))[1:], start=1):
        surfaces[f"chained {depth} ({type(link).__name__})"] = f"{link!s} {link!r} {vars(link)!r}"
    return surfaces


#: The loggers whose records must not show a secret: the project's, and those where the vendor
#: SDKs it drives log the vendor's error messages.
FILTERED_LOGGERS = ("multirerank", "dashscope", "ibm_watsonx_ai.wml_client_error")


def log_surfaces(records: Iterable[logging.LogRecord]) -> dict[str, str]:
    """The records of :data:`FILTERED_LOGGERS` as a handler writes them, tracebacks included."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return {
        f"log {number} ({record.name} {record.levelname})": formatter.format(record)
        for number, record in enumerate(records)
        if record.name in FILTERED_LOGGERS
    }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """``secrets: L leaks in N surfaces``, when any surface was checked."""
    if TALLY.surfaces:
        terminalreporter.write_line(f"secrets: {len(TALLY.leaks)} leaks in {TALLY.surfaces} surfaces")
