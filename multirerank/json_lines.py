"""JSON lines: one JSON value a line, blank lines skipped, every fault naming the line.

Shared by the command line (``rerank``'s JSON-lines input, ``batch``'s JSONL tables) and the
evaluation datasets (BEIR ``corpus.jsonl`` / ``queries.jsonl``); each passes the error type its
callers expect and checks the values' shape itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Builds the error to raise from its one-line message (``CliError``, ``RerankInputError``).
ErrorType = Callable[[str], Exception]


def parsed_lines(lines: Iterable[str], name: object, error: ErrorType) -> Iterator[tuple[int, Any]]:
    """``(line number from 1, value)`` of each non-blank line of ``lines``; a line that is not
    JSON raises ``error("<name> line <n> is not valid JSON: ...")``."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as problem:
            raise error(f"{name} line {number} is not valid JSON: {problem}") from None
        yield number, value


def file_lines(path: str | os.PathLike[str], error: ErrorType) -> Iterator[tuple[int, Any]]:
    """:func:`parsed_lines` of the UTF-8 file at ``path``; a file that cannot be read or is not
    UTF-8 raises ``error`` saying so."""
    try:
        with open(path, encoding="utf-8") as stream:
            yield from parsed_lines(stream, path, error)
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text") from None
    except OSError as problem:
        raise error(f"cannot read {path}: {problem.strerror or problem}") from None
