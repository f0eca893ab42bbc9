"""What the ``multirerank`` command's modules share, so that subcommands living elsewhere
(``multirerank.testing.command``) need not import :mod:`multirerank.cli`, which imports them."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What ``add_subparsers`` returns; each subcommand adds its parser to it.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A problem with the command line or its input file, reported as one line."""
