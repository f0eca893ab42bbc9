"""Putting every backend's scores on one 0..1 scale, so thresholds mean the same everywhere."""

from __future__ import annotations

import math

from multirerank.types import ScoreScale


def to_probability(score: float, scale: ScoreScale) -> float:
    """``score`` on ``scale`` mapped monotonically into 0..1 (the ranking never changes).

    Logits go through the sigmoid the cross-encoder would have applied; cosine similarity is
    shifted from -1..1; probability and lexical scores are already in 0..1.
    """
    if scale == "logit":
        # Split by sign so exp() never overflows on large logits.
        if score >= 0:
            return 1.0 / (1.0 + math.exp(-score))
        exponential = math.exp(score)
        return exponential / (1.0 + exponential)
    if scale == "cosine":
        return min(1.0, max(0.0, (score + 1.0) / 2.0))
    return score
