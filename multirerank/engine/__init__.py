"""The engine: every rule of a rerank call, written once for every backend and both frameworks.

:mod:`~multirerank.engine.inputs` checks the caller's items and splits them into requests,
:mod:`~multirerank.engine.retries` decides when to ask again, :mod:`~multirerank.engine.answers`
checks and merges the vendors' answers, and :class:`Reranker` runs a call through them.
"""

from multirerank.engine.reranker import POOL_THREADS, Reranker
from multirerank.engine.routed import ProgressCallback

__all__ = ["POOL_THREADS", "ProgressCallback", "Reranker"]
