"""The LangChain side: translate ``Document`` objects to candidates and back, nothing more."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from multirerank.engine import Reranker
from multirerank.errors import RerankInputError
from multirerank.pipeline import (
    Candidate,
    RankedCandidate,
    arank_candidates,
    candidate_text,
    check_items,
    rank_candidates,
)
from multirerank.settings import RerankSettings

SCORE_KEY = "relevance_score"
PREVIOUS_SCORE_KEY = "previous_relevance_score"


class RerankCompressor(RerankSettings, BaseDocumentCompressor):
    """Base of every multirerank compressor: one backend behind the ``BedrockRerank`` interface.

    Subclasses list their options model (which builds the backend) before this class.
    """

    def _candidate(self, document: str | Document | Mapping[str, Any], index: int) -> Candidate:
        if isinstance(document, Document):
            text = candidate_text(
                document.page_content, document.metadata, self.rerank_fields, "page_content"
            )
            return Candidate(text, document.id)
        if isinstance(document, (str, Mapping)):
            return Candidate(document)
        raise RerankInputError(
            f"document at index {index} must be a str, Document or dict, got {type(document).__name__}"
        )

    def _candidates(self, documents: Sequence[str | Document | Mapping[str, Any]]) -> list[Candidate]:
        return [
            self._candidate(document, index)
            for index, document in enumerate(check_items(documents, "documents"))
        ]

    def _top_n(self, top_n: int | None) -> int | None:
        return self.top_n if top_n is None else top_n

    def rerank(
        self,
        documents: Sequence[str | Document | Mapping[str, Any]],
        query: str,
        top_n: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Rank ``documents`` for ``query``: ``[{"index": i, "relevance_score": s}, ...]``, best first.

        ``top_n`` defaults to the compressor's; indices point into ``documents``.
        """
        ranked = rank_candidates(
            self._reranker_for(kwargs),
            query,
            self._candidates(documents),
            top_n=self._top_n(top_n),
            score_threshold=self.score_threshold,
        )
        return [{"index": item.position, SCORE_KEY: item.score} for item in ranked]

    async def arerank(
        self,
        documents: Sequence[str | Document | Mapping[str, Any]],
        query: str,
        top_n: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """The non-blocking twin of :meth:`rerank`."""
        ranked = await arank_candidates(
            self._reranker_for(kwargs),
            query,
            self._candidates(documents),
            top_n=self._top_n(top_n),
            score_threshold=self.score_threshold,
        )
        return [{"index": item.position, SCORE_KEY: item.score} for item in ranked]

    def _reranker_for(self, options: Mapping[str, Any]) -> Reranker:
        """The engine for one call; per-call vendor options are for subclasses to accept."""
        if options:
            raise RerankInputError(f"{type(self).__name__}.rerank got unexpected options {sorted(options)}")
        return self.reranker

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best documents for ``query`` as copies carrying ``metadata["relevance_score"]``."""
        ranked = rank_candidates(
            self.reranker,
            query,
            self._documents_only(documents),
            top_n=self.top_n,
            score_threshold=self.score_threshold,
        )
        return _scored_copies(documents, ranked)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The non-blocking twin of :meth:`compress_documents`."""
        ranked = await arank_candidates(
            self.reranker,
            query,
            self._documents_only(documents),
            top_n=self.top_n,
            score_threshold=self.score_threshold,
        )
        return _scored_copies(documents, ranked)

    def _documents_only(self, documents: Sequence[Document]) -> list[Candidate]:
        candidates = self._candidates(documents)
        for index, document in enumerate(documents):
            if not isinstance(document, Document):
                raise RerankInputError(
                    f"document at index {index} must be a Document, got {type(document).__name__}"
                )
        return candidates


def _scored_copies(documents: Sequence[Document], ranked: list[RankedCandidate]) -> list[Document]:
    copies = []
    for item in ranked:
        original = documents[item.position]
        metadata = copy.deepcopy(original.metadata)
        if SCORE_KEY in metadata:
            # A score from an earlier stage is kept, not silently lost.
            metadata[PREVIOUS_SCORE_KEY] = metadata[SCORE_KEY]
        metadata[SCORE_KEY] = item.score
        copies.append(original.model_copy(update={"metadata": metadata}, deep=False))
    return copies
