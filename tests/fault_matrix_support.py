"""The fault matrix: every fault a vendor can answer with, injected into six backends' real SDK
calls against the wire emulator, once and persistently, sync and async.

Each cell ends one of five ways, judged against the ranking the emulator gives without faults:

- ``recovered``: the call returned the full ranking, in the right order;
- ``typed``: it raised a :class:`~multirerank.RerankError`;
- ``foreign``: it raised anything else;
- ``wrong order``: it returned another ranking;
- ``hang``: it had not ended after :data:`CELL_TIMEOUT` seconds.

:data:`FAULTS` also says what each cell must end in: recovered, or which error type (carrying
the backend's provider, and the vendor's status where the fault has one). A cell that ends
otherwise (another error type, no status, a recovery where none is possible) is not as expected.
The backends are built by :mod:`tests.contract_support`'s table, retrying as users get them (the
SDKs' own retries with no back-off, so a cell takes a fraction of a second), with short read
timeouts and a small ``retry_budget`` so persistent faults end fast.

Used by ``tests/test_fault_matrix.py`` (which asserts the counts) and by
``benchmarks/fault_matrix.py`` (which prints them with every cell).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from multirerank import (
    MalformedResponseError,
    ProviderError,
    Reranker,
    RerankError,
    RerankResponse,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.testing import Emulator
from tests.aws_support import QUERY, pointwise_scorer
from tests.contract_support import (
    BEDROCK,
    DASHSCOPE,
    HTTP_CONTRACTS,
    SAGEMAKER,
    WATSONX,
    Contract,
    Setup,
    contract_texts,
)

#: The six backends of the matrix.
MATRIX_CONTRACTS: tuple[Contract, ...] = (
    BEDROCK,
    SAGEMAKER,
    WATSONX,
    DASHSCOPE,
    HTTP_CONTRACTS["cohere"],
    HTTP_CONTRACTS["tei"],
)
MODES = ("sync", "async")
SPANS = ("once", "persistent")

#: Seconds a client waits for an answer; an injected delay of :data:`LATE` is a read timeout.
READ_TIMEOUT = 0.25
LATE = 1.0
#: What a throttled answer asks for (the engine waits that long, within the budget).
RETRY_AFTER = "0.05"
#: Seconds of waiting one call may spend on retries: persistent throttling ends within it.
RETRY_BUDGET = 1.0
#: A cell running longer than this hangs (the slowest ends in about a second).
CELL_TIMEOUT = 15.0
#: Documents of each call; ``top_n=None`` asks for every one of them.
TEXTS = contract_texts(5)


@dataclass(frozen=True)
class MatrixFault:
    """A fault to inject (``emulator.inject`` keyword arguments), and what a cell must end in:
    ``None`` (recovered) or an error type, answered once and every time. ``status``: the status
    the error must carry."""

    name: str
    fields: dict[str, Any]
    once: type[RerankError] | None
    persistent: type[RerankError]
    status: int | None = None

    def expected(self, span: str) -> type[RerankError] | None:
        return self.once if span == "once" else self.persistent


def _corrupt(name: str) -> MatrixFault:
    # An answer that cannot be used is no less unusable when asked again: never retried.
    return MatrixFault(name, {"corrupt": name}, MalformedResponseError, MalformedResponseError)


FAULTS: tuple[MatrixFault, ...] = (
    MatrixFault("429", {"status": 429, "headers": {"Retry-After": RETRY_AFTER}}, None, ThrottledError, 429),
    MatrixFault("500", {"status": 500}, None, ProviderError, 500),
    MatrixFault("503", {"status": 503}, None, ProviderError, 503),
    MatrixFault("read-timeout", {"latency": LATE}, None, RerankTimeoutError),
    MatrixFault("drop", {"drop": True}, None, ProviderError),
    MatrixFault("malformed-json", {"malformed": True}, MalformedResponseError, MalformedResponseError),
    _corrupt("index-out-of-range"),
    _corrupt("nan-score"),
    _corrupt("missing-score"),
    _corrupt("empty-results"),
    _corrupt("short-results"),
)

OUTCOMES = ("recovered", "typed", "foreign", "wrong order", "hang")


@dataclass(frozen=True)
class Cell:
    backend: str
    fault: MatrixFault
    span: str
    mode: str

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.fault.name}/{self.span}/{self.mode}"


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    outcome: str
    detail: str
    seconds: float
    #: Whether the cell ended as :data:`FAULTS` says it must.
    as_expected: bool


@dataclass
class Summary:
    results: list[CellResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(result.outcome for result in self.results)
        return {
            "cells": len(self.results),
            **{outcome: counted[outcome] for outcome in OUTCOMES},
            "mismatches": sum(not result.as_expected for result in self.results),
        }

    def line(self) -> str:
        counts = self.counts
        return (
            f"fault matrix: {counts['cells']} cells, {counts['recovered']} recovered, "
            f"{counts['typed']} typed errors, {counts['foreign']} foreign, "
            f"{counts['wrong order']} wrong orders, {counts['hang']} hangs, "
            f"{counts['mismatches']} not as expected"
        )

    def failures(self) -> list[str]:
        return [
            f"{result.cell.label}: {result.outcome}: {result.detail}"
            for result in self.results
            if not result.as_expected
        ]


def expected_counts(backends: int) -> dict[str, int]:
    """What a matrix of ``backends`` backends must count when every cell ends as expected."""
    cells = [fault.expected(span) for fault in FAULTS for span in SPANS for _ in MODES]
    recovered = backends * sum(kind is None for kind in cells)
    return {
        "cells": backends * len(cells),
        "recovered": recovered,
        "typed": backends * len(cells) - recovered,
        "foreign": 0,
        "wrong order": 0,
        "hang": 0,
        "mismatches": 0,
    }


# -- running ------------------------------------------------------------------------------------


def _judge(
    cell: Cell, contract: Contract, expected: list[int], outcome: object, seconds: float
) -> CellResult:
    wanted = cell.fault.expected(cell.span)
    if isinstance(outcome, RerankResponse):
        got = [result.index for result in outcome]
        if got != expected:
            return CellResult(cell, "wrong order", f"ranked {got}, expected {expected}", seconds, False)
        return CellResult(cell, "recovered", "", seconds, wanted is None)
    if isinstance(outcome, RerankError):
        detail = f"{type(outcome).__name__}(status={outcome.status}): {outcome}"
        status_ok = cell.fault.status is None or outcome.status == cell.fault.status
        as_expected = (
            wanted is not None
            and type(outcome) is wanted
            and outcome.provider == contract.provider
            and status_ok
        )
        return CellResult(cell, "typed", detail, seconds, as_expected)
    if outcome is _HANG:
        return CellResult(cell, "hang", f"no end after {CELL_TIMEOUT} s", seconds, False)
    return CellResult(cell, "foreign", f"{type(outcome).__name__}: {outcome}", seconds, False)


_HANG = object()


class _Loop:
    """An event loop on a thread of its own, so an async cell can be given up on like a sync one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-matrix-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Any, timeout: float) -> object:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            return _HANG
        except Exception as error:
            return error

    def close(self) -> None:
        async def shutdown() -> None:
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(CELL_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CELL_TIMEOUT)
        if not self._thread.is_alive():
            self.loop.close()


