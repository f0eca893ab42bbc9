"""The LlamaIndex side: translate ``NodeWithScore`` objects to candidates and back, nothing more."""

from __future__ import annotations

import threading
from typing import Any, Literal

from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import ConfigDict, Field, PrivateAttr

from multirerank.backends.base import Backend
from multirerank.engine import Reranker
from multirerank.errors import RerankInputError
from multirerank.pipeline import (
    Candidate,
    RankedCandidate,
    arank_candidates,
    candidate_text,
    check_rerank_fields,
    rank_candidates,
)

dispatcher = get_dispatcher(__name__)

_METADATA_MODES = {
    "all": MetadataMode.ALL,
    "embed": MetadataMode.EMBED,
    "llm": MetadataMode.LLM,
    "none": MetadataMode.NONE,
}


class RerankPostprocessor(BaseNodePostprocessor):
    """Base of every multirerank postprocessor: one backend behind LlamaIndex's postprocessor API.

    Subclasses declare their fields and build their backend in :meth:`_build_backend`.
    """

    top_n: int | None = Field(default=3, description="How many nodes to return; None for all.")
    score_threshold: float | None = Field(default=None, description="Drop nodes scoring below this value.")
    rerank_fields: list[str] | None = Field(
        default=None,
        description="Build each node's text from these fields, in order: 'text' or metadata keys.",
    )
    metadata_mode: Literal["all", "embed", "llm", "none"] = Field(
        default="embed", description="Which metadata a node's text includes when rerank_fields is not set."
    )
    normalize_scores: bool = Field(
        default=False,
        description="Map the backend's scores into 0..1 (sigmoid of logits, shifted cosine) so thresholds compare across vendors.",
    )
    max_concurrency: int | None = Field(
        default=None,
        description="Requests in flight at once when a list is split; the backend's default if None.",
    )

    # Inputs stay out of validation errors: they can hold keys and tokens.
    model_config = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, populate_by_name=True, hide_input_in_errors=True
    )

    _reranker: Reranker | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any, /) -> None:
        check_rerank_fields(self.rerank_fields)
        if self.top_n is not None and self.top_n < 1:
            raise RerankInputError("top_n must be at least 1")
        # Build now so a wrong setup fails at construction, not at the first query.
        _ = self.reranker

    @classmethod
    def class_name(cls) -> str:
        return "RerankPostprocessor"

    def _build_backend(self) -> Backend:
        raise NotImplementedError

    @property
    def reranker(self) -> Reranker:
        """The engine behind this postprocessor, built once."""
        with self._lock:
            if self._reranker is None:
                self._reranker = Reranker(
                    self._build_backend(),
                    max_concurrency=self.max_concurrency,
                    normalize_scores=self.normalize_scores,
                )
            return self._reranker

    def _candidates(self, nodes: list[NodeWithScore]) -> list[Candidate]:
        candidates = []
        for index, item in enumerate(nodes):
            if not isinstance(item, NodeWithScore):
                raise RerankInputError(
                    f"node at index {index} must be a NodeWithScore, got {type(item).__name__}"
                )
            node = item.node
            if self.rerank_fields:
                content = node.get_content(metadata_mode=MetadataMode.NONE)
                text = candidate_text(content, node.metadata, self.rerank_fields, "text")
            else:
                text = node.get_content(metadata_mode=_METADATA_MODES[self.metadata_mode])
            candidates.append(Candidate(text, node.node_id))
        return candidates

    def _start(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> None:
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle,
                # A wrong item must fail in _candidates with its index (and an end event), not here.
                nodes=[item for item in nodes if isinstance(item, NodeWithScore)],
                top_n=self.top_n if self.top_n is not None else len(nodes),
                model_name=self.reranker.model or self.reranker.provider,
            )
        )

    @staticmethod
    def _query(query_bundle: QueryBundle | None) -> str:
        if query_bundle is None:
            raise RerankInputError("a query is required: pass query_bundle or query_str to postprocess_nodes")
        return query_bundle.query_str

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        self._start(nodes, query_bundle)
        result: list[NodeWithScore] = []
        try:
            ranked = rank_candidates(
                self.reranker,
                self._query(query_bundle),
                self._candidates(nodes),
                top_n=self.top_n,
                score_threshold=self.score_threshold,
            )
            result = _rescored(nodes, ranked)
        finally:
            dispatcher.event(ReRankEndEvent(nodes=result))
        return result

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        self._start(nodes, query_bundle)
        result: list[NodeWithScore] = []
        try:
            ranked = await arank_candidates(
                self.reranker,
                self._query(query_bundle),
                self._candidates(nodes),
                top_n=self.top_n,
                score_threshold=self.score_threshold,
            )
            result = _rescored(nodes, ranked)
        finally:
            dispatcher.event(ReRankEndEvent(nodes=result))
        return result


def _rescored(nodes: list[NodeWithScore], ranked: list[RankedCandidate]) -> list[NodeWithScore]:
    # New NodeWithScore objects: the caller's keep their retrieval scores.
    return [NodeWithScore(node=nodes[item.position].node, score=item.score) for item in ranked]
