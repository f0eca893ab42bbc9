"""The README's backend table, rendered from :data:`multirerank.vendors.VENDORS`.

``python -m multirerank.vendors --readme-table`` prints it; ``--update-readme [PATH]`` rewrites
the table under ``## Backends`` in README.md (nothing else) in place. A test fails when the two
differ, so the table cannot drift from the specs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from multirerank.vendor_spec import VendorSpec
from multirerank.vendors import VENDORS

HEADING = "## Backends"
COLUMNS = (
    "backend",
    "model string",
    "LangChain class",
    "LlamaIndex class",
    "per-request limit",
    "score scale",
    "status",
)


def limit_text(spec: VendorSpec) -> str:
    """The per-request limits in words: ``"1,000 documents, 32,000 characters per text (...)"``."""
    limits = spec.limits
    parts = [f"{limits.max_documents:,} documents" if limits.max_documents else "no document limit"]
    if spec.max_documents_accepted and spec.max_documents_accepted != limits.max_documents:
        parts[0] += f" by default (up to {spec.max_documents_accepted:,} with `max_documents_per_request`)"
    if limits.max_document_chars:
        parts.append(f"{limits.max_document_chars:,} characters per text")
    if limits.max_query_tokens:
        parts.append(f"{limits.max_query_tokens:,} tokens per query")
    if limits.max_query_chars:
        parts.append(f"{limits.max_query_chars:,} characters per query")
    if limits.max_request_cost and spec.cost_unit == "bytes":
        parts.append(f"{limits.max_request_cost / 2**20:g} MiB per body")
    budgets = sorted({model.token_budget for model in spec.models if model.token_budget})
    if budgets:
        span = f"{budgets[0]:,}" if len(budgets) == 1 else f"{budgets[0]:,} to {budgets[-1]:,}"
        parts.append(f"{span} tokens per request by model")
    text = ", ".join(parts)
    return f"{text} ({spec.limit_note})" if spec.limit_note else text


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def _framework_class(spec: VendorSpec, name: str) -> str:
    if not spec.api_format:
        return f"`{name}`"
    generic = f'`HTTPRerank(api_format="{spec.api_format}")`'
    # A vendor with a class of its own is also an HTTPRerank format.
    return generic if name == "HTTPRerank" else f"`{name}`, {generic}"


def row(spec: VendorSpec) -> list[str]:
    """One table row's cells."""
    models = _code(spec.model_strings)
    if spec.default_model:
        models += f" (default `{spec.default_model}`)"
    scales = ", ".join(f"`{scale}` {when}".rstrip() for scale, when in spec.score_scales)
    return [
        spec.title,
        models,
        _framework_class(spec, spec.langchain_class),
        _framework_class(spec, spec.llama_index_class),
        limit_text(spec),
        scales,
        spec.status,
    ]


def render_table(specs: Iterable[VendorSpec] | None = None) -> str:
    """The markdown table of ``specs`` (every spec shown in the README by default), no final newline."""
    chosen = [spec for spec in (specs if specs is not None else VENDORS.values()) if spec.in_table]
    lines = [_line(COLUMNS), _line(["---"] * len(COLUMNS)), *(_line(row(spec)) for spec in chosen)]
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_span(text: str) -> tuple[int, int]:
    """``(start, end)`` line numbers (end exclusive) of the first table under :data:`HEADING`."""
    lines = text.splitlines()
    start = lines.index(HEADING) + 1
    while start < len(lines) and not lines[start].startswith("|"):
        start += 1
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    if start == end:
        raise ValueError(f"no table under {HEADING!r}")
    return start, end


def readme_table(text: str) -> str:
    """The table under :data:`HEADING` in a README's ``text``."""
    start, end = table_span(text)
    return "\n".join(text.splitlines()[start:end])


def with_table(text: str) -> str:
    """``text`` with its backend table replaced by :func:`render_table`'s, all else unchanged."""
    lines = text.splitlines(keepends=True)
    start, end = table_span(text)
    return "".join([*lines[:start], render_table() + "\n", *lines[end:]])


def main(argv: Sequence[str] | None = None) -> int:
    """The command behind ``python -m multirerank.vendors``."""
    parser = argparse.ArgumentParser(prog="python -m multirerank.vendors", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--readme-table", action="store_true", help="print the README's backend table")
    action.add_argument(
        "--update-readme", metavar="PATH", nargs="?", const="README.md", help="rewrite the table in PATH"
    )
    args = parser.parse_args(argv)
    if args.readme_table:
        print(render_table())
        return 0
    path = Path(args.update_readme)
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated the backend table in {path}", file=sys.stderr)
    return 0