def _in_thread(call: Callable[[], object], timeout: float) -> object:
    """``call()``'s result or exception, or :data:`_HANG` when it has not ended in ``timeout`` s
    (the thread is then left to itself: it is a daemon)."""
    future: Future[object] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as error:
            future.set_result(error)

    threading.Thread(target=run, name="fault-matrix-cell", daemon=True).start()
    try:
        return future.result(timeout)
    except FutureTimeout:
        return _HANG


def clear(emulator: Emulator) -> None:
    """No faults, requests or state left, but the watsonx.ai signing key (tokens stay valid)."""
    kept = {key: emulator.state[key] for key in ("watsonx_signing_key",) if key in emulator.state}
    emulator.clear()
    emulator.state.clear()
    emulator.state.update(kept)


def run_backend(
    contract: Contract, emulator: Emulator, reranker: Reranker, faults: Sequence[MatrixFault] = FAULTS
) -> list[CellResult]:
    """Every cell of one backend, through one reranker: sync calls on fresh threads, async calls
    on a loop thread, the emulator (the backend's own) cleared between cells."""
    clear(emulator)
    expected = [index for index, _ in emulator.ranked(QUERY, TEXTS)]
    loop = _Loop()
    results: list[CellResult] = []
    try:
        for mode in MODES:
            for fault in faults:
                for span in SPANS:
                    cell = Cell(contract.name, fault, span, mode)
                    clear(emulator)
                    emulator.inject(
                        vendor=contract.vendor,
                        path=contract.path,
                        times=1 if span == "once" else None,
                        **fault.fields,
                    )
                    started = time.monotonic()
                    if mode == "sync":
                        outcome = _in_thread(lambda: reranker.rerank(QUERY, TEXTS, top_n=None), CELL_TIMEOUT)
                    else:
                        outcome = loop.run(reranker.arerank(QUERY, TEXTS, top_n=None), CELL_TIMEOUT)
                    results.append(_judge(cell, contract, expected, outcome, time.monotonic() - started))
    finally:
        clear(emulator)
        loop.run(reranker.aclose(), CELL_TIMEOUT)
        loop.close()
        reranker.close()
    return results


def run_matrix(
    monkeypatch: pytest.MonkeyPatch,
    contracts: Sequence[Contract] = MATRIX_CONTRACTS,
    faults: Sequence[MatrixFault] = FAULTS,
) -> Summary:
    """The matrix, each backend with an emulator of its own and on a thread of its own: the
    cells mostly wait (for timeouts, back-off, Retry-After), so the backends wait together.

    The backends are built first, here, since building one may set SDK globals through
    ``monkeypatch``; AWS settings of the machine must already be out of the environment.
    """
    with ExitStack() as stack:
        runs: list[tuple[Contract, Emulator, Reranker]] = []
        for contract in contracts:
            emulator = stack.enter_context(Emulator(tls=contract.tls, scorer=pointwise_scorer))
            setup = Setup(emulator, monkeypatch, retrying=True, split=False, timeout=READ_TIMEOUT)
            runs.append((contract, emulator, Reranker(contract.build(setup), retry_budget=RETRY_BUDGET)))
        with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="fault-matrix") as pool:
            futures = [pool.submit(run_backend, *run, faults) for run in runs]
            summary = Summary()
            for future in futures:
                summary.results.extend(future.result())
    return summary
