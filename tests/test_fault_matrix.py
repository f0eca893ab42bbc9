"""The fault matrix (issue 8): six backends x eleven faults, each answered once and every time,
sync and async, through the real SDKs against the wire emulator (see
:mod:`tests.fault_matrix_support`).

Every cell must end in the full ranking in the right order or in a typed ``RerankError`` with
the provider (and the status where the fault has one), as the matrix says for that cell; none
may raise a foreign exception, rank wrongly or hang. The counts are asserted; ``-s`` shows the
summary line, and ``benchmarks/fault_matrix.py`` prints it with every cell.
"""

from __future__ import annotations

import pytest

from tests.aws_support import isolated_aws_env  # noqa: F401 (autouse)
from tests.fault_matrix_support import FAULTS, MATRIX_CONTRACTS, expected_counts, run_matrix


def test_every_cell_recovers_or_ends_in_its_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = run_matrix(monkeypatch)
    print(summary.line())
    assert summary.failures() == []
    assert summary.counts == expected_counts(len(MATRIX_CONTRACTS))
    # 6 backends x 11 faults x once/persistent x sync/async; 5 faults recoverable when answered once.
    assert summary.counts["cells"] == 6 * len(FAULTS) * 2 * 2 == 264
    assert summary.counts["recovered"] == 6 * 5 * 2 == 60
