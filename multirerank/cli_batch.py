"""``multirerank batch``: score a file of query-document pairs (JSONL or Parquet) into another.

The file is read whole into a pyarrow Table, scored by :mod:`multirerank.batch` in this process
(or by Ray actors with ``--ray``), and written in the same row order. A score cache makes a run
resumable: by default it is a SQLite file beside OUTPUT, so an interrupted run started again
sends only the pairs not scored yet. Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any

from multirerank.cli_support import CliError, SubParsers, positive_int

#: File name endings read and written as Parquet, and as JSON lines; any other is refused.
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: Exit status when OUTPUT was written but some rows failed (their ``error`` column says why),
#: as ``multirerank evaluate`` exits when some query failed.
EXIT_FAILED_ROWS = 1
#: The column of file row numbers added for Ray's actors, so that errors name a row by its place
#: in INPUT rather than in its batch; dropped from OUTPUT.
ROW_COLUMN = "__multirerank_row"
#: Ray Data's loggers that log an actor's error with its stack trace, which the command reports
#: as one line (an error that is not multirerank's still gets its traceback).
_RAY_ERROR_LOGGERS = ("ray.data.exceptions", "ray.data._internal.execution.streaming_executor_state")
#: CPUs Ray reserves per actor: scoring through a vendor's API waits on the network.
DEFAULT_ACTOR_CPUS = 0.25


def add_batch_parser(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="score a JSONL or Parquet file of query-document pairs into another",
        description=(
            "Score every row of INPUT (JSON lines or Parquet, by the file name's ending) and write the "
            "same rows, in order, with score, score_scale, provider, model and error columns to OUTPUT "
            "(its ending chooses the format too). Rows of one query go out together. With --groups each "
            "row holds a query and a list of candidates, and gets them ranked. Exit status 1 when some "
            "rows failed (OUTPUT is written, their error column says why), 2 on an error; an "
            "authentication, configuration or not-found error stops the run at once. An empty INPUT gives "
            "an empty OUTPUT (status 0)."
        ),
    )
    parser.add_argument("input", metavar="INPUT", help="pairs file (.jsonl or .ndjson, or .parquet or .pq)")
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        help="results file (.jsonl or .ndjson, or .parquet or .pq); not INPUT's own file, which is refused",
    )
    parser.add_argument("--model", required=True, help="model string, e.g. 'local' or 'cohere/rerank-v3.5'")
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, e.g. -o base_url=http://127.0.0.1:8080/cohere (as for 'rerank')",
    )
    parser.add_argument(
        "--cache",
        metavar="PATH",
        help="SQLite file (or sqlite:/// or redis:// URL) of scores kept between runs (default: OUTPUT.cache.sqlite)",
    )
    parser.add_argument("--no-cache", action="store_true", help="keep no scores: a re-run starts over")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="requests in flight (per actor with --ray; default 8)",
    )
    parser.add_argument("--rate-limit", metavar="LIMIT", help="client-side rate limit, e.g. 600/minute")
    parser.add_argument("--groups", action="store_true", help="rows hold a query and a list of candidates")
    parser.add_argument("--top-n", type=positive_int, help="with --groups: keep the best N candidates")
    parser.add_argument("--query-column", default="query")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", help="column naming each row in errors")
    parser.add_argument("--candidates-column", default="candidates")
    parser.add_argument(
        "--on-error",
        choices=("column", "raise"),
        default="column",
        help="write a failed row's error to its 'error' column (default) or stop at the first",
    )
    parser.add_argument(
        "--ray", action="store_true", help="score with Ray Data actors (pip install 'multirerank[ray]')"
    )
    parser.add_argument("--actors", type=positive_int, default=2, metavar="N", help="Ray actors (default 2)")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=10_000,
        metavar="ROWS",
        help="rows per Ray batch (default 10000); keep a query's rows together and sorted by query, "
        "since a query cut between batches costs a request more",
    )
    parser.add_argument(
        "--actor-cpus",
        type=float,
        default=DEFAULT_ACTOR_CPUS,
        metavar="CPUS",
        help=f"CPUs Ray reserves per actor (default {DEFAULT_ACTOR_CPUS}: API calls wait on the network)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only on a terminal)",
    )
    parser.set_defaults(handler=run_batch)


def run_batch(args: argparse.Namespace) -> int:
    from multirerank.cli import _cache_setting, parse_options

    for path, name in ((args.input, "INPUT"), (args.output, "OUTPUT")):
        _check_ending(path, name)
    check_not_input(args.input, args.output)
    check_writable(args.output)
    table = read_table(args.input)
    options = parse_options(args.option)
    cache = None if args.no_cache else _cache_setting(args.cache or f"{args.output}.cache.sqlite")
    columns = _column_options(args)
    started = time.perf_counter()
    if args.ray and table.num_rows:  # an empty INPUT has nothing to send: no cluster is started
        result, usage = _run_on_ray(table, args, options, cache, columns)
    else:
        result, usage = _run_here(table, args, options, cache, columns)
    write_table(result, args.output)
    print(summary(result, usage, time.perf_counter() - started, args.output, cache))
    first = _first_error(result)
    if first is None:
        return 0
    print(f"multirerank: some rows failed, the first: {first}", file=sys.stderr)
    return EXIT_FAILED_ROWS


def _first_error(table: Any) -> str | None:
    if "error" not in table.column_names:
        return None
    return next((error for error in table.column("error").to_pylist() if error is not None), None)


def _check_ending(path: str, name: str) -> None:
    if not path.lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES):
        endings = ", ".join(JSONL_SUFFIXES + PARQUET_SUFFIXES)
        raise CliError(f"{name} {path} must end in one of {endings} (its ending chooses the format)")


def check_not_input(source: str, output: str) -> None:
    """Refuse an OUTPUT that is INPUT's file, which writing the results would replace: the same
    path once ``..`` and symbolic links are resolved, or (when OUTPUT exists) the same file under
    another name, such as a hard link."""
    same = os.path.realpath(source) == os.path.realpath(output)
    # samefile compares devices and inodes (hard links); it fails when OUTPUT does not exist
    # yet, which then cannot be INPUT.
    with contextlib.suppress(OSError):
        same = same or os.path.samefile(source, output)
    if same:
        raise CliError(f"OUTPUT {output} is the INPUT file {source}: writing it would replace the input")


def check_writable(path: str) -> None:
    """Fail before any scoring when OUTPUT's folder is missing or cannot be written: a file is
    made there and removed, which tells more truly than permission bits (root, read-only mounts)."""
    import tempfile

    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise CliError(f"cannot write {path}: it is a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".multirerank-", suffix=".check"):
            pass
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error} ({folder})") from None


def _column_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"query_column": args.query_column, "on_error": args.on_error}
    if args.groups:
        options.update(candidates_column=args.candidates_column, top_n=args.top_n)
    else:
        options.update(text_column=args.text_column, id_column=args.id_column)
    return options


def _run_here(
    table: Any, args: argparse.Namespace, options: dict[str, Any], cache: str | None, columns: dict[str, Any]
) -> tuple[Any, Any]:
    from tqdm import tqdm

    from multirerank.batch import BatchReranker

    with (
        BatchReranker(
            args.model, concurrency=args.concurrency, cache=cache, rate_limit=args.rate_limit, **options
        ) as batch,
        # tqdm: the project's progress bars (already a dependency); disable=None hides it off a terminal.
        tqdm(
            total=table.num_rows,
            unit="row",
            desc="scoring",
            file=sys.stderr,
            disable=None if args.progress is None else not args.progress,
        ) as bar,
    ):
        score = batch.rerank_groups if args.groups else batch.rerank_pairs
        result = score(table, progress=bar.update, **columns)
        return result, batch.usage


def _run_on_ray(
    table: Any, args: argparse.Namespace, options: dict[str, Any], cache: str | None, columns: dict[str, Any]
) -> tuple[Any, Any]:
    try:
        import ray
        import ray.data
    except ImportError:
        raise CliError("--ray needs Ray: pip install 'multirerank[ray]'") from None
    import pyarrow as pa

    from multirerank.batch import RerankBatch
    from multirerank.types import Usage

    @ray.remote(num_cpus=0)
    class UsageSink:
        """Adds up the usage every actor's batches report."""

        def __init__(self) -> None:
            self.usage = Usage()

        def add(self, fields: dict[str, Any]) -> None:
            self.usage = self.usage + Usage(**fields)

        def total(self) -> Usage:
            return self.usage

    if not ray.is_initialized():
        ray.init(logging_level=logging.WARNING, include_dashboard=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # OUTPUT's rows in INPUT's order
    context.enable_progress_bars = args.progress is not False
    # The actor's own error, not Ray Data's UserCodeException (whose cause is lost in pickling),
    # reported as one line below rather than logged with Ray's stack trace too.
    context.raise_original_map_exception = True
    for name in _RAY_ERROR_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    sink = UsageSink.remote()  # type: ignore[attr-defined]
    constructor = {
        "model": args.model,
        "mode": "groups" if args.groups else "pairs",
        "concurrency": args.concurrency,
        "actors": args.actors,
        "rate_limit": args.rate_limit,
        "cache": cache,
        "usage_sink": sink,
        "row_column": ROW_COLUMN,
        **columns,
        **options,
    }
    if ROW_COLUMN in table.column_names:
        raise CliError(f"{args.input} has a column {ROW_COLUMN!r}, which --ray uses for row numbers")
    table = table.append_column(ROW_COLUMN, pa.array(range(table.num_rows), type=pa.int64()))
    size = args.batch_size
    # One block per batch, so that every actor has work from the start.
    blocks = [table.slice(start, size) for start in range(0, table.num_rows, size)] or [table]
    dataset = ray.data.from_arrow(blocks).map_batches(
        RerankBatch,
        fn_constructor_kwargs=constructor,
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        batch_format="pyarrow",
        batch_size=size,
        num_cpus=args.actor_cpus,
    )
    try:
        parts = [ray.get(ref) for ref in dataset.to_arrow_refs()]
    except Exception as error:
        cause = _rerank_cause(error)
        if cause is None:
            raise
        raise cause from None
    result = pa.concat_tables(parts) if parts else table
    result = result.drop_columns([ROW_COLUMN])
    # Every batch's usage was added before its rows came back.
    usage = ray.get(sink.total.remote())
    ray.kill(sink)
    return result, usage


def _rerank_cause(error: BaseException) -> BaseException | None:
    """The multirerank error inside Ray's task errors (``RayTaskError(UserCodeException)``, whose
    ``cause``, or whose cause's ``__cause__``, is the error the actor raised), or None."""
    from multirerank.errors import RerankError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # RayTaskError(RerankInputError) is a RerankInputError too, but its message is Ray's trace.
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            current = cause
            continue
        if isinstance(current, RerankError):
            return current
        current = current.__cause__
    return None


def read_table(path: str) -> Any:
    """INPUT as a pyarrow Table: Parquet or JSON lines by its ending (one object a line;
    every field any line has becomes a column, null where a line lacks it)."""
    pa = _pyarrow()
    if path.lower().endswith(PARQUET_SUFFIXES):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as error:
            raise CliError(f"cannot read {path} as Parquet: {error}") from None
    from multirerank.json_lines import file_lines

    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, row in file_lines(path, CliError):
        if not isinstance(row, dict):
            raise CliError(f"{path} line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
        lines.append(number)
    return _columns_of(pa, path, rows, lines)


def _columns_of(pa: Any, path: str, rows: list[dict[str, Any]], lines: list[int]) -> Any:
    """JSON objects as a table: every field any line has (missing ones null, as JSON's null is),
    fields in order of first appearance. A field whose values do not share one type is refused,
    naming the first line that differs from the field's first value."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns: dict[str, Any] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise CliError(_type_clash(pa, path, name, values, lines)) from None
    return pa.table(columns) if names else pa.table({})


def _type_clash(pa: Any, path: str, name: str, values: list[Any], lines: list[int]) -> str:
    first = next((row for row, value in enumerate(values) if value is not None), 0)
    for row, value in enumerate(values):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            return f"{path} line {lines[row]}: field {name!r} is an integer too large for a 64-bit column"
        try:
            pa.array([values[first], value])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return (
                f"{path} line {lines[row]}: field {name!r} is {_json_kind(value)}, but on line "
                f"{lines[first]} it is {_json_kind(values[first])}; a field's values must share one type"
            )
    return f"{path}: field {name!r} cannot be read as one column (its values do not share one type)"


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and value != value:
        return "NaN"
    kinds = {str: "a string", int: "a number", float: "a number", list: "an array", dict: "an object"}
    return kinds.get(type(value), type(value).__name__)


def write_table(table: Any, path: str) -> None:
    """``table`` to ``path``, through a temporary file so a failed run leaves no half file."""
    partial = f"{path}.partial"
    try:
        if path.lower().endswith(PARQUET_SUFFIXES):
            import pyarrow.parquet as pq

            pq.write_table(table, partial)
        else:
            with open(partial, "w", encoding="utf-8") as stream:
                for row in table.to_pylist():
                    stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(partial, path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None


def summary(table: Any, usage: Any, seconds: float, output: str, cache: str | None) -> str:
    """One line: rows, failures, time, and the usage billed, failed calls' included (see
    :func:`multirerank.prices.usage_line`; a request the vendor refused is not billed)."""
    from multirerank.prices import usage_line

    rows = table.num_rows
    failed = rows - table.column("error").null_count if "error" in table.column_names else 0
    used = usage_line(usage)
    from multirerank.redaction import redacted_url

    kept = f"; scores kept in {redacted_url(cache)}" if cache else ""
    return f"{rows} rows ({failed} failed) to {output} in {seconds:.1f} s; billed: {used}{kept}"


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise CliError("multirerank batch needs pyarrow: pip install 'multirerank[batch]'") from None
    return pa


