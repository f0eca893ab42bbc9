"""What vendors send back, checked and merged into one ranking."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from multirerank.backends.base import Backend
from multirerank.engine.inputs import Plan, request_top_n
from multirerank.errors import MalformedResponseError, RerankError
from multirerank.prices import Price, cost_of_counts
from multirerank.scales import to_probability
from multirerank.types import BatchResult, RerankResponse, RerankResult, Usage


def check_batch(result: Any, size: int, wanted: int | None, provider: str) -> list[tuple[int, float]]:
    """A backend's answer to a request for ``size`` documents, proven usable, as
    ``(index, score)`` pairs: every index an int in range and unique, every score a finite float,
    and at least ``wanted`` results (all ``size`` when ``wanted`` is None; a backend may return
    more). Raises :class:`MalformedResponseError` naming the provider and what is wrong.
    """
    if not isinstance(result, BatchResult):
        raise MalformedResponseError(
            f"backend returned {type(result).__name__}, expected BatchResult", provider=provider
        )
    scores = result.scores
    if not isinstance(scores, (list, tuple)):
        raise MalformedResponseError(
            f"backend returned scores as {type(scores).__name__}, expected a list of (index, score)",
            provider=provider,
        )
    pairs = _plain_pairs(scores, size)
    if pairs is None:
        pairs = [_checked_pair(position, pair, size, provider) for position, pair in enumerate(scores)]
        if len({index for index, _ in pairs}) < len(pairs):
            seen: set[int] = set()
            for position, (index, _) in enumerate(pairs):
                if index in seen:
                    raise MalformedResponseError(f"result {position} repeats index {index}", provider=provider)
                seen.add(index)
    expected = size if wanted is None else min(wanted, size)
    if len(pairs) < expected:
        raise MalformedResponseError(
            f"{provider} answered {len(pairs)} results for a request that asked for {expected}",
            provider=provider,
        )
    return pairs


#: Answers up to this long are checked in one plain loop: between the SDK's work the machine code
#: of set, min, max and sum is out of the CPU's caches, and a loop of the interpreter's common
#: steps costs less for a handful of results (a top_n answer) than fetching it back.
_LOOP_CHECKED = 32


def _plain_pairs(scores: Sequence[Any], size: int) -> list[tuple[int, float]] | None:
    """The usual answer, checked: int indices, unique and in range, finite float scores. ``None``
    for anything else, which the slow path checks one by one (to name the result at fault)."""
    if len(scores) <= _LOOP_CHECKED:
        pairs: list[tuple[int, float]] = []
        seen: list[int] = []
        for pair in scores:
            if type(pair) is not tuple or len(pair) != 2:
                return None
            index, score = pair
            # score - score is 0.0 for a finite float, nan for an infinite or nan one.
            if type(index) is not int or type(score) is not float or score - score != 0.0:
                return None
            if index < 0 or index >= size or index in seen:
                return None
            seen.append(index)
            pairs.append(pair)
        return pairs
    try:
        indices = [index for index, _ in scores]
        values = [score for _, score in scores]
    except (TypeError, ValueError):
        return None
    if (
        set(map(type, indices)) <= {int}
        and set(map(type, values)) <= {float}
        and (not indices or (min(indices) >= 0 and max(indices) < size))
        and len(set(indices)) == len(indices)
        # A sum is finite only if every term is (a huge one overflowing just takes the slow path).
        and math.isfinite(sum(values))
    ):
        return list(zip(indices, values, strict=True))
    return None


def _checked_pair(position: int, pair: object, size: int, provider: str) -> tuple[int, float]:
    index: Any
    score: Any
    try:
        index, score = pair  # type: ignore[misc]
    except (TypeError, ValueError):
        raise MalformedResponseError(f"result {position} is not an (index, score) pair", provider=provider) from None
    # numbers.Integral admits numpy integers, which model-serving code often returns.
    if isinstance(index, bool) or not isinstance(index, Integral):
        raise MalformedResponseError(f"result {position} has a non-integer index {index!r}", provider=provider)
    if not 0 <= int(index) < size:
        raise MalformedResponseError(
            f"result {position} has index {index}, outside the {size} documents sent", provider=provider
        )
    if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(float(score)):
        raise MalformedResponseError(
            f"result {position} (index {index}) has a non-finite or non-numeric score {score!r}",
            provider=provider,
        )
    return int(index), float(score)


def billed(plan: Plan, batches: Sequence[BatchResult | None], price: Price | None) -> Usage:
    """What the answered requests among ``batches`` (one per chunk of ``plan``; ``None`` for a
    chunk not answered) used, summed, and their cost at ``price`` (see :func:`cost_of`).

    A batch is at least one request of its chunk's documents; pages or path fallbacks make more,
    and the backend that made them says how many. Failed attempts are not counted: vendors bill
    the requests they answer.
    """
    # One pass, no intermediate Usage objects: this runs on every call. A vendor count that some
    # answers reported and others did not would be a part passed off as the whole: it is None
    # (unknown), and so is a cost charged on it.
    requests = documents = hits = misses = 0
    tokens: int | None = 0
    units: int | None = 0
    answered = False
    for chunk, batch in zip(plan.chunks, batches, strict=False):
        if isinstance(batch, BatchResult) and isinstance(batch.usage, Usage):
            reported = batch.usage
            answered = True
            requests += reported.requests if reported.requests > 0 else 1
            documents += reported.documents or len(chunk.documents)
            hits += reported.cache_hits
            misses += reported.cache_misses
            tokens = None if tokens is None or reported.total_tokens is None else tokens + reported.total_tokens
            units = None if units is None or reported.search_units is None else units + reported.search_units
    if not answered:
        tokens = units = None
    counts: dict[str, Any] = {
        "total_tokens": tokens,
        "search_units": units,
        "requests": requests,
        "documents": documents,
        "cache_hits": hits,
        "cache_misses": misses,
    }
    return Usage(**counts, cost_usd=cost_of_counts(counts, price))




def merge(
    backend: Backend,
    plan: Plan,
    batches: Sequence[BatchResult],
    *,
    normalize_scores: bool,
    return_documents: bool,
    started: float,
    price: Price | None = None,
) -> RerankResponse:
    """One ranking, best first (ties by the caller's index), cut by threshold and ``top_n``.

    Result indices are the caller's; ``usage`` sums every request the batches report (see
    :func:`billed`), priced at ``price``. An unusable batch raises its
    :class:`MalformedResponseError` with the batches' ``usage`` (the vendor billed them).
    """
    scored, usage = gather(backend, plan, batches, price)
    return rank(
        backend,
        plan,
        scored,
        usage,
        normalize_scores=normalize_scores,
        return_documents=return_documents,
        started=started,
    )


def gather(
    backend: Backend, plan: Plan, batches: Sequence[BatchResult], price: Price | None = None
) -> tuple[list[tuple[int, float]], Usage]:
    """Every batch checked: ``(sent index, raw score)`` pairs over the plan's sent documents, and
    the usage the requests report summed and priced at ``price`` (see :func:`billed`). An
    unusable batch raises its :class:`MalformedResponseError` with that usage (the vendor
    billed it)."""
    scored: list[tuple[int, float]] = []
    for chunk, batch in zip(plan.chunks, batches, strict=True):
        size = len(chunk.documents)
        try:
            pairs = check_batch(batch, size, request_top_n(plan, size), backend.provider)
        except RerankError as error:
            error.usage = billed(plan, batches, price)
            raise
        offset = chunk.offset
        scored.extend(pairs if offset == 0 else [(offset + index, score) for index, score in pairs])
    return scored, billed(plan, batches, price)


def rank(
    backend: Backend,
    plan: Plan,
    scored: list[tuple[int, float]],
    usage: Usage,
    *,
    normalize_scores: bool,
    return_documents: bool,
    started: float,
) -> RerankResponse:
    """The response for ``(sent index, raw score)`` pairs of ``plan``: normalized if asked,
    best first (ties by the caller's index), cut by threshold and ``top_n``."""
    positions = plan.positions
    scale = backend.score_scale
    if normalize_scores and scale != "probability":
        scored = [(sent, to_probability(score, scale)) for sent, score in scored]
    # Best first, ties to the earlier document (sent order is the caller's order): one sort of
    # (-score, sent index, score) tuples, without a key function (scores are finite, checked
    # above; sent indices are unique, so the score itself is never compared).
    ranked = [(-score, sent, score) for sent, score in scored]
    ranked.sort()
    if plan.threshold is not None:
        ranked = [entry for entry in ranked if entry[2] >= plan.threshold]
    if plan.top_n is not None:
        ranked = ranked[: plan.top_n]
    originals = plan.originals if return_documents else None
    results = [
        RerankResult(positions[sent], score, originals[sent] if originals is not None else None)
        for _, sent, score in ranked
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
