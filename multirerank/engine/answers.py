"""What vendors send back, checked and merged into one ranking."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from multirerank.backends.base import Backend
from multirerank.engine.inputs import Plan
from multirerank.errors import MalformedResponseError
from multirerank.scales import to_probability
from multirerank.types import BatchResult, RerankResponse, RerankResult, Usage


def check_batch(result: Any, size: int, provider: str) -> BatchResult:
    """A backend's answer, proven usable: every index in range and unique, every score finite."""
    if not isinstance(result, BatchResult):
        raise MalformedResponseError(
            f"backend returned {type(result).__name__}, expected BatchResult", provider=provider
        )
    if not isinstance(result.scores, (list, tuple)):
        raise MalformedResponseError(
            f"backend returned scores as {type(result.scores).__name__}, expected a list of (index, score)",
            provider=provider,
        )
    seen: set[int] = set()
    for position, pair in enumerate(result.scores):
        try:
            index, score = pair
        except (TypeError, ValueError):
            raise MalformedResponseError(
                f"result {position} is not an (index, score) pair", provider=provider
            ) from None
        # numbers.Integral admits numpy integers, which model-serving code often returns; the
        # exact-type tests first skip the costly ABC checks for the usual int and float.
        if type(index) is not int and (isinstance(index, bool) or not isinstance(index, Integral)):
            raise MalformedResponseError(
                f"result {position} has a non-integer index {index!r}", provider=provider
            )
        if not 0 <= index < size:
            raise MalformedResponseError(
                f"result {position} has index {index}, outside the {size} documents sent",
                provider=provider,
            )
        if index in seen:
            raise MalformedResponseError(f"result {position} repeats index {index}", provider=provider)
        if (
            type(score) is not float and (isinstance(score, bool) or not isinstance(score, Real))
        ) or not math.isfinite(float(score)):
            raise MalformedResponseError(
                f"result {position} (index {index}) has a non-finite or non-numeric score {score!r}",
                provider=provider,
            )
        seen.add(index)
    return result


def merge(
    backend: Backend,
    plan: Plan,
    batches: Sequence[BatchResult],
    *,
    normalize_scores: bool,
    return_documents: bool,
    started: float,
) -> RerankResponse:
    """One ranking, best first (ties by the caller's index), cut by threshold and ``top_n``.

    Result indices are the caller's; ``usage`` sums every request the batches report.
    """
    usage = Usage()
    scored: list[tuple[int, float]] = []
    positions = plan.positions
    for chunk, batch in zip(plan.chunks, batches, strict=True):
        checked = check_batch(batch, len(chunk.documents), backend.provider)
        # A batch is at least one request; pages or path fallbacks make more, and the backend
        # that made them says how many.
        usage = usage + dataclasses.replace(checked.usage, requests=max(1, checked.usage.requests))
        offset = chunk.offset
        scored.extend((offset + int(index), float(score)) for index, score in checked.scores)
    scale = backend.score_scale
    if normalize_scores and scale != "probability":
        scored = [(sent, to_probability(score, scale)) for sent, score in scored]
    # Sent order is the caller's order, so ties fall to the earlier document.
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    if plan.threshold is not None:
        scored = [pair for pair in scored if pair[1] >= plan.threshold]
    if plan.top_n is not None:
        scored = scored[: plan.top_n]
    originals = plan.originals if return_documents else None
    results = [
        RerankResult(positions[sent], score, originals[sent] if originals is not None else None)
        for sent, score in scored
    ]
    return RerankResponse(
        results=results,
        provider=backend.provider,
        model=backend.model,
        score_scale="probability" if normalize_scores else scale,
        usage=usage,
        elapsed_seconds=time.perf_counter() - started,
        metadata={**backend.describe(), "backend_score_scale": scale},
    )
