"""The score cache in a call: look every planned document up, send only the misses, merge.

Runs between planning and sending, for :class:`~multirerank.engine.reranker.Reranker` calls of
both frameworks, sync and async, and for each route of a router (keyed by the route that
scores). Only backends that declare ``per_document_scores`` use it; the others bypass it.

A key is ``mr1:<sha256 of the backend's score identity and the query>:<sha256 of the
document's text>``: the identity (:meth:`~multirerank.backends.base.Backend.score_identity`)
holds the provider, model, score scale and every option that changes scores (an instruction
among them). The cache holds the backend's raw scores; normalizing happens after the merge, as
for fresh ones. A store that fails (a Redis server down) costs a warning, never the call: the
documents are then scored as if nothing were cached.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from hashlib import sha256
from typing import Any, TypeGuard, cast

from multirerank.backends.base import Backend
from multirerank.cache.base import ScoreCache, logger
from multirerank.engine.answers import gather
from multirerank.engine.inputs import Plan, subplan
from multirerank.prices import Price
from multirerank.types import BatchResult, DocumentInput, TitledText, Usage, document_text

#: The key format's version: a change of how keys are made changes it, so old entries are not read.
KEY_VERSION = "mr1"


def uses_cache(cache: ScoreCache | None, backend: Backend) -> TypeGuard[ScoreCache]:
    """Whether a call through ``backend`` looks scores up in ``cache``."""
    if cache is None:
        return False
    if not backend.per_document_scores:
        logger.debug(
            "score cache bypassed: %s/%s scores each document in the context of the others",
            backend.provider,
            backend.model,
        )
        return False
    return True


def key_prefix(backend: Backend, query: str) -> str:
    """What every key of one call through ``backend`` for ``query`` starts with."""
    identity = json.dumps(
        {"identity": dict(backend.score_identity()), "query": query},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return f"{KEY_VERSION}:{sha256(identity.encode('utf-8')).hexdigest()}:"


def document_keys(backend: Backend, plan: Plan) -> list[str]:
    """One key per sent document of ``plan``, from the text as sent (after any cut)."""
    prefix = key_prefix(backend, plan.query)
    documents = [document for chunk in plan.chunks for document in chunk.documents]
    if set(map(type, documents)) <= {str}:
        # The usual call, plain texts, without a step per document: a full cache hit is mostly
        # this hashing. (str.encode() is UTF-8.)
        return [prefix + sha256(text.encode()).hexdigest() for text in cast("list[str]", documents)]
    return [prefix + sha256(_scored_text(document).encode()).hexdigest() for document in documents]


def _scored_text(document: DocumentInput) -> str:
    """Everything of a document that its score depends on: its text, and a title sent beside it."""
    if isinstance(document, TitledText):
        # As a JSON pair: no title and text can read as another pair, nor as an untitled text.
        return json.dumps([document.document_title, str(document)], ensure_ascii=False)
    return document if isinstance(document, str) else document_text(document)


class CachedCall:
    """One call's use of ``cache``: the keys of the plan's documents, the scores found, and
    :attr:`to_send`, the plan of the rest (every score asked for, so that all can be stored)."""

    def __init__(self, cache: ScoreCache, backend: Backend, plan: Plan) -> None:
        self.cache = cache
        self.backend = backend
        self.plan = plan
        self.keys = document_keys(backend, plan)
        #: Sent index (in ``plan``) -> cached raw score.
        self.hits: dict[int, float] = {}
        #: Sent indices (in ``plan``) of the documents to send, in order.
        self.misses: list[int] = list(range(len(self.keys)))
        self.to_send = dataclasses.replace(plan, top_n=None, threshold=None)
        self._fresh: dict[str, float] = {}

    # -- before sending ---------------------------------------------------------------------------

    def look_up(self) -> None:
        self._found(self._safely("read", lambda: self.cache.get_many(self.keys)))

    async def alook_up(self) -> None:
        try:
            found = await self.cache.aget_many(self.keys)
        except Exception as error:
            self._failed("read", error)
            found = {}
        self._found(found)

    def _found(self, found: Mapping[str, float] | None) -> None:
        if not found:
            self._log()
            return
        hits: dict[int, float] = {}
        misses: list[int] = []
        for index, key in enumerate(self.keys):
            score = found.get(key)
            if score is None:
                misses.append(index)
            else:
                hits[index] = score
        self.hits, self.misses = hits, misses
        self.to_send = subplan(self.backend, self.plan, misses)
        self._log()

    def _log(self) -> None:
        logger.debug(
            "score cache: %d of %d scores found for %s/%s; sending %d",
            len(self.hits),
            len(self.keys),
            self.backend.provider,
            self.backend.model,
            len(self.misses),
        )

    # -- after sending ----------------------------------------------------------------------------

    def combine(
        self, batches: list[BatchResult], price: Price | None = None
    ) -> tuple[list[tuple[int, float]], Usage]:
        """``(sent index in plan, raw score)`` pairs of the hits and the fresh answers, and the
        usage of the requests (priced at ``price``) plus the cache's counts."""
        pairs, usage = gather(self.backend, self.to_send, batches, price)
        misses, keys = self.misses, self.keys
        self._fresh = {keys[misses[index]]: score for index, score in pairs}
        scored = [(misses[index], score) for index, score in pairs]
        scored.extend(self.hits.items())
        return scored, usage + Usage(cache_hits=len(self.hits), cache_misses=len(misses))

    def store(self) -> None:
        if self._fresh:
            self._safely("write", lambda: self.cache.set_many(self._fresh))

    async def astore(self) -> None:
        if not self._fresh:
            return
        try:
            await self.cache.aset_many(self._fresh)
        except Exception as error:
            self._failed("write", error)

    # -- failures ---------------------------------------------------------------------------------

    def _safely(self, action: str, step: Callable[[], Any]) -> Any:
        """``step()``, or ``None`` after a warning when it fails."""
        try:
            return step()
        except Exception as error:
            self._failed(action, error)
            return None

    def _failed(self, action: str, error: Exception) -> None:
        logger.warning(
            "score cache %r failed to %s (%s: %s); scoring without it",
            self.cache,
            action,
            type(error).__name__,
            error,
        )
