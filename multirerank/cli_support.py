"""What the ``multirerank`` command's modules share, so that subcommands living elsewhere
(``multirerank.testing.command``) need not import :mod:`multirerank.cli`, which imports them."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What ``add_subparsers`` returns; each subcommand adds its parser to it.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A problem with the command line or its input file, reported as one line."""


def positive_int(value: str) -> int:
    """An argparse ``type``: a whole number, at least 1 (a usage error otherwise)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1, got {value!r}")
    return number
