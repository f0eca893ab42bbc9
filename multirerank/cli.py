"""The ``multirerank`` command: rerank a file of documents from the shell.

Each subcommand is one ``add_*_parser`` function listed in :data:`_SUBCOMMANDS`; it adds its
parser and sets ``handler``, a function from the parsed arguments to an exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from multirerank.cli_batch import add_batch_parser
from multirerank.cli_evaluate import add_evaluate_parser
from multirerank.cli_support import CliError, SubParsers
from multirerank.engine import ProgressCallback, Reranker
from multirerank.errors import RerankError
from multirerank.prices import usage_line
from multirerank.testing.command import add_emulate_parser
from multirerank.types import RerankResponse

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
#: Standard output closed by its reader (``| head``): 128 + SIGPIPE, as a shell reports a
#: command that signal ended.
EXIT_BROKEN_PIPE = 141
FORMATS = ("auto", "json", "jsonl", "lines")

#: Words that mark an option name as a secret's (``api_key``, ``aws_session_token``, ``password``).
_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth")
#: The first characters of a JSON document that is a string, number, boolean or null.
_SCALAR_STARTS = frozenset('"-0123456789tfn')


@dataclass(frozen=True)
class InputFile:
    """What a documents file holds: each document as given, the text scored, and maybe a query."""

    items: list[Any]
    texts: list[str]
    query: str | None = None


# -- rerank -----------------------------------------------------------------------------------


def add_rerank_parser(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "rerank",
        help="rank the documents of a file by relevance to a query",
        description=(
            "Rank documents by relevance to a query. FILE is a JSON array of strings or of objects "
            'with a "text" field, an object {"query": ..., "documents": [...]}, JSON lines, or plain '
            "lines (one document each); '-' reads standard input."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="documents file, or '-' for standard input")
    parser.add_argument(
        "--model", default="local", help="model string such as 'local' (default) or 'local/<path>'"
    )
    parser.add_argument(
        "--fallback",
        action="append",
        default=[],
        metavar="MODEL",
        help="a model string to try when the ones before it fail (repeatable, tried in order)",
    )
    parser.add_argument("--deadline", type=float, help="seconds the whole call may take")
    parser.add_argument(
        "--cache",
        metavar="PATH",
        help=(
            "SQLite file of scores kept between runs (or a sqlite:/// or redis:// URL): documents "
            "scored before are not sent again"
        ),
    )
    parser.add_argument("--query", "-q", help='the query; defaults to the file\'s "query" field')
    parser.add_argument("--top-n", type=int, help="return only the best N documents")
    parser.add_argument("--score-threshold", type=float, help="drop documents scoring below this value")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="how to read FILE (default: guess)")
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "backend option, e.g. -o batch_size=16 (VALUE is read as JSON when it parses, except for "
            "keys, tokens, secrets and passwords, which stay text)"
        ),
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr for inputs sent in several requests (default: only on a terminal)",
    )
    parser.set_defaults(handler=run_rerank)


def run_rerank(args: argparse.Namespace) -> int:
    data = read_input(args.file, args.format)
    query = args.query if args.query is not None else data.query
    if query is None:
        raise CliError('no query: pass --query or give the file a "query" field')
    with (
        Reranker(
            args.model,
            fallbacks=args.fallback,
            deadline=args.deadline,
            cache=_cache_setting(args.cache),
            **parse_options(args.option),
        ) as reranker,
        progress_bar(reranker, query, data.texts, args.progress) as progress,
    ):
        response = reranker.rerank(
            query, data.texts, args.top_n, score_threshold=args.score_threshold, progress=progress
        )
    if args.json:
        print(json.dumps(json_report(query, response, data.items), ensure_ascii=False, indent=2))
    else:
        print(table(response, data.texts))
    return 0


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            # Not echoed: an option given wrongly may be a pasted secret.
            got = "no '='" if not equals else "no key before '='"
            raise CliError(f"--option must look like KEY=VALUE; one has {got}")
        options[key] = value if _is_secret_name(key) else _json_or_text(value)
    return options


def _is_secret_name(key: str) -> bool:
    """Whether ``key`` names a secret: a word of it ends with one of :data:`_SECRET_WORDS` or
    starts with ``auth`` (``authorization``).

    Words, not substrings, so counts such as ``max_tokens_per_doc`` are still read as JSON.
    """
    words = re.split(r"[^a-z0-9]+", key.lower())
    return any(word.endswith(_SECRET_WORDS) or word.startswith("auth") for word in words)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@contextmanager
def progress_bar(
    reranker: Reranker, query: str, texts: Sequence[str], wanted: bool | None
) -> Iterator[ProgressCallback | None]:
    """A tqdm bar on stderr when the engine will send several requests; ``wanted=None``: on a terminal only."""
    if wanted is False or reranker.count_requests(query, texts) < 2:
        yield None
        return
    from tqdm import tqdm

    # tqdm's disable=None turns the bar off when stderr is not a terminal.
    with tqdm(
        total=len(texts),
        unit="doc",
        desc="reranking",
        file=sys.stderr,
        leave=False,
        disable=None if wanted is None else False,
    ) as bar:

        def advance(documents: int) -> None:
            bar.update(documents)

        yield advance


# -- input ------------------------------------------------------------------------------------


def read_input(path: str, file_format: str = "auto") -> InputFile:
    """Documents (and maybe a query) from ``path``, or from standard input when it is ``-``."""
    content = _read_text(path)
    name = "<stdin>" if path == "-" else path
    kind = file_format if file_format != "auto" else _guess_format(path, content)
    if kind == "lines":
        texts = [line for line in content.splitlines() if line.strip()]
        return InputFile(list(texts), texts)
    if kind == "jsonl":
        return _from_json_lines(name, content)
    try:
        loaded = json.loads(content)
    except ValueError as error:
        raise CliError(f"{name} is not valid JSON: {error} (use --format lines to read plain text)") from None
    return _from_json(name, loaded)


def _read_text(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None


def _guess_format(path: str, content: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    start = content.lstrip()[:1]
    if start == "[":
        return "json"
    if start == "{":
        # One object is the {"query", "documents"} shape; several, one per line, are JSON lines.
        return "json" if _parses(content) else "jsonl"
    if start in _SCALAR_STARTS and _parses(content):
        # A whole input that is one JSON string, number, boolean or null is JSON that holds no
        # documents (_from_json says so), not a line of text to rank alone; --format lines says
        # otherwise.
        return "json"
    return "lines"


def _parses(content: str) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def _from_json(name: str, loaded: object) -> InputFile:
    if isinstance(loaded, list):
        return _from_items(name, loaded, "item")
    if isinstance(loaded, dict) and "documents" in loaded:
        query = loaded.get("query")
        if query is not None and not isinstance(query, str):
            raise CliError(f'{name}: "query" must be a string')
        documents = loaded["documents"]
        if not isinstance(documents, list):
            raise CliError(f'{name}: "documents" must be a JSON array')
        return InputFile(documents, _from_items(name, documents, "document").texts, query)
    if isinstance(loaded, dict) and "text" in loaded:
        return _from_items(name, [loaded], "item")
    expected = 'expected a JSON array of documents or an object with a "documents" array'
    if isinstance(loaded, dict):
        raise CliError(f"{name}: {expected}")
    raise CliError(f"{name}: {expected}, got {_json_type(loaded)} (--format lines reads it as plain text)")


def _from_json_lines(name: str, content: str) -> InputFile:
    from multirerank.json_lines import parsed_lines

    items: list[Any] = []
    texts: list[str] = []
    for number, item in parsed_lines(content.splitlines(), name, CliError):
        items.append(item)
        texts.append(_item_text(item, f"{name} line {number}"))
    return InputFile(items, texts)


def _from_items(name: str, items: list[Any], label: str) -> InputFile:
    texts = [_item_text(item, f"{name} {label} {index}") for index, item in enumerate(items)]
    return InputFile(items, texts)


def _item_text(item: object, where: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return str(item["text"])
    raise CliError(f'{where}: expected a string or an object with a "text" string, got {_json_type(item)}')


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object without a text string"
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")


# -- output -----------------------------------------------------------------------------------


def json_report(query: str, response: RerankResponse, items: Sequence[Any]) -> dict[str, Any]:
    return {
        "query": query,
        "provider": response.provider,
        "model": response.model,
        "score_scale": response.score_scale,
        "elapsed_seconds": round(response.elapsed_seconds, 6),
        "usage": dataclasses.asdict(response.usage) if response.usage is not None else None,
        "results": [
            {
                "index": result.index,
                "relevance_score": result.relevance_score,
                "document": items[result.index],
            }
            for result in response.results
        ],
    }


def table(response: RerankResponse, texts: Sequence[str], width: int | None = None) -> str:
    """Ranked documents as aligned columns, each text cut to fit the terminal."""
    rows = [
        (str(rank), f"{result.relevance_score:.4f}", str(result.index), texts[result.index])
        for rank, result in enumerate(response.results, start=1)
    ]
    header = ("rank", "score", "index", "text")
    widths = [max(len(header[column]), *(len(row[column]) for row in rows)) for column in range(3)]
    total = width or shutil.get_terminal_size((100, 24)).columns
    room = max(20, total - sum(widths) - 2 * len(widths))
    lines = [_row(header, widths, room)] + [_row(row, widths, room) for row in rows]
    lines.append(
        f"{len(rows)} of {len(texts)} documents; model {response.provider}/{response.model}; "
        f"{response.score_scale} scores; {response.elapsed_seconds:.2f} s; {usage_line(response.usage)}"
    )
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: Sequence[int], room: int) -> str:
    numbers = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=False))
    text = " ".join(cells[3].split())
    if len(text) > room:
        text = text[: room - 3].rstrip() + "..."
    return f"{numbers}  {text}"


# -- entry point ------------------------------------------------------------------------------

#: Every subcommand's parser-adding function. A module that adds one must import nothing heavy at
#: top level: the parser is built on every run.
_SUBCOMMANDS: list[Callable[[SubParsers], None]] = [
    add_rerank_parser,
    add_emulate_parser,
    add_evaluate_parser,
    add_batch_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multirerank", description="Rerank documents with any multirerank backend."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_parser in _SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    _quiet_model_loading()
    try:
        status = handler(args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below rather than at exit
        return status
    except BrokenPipeError:
        # Python's own recipe: point stdout at devnull so that the flush at exit is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (RerankError, CliError) as error:
        print(f"multirerank: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _quiet_model_loading() -> None:
    # Model loaders print weight-loading bars and notices meant for notebooks; in a command
    # they bury the answer. setdefault leaves a user's own choice alone.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _cache_setting(value: str | None) -> str | None:
    """``--cache``: a file path becomes a SQLite store's URL; a URL is the ``cache=`` setting."""
    if value is None:
        return None
    return value if "://" in value else f"sqlite:///{value}"
