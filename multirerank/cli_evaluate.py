"""``multirerank evaluate``: compare rerankers on labelled queries from the shell (the work is
in :mod:`multirerank.evaluation`).

Imports nothing heavy at top level: the parser is built on every run of the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from multirerank.cli_support import CliError, SubParsers, positive_int

#: Exit status when the report was printed but some query's call failed.
EXIT_FAILED_QUERIES = 1


class _ModelAction(argparse.Action):
    """``--model M``: starts a new model entry, which the ``-o`` options after it configure."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        namespace.models = [*(namespace.models or []), {"model": values, "options": []}]


class _OptionAction(argparse.Action):
    """``-o KEY=VALUE``: an option of the model named just before it."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        if not namespace.models:
            # The key only: the value may be a secret (api_key=...).
            key = str(values).partition("=")[0]
            parser.error(f"{option_string} {key}=...: give it after the --model it configures")
        namespace.models[-1]["options"].append(values)


def add_evaluate_parser(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare rerankers' nDCG, MRR, recall, MAP, latency and cost on labelled queries",
        description=(
            "Rerank each judged query's top DEPTH candidates of a TREC run with every --model and print "
            "nDCG@10, MRR@10, Recall@100 and MAP (ir-measures) per model beside the run's own order, with "
            "latency p50/p95 per query, requests and cost. Texts come from BEIR-style corpus.jsonl and "
            "queries.jsonl; qrels are TREC or BEIR TSV. Exit status 1 when some query's call failed "
            "(that query is measured in the retrieval order), 2 on an error."
        ),
    )
    parser.add_argument(
        "--dataset",
        metavar="NAME|DIR",
        help="the shipped set 'household', or a folder holding corpus.jsonl, queries.jsonl, "
        "qrels/test.tsv and run.trec",
    )
    parser.add_argument(
        "--qrels", metavar="PATH", help="judgements, TREC or BEIR TSV (overrides --dataset's)"
    )
    parser.add_argument("--run", metavar="PATH", help="TREC run file to rerank (overrides --dataset's)")
    parser.add_argument(
        "--corpus",
        metavar="PATH",
        help="corpus.jsonl (default: --dataset's, or beside --qrels or in its parent)",
    )
    parser.add_argument(
        "--queries",
        metavar="PATH",
        help="queries.jsonl (default: --dataset's, or beside --qrels or in its parent)",
    )
    parser.add_argument(
        "--model",
        dest="models",
        action=_ModelAction,
        required=True,
        metavar="MODEL",
        help="a model string to evaluate (repeatable; each is one row)",
    )
    parser.add_argument(
        "--option",
        "-o",
        action=_OptionAction,
        metavar="KEY=VALUE",
        help="option of the --model before it, e.g. -o base_url=http://127.0.0.1:8080/tei (VALUE read "
        "as JSON when it parses, except keys, tokens, secrets and passwords); -o name=LABEL names its row",
    )
    parser.add_argument(
        "--depth", type=positive_int, default=100, help="candidates reranked per query (default: 100)"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=1, help="queries reranked at once per model (default: 1)"
    )
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first failed query instead of measuring it in the retrieval order",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument(
        "--chart",
        metavar="PNG",
        help="also draw a chart comparing the models to this file (its folder made if missing)",
    )
    parser.add_argument(
        "--save-runs",
        metavar="DIR",
        help="also write each row's ranking to DIR as a TREC run file (<name>.trec), for trec_eval and others",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only on a terminal)",
    )
    parser.set_defaults(handler=run_evaluate, models=[])


def run_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from multirerank.cli import parse_options
    from multirerank.evaluation import evaluate

    if args.dataset is None and (args.qrels is None or args.run is None):
        raise CliError("give --dataset, or both --qrels and --run")
    models = [{"model": entry["model"], **parse_options(entry["options"])} for entry in args.models]
    for model in models:
        if "name" in model and not isinstance(model["name"], str):
            model["name"] = json.dumps(model["name"])
    with tqdm(
        unit="query",
        desc="evaluating",
        file=sys.stderr,
        leave=False,
        disable=None if args.progress is None else not args.progress,
    ) as bar:
        report = evaluate(
            models,
            dataset=args.dataset,
            qrels=args.qrels,
            run=args.run,
            corpus=args.corpus,
            queries=args.queries,
            depth=args.depth,
            concurrency=args.concurrency,
            on_error="raise" if args.fail_fast else "baseline",
            progress=bar.update,
        )
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.table())
    _report_failures(report.rows)
    # Written after the report is printed: a file that cannot be written loses no measurement.
    _write_files(report, args)
    return EXIT_FAILED_QUERIES if report.failed else 0


def _write_files(report: Any, args: argparse.Namespace) -> None:
    """--chart and --save-runs; a CliError (exit 2) naming the file when one cannot be written."""
    if args.chart:
        try:
            report.chart(args.chart)
        except OSError as error:
            raise CliError(f"cannot write the chart to {args.chart}: {error.strerror or error}") from None
        if not args.json:
            print(f"chart: {args.chart}")
    if args.save_runs:
        try:
            report.write_runs(args.save_runs)
        except OSError as error:
            raise CliError(f"cannot write the runs to {args.save_runs}: {error.strerror or error}") from None


#: Failures printed per model; --json lists them all.
_SHOWN_FAILURES = 3


def _report_failures(rows: Sequence[Any]) -> None:
    for row in rows:
        for failure in row.failures[:_SHOWN_FAILURES]:
            print(
                f"multirerank: {row.name}: query {failure.query_id} failed ({failure.error}: {failure.message}); "
                "measured in the retrieval order",
                file=sys.stderr,
            )
        if len(row.failures) > _SHOWN_FAILURES:
            more = len(row.failures) - _SHOWN_FAILURES
            queries = "query" if more == 1 else "queries"
            print(
                f"multirerank: {row.name}: {more} more {queries} failed (--json lists them)", file=sys.stderr
            )


