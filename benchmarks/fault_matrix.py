"""Issue 8, the fault matrix: prints every cell and the summary line.

Run: .venv/bin/python benchmarks/fault_matrix.py [--all]

Six backends (Bedrock, SageMaker, watsonx.ai, DashScope, Cohere, TEI) x eleven faults (429
with Retry-After, 500, 503, read timeout, dropped connection, malformed JSON, index out of
range, NaN score, missing score, empty results, short results), each injected once and on
every request, sync and async, through the real SDKs against the wire emulator. The cells and
their judging are ``tests/fault_matrix_support.py``'s, which ``tests/test_fault_matrix.py``
asserts; this script shows them: one line per cell that did not end as the matrix says (every
cell with ``--all``), then the counts. It exits 1 when a cell did not end as expected.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import pytest
from harness import isolate_environment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fault_matrix_support import run_matrix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="print every cell, not only the unexpected ones")
    args = parser.parse_args()
    isolate_environment()
    # The watsonx.ai SDK logs every failure it raises as a warning: the matrix has hundreds.
    logging.getLogger("ibm_watsonx_ai").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as monkeypatch:
        summary = run_matrix(monkeypatch)
    wall = time.perf_counter() - started
    for result in summary.results:
        if args.all or not result.as_expected:
            mark = "ok " if result.as_expected else "BAD"
            print(
                f"{mark} {result.cell.label:44} {result.outcome:11} {result.seconds:5.2f} s  {result.detail[:120]}"
            )
    print(f"{summary.line()} ({wall:.1f} s)")
    return 0 if not summary.failures() else 1


if __name__ == "__main__":
    raise SystemExit(main())
