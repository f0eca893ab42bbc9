"""The LangChain side: translate ``Document`` objects to candidates and results back, nothing more."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from multirerank.engine import Item
from multirerank.engine.inputs import candidate_text, check_items
from multirerank.errors import RerankInputError
from multirerank.settings import RerankSettings
from multirerank.types import Candidate, RerankResponse

SCORE_KEY = "relevance_score"
PREVIOUS_SCORE_KEY = "previous_relevance_score"


class RerankCompressor(RerankSettings, BaseDocumentCompressor):
    """Base of every multirerank compressor: one backend behind the ``BedrockRerank`` interface.

    Vendor classes put their options model (which builds the backend) before this class.
    """

    def rerank(
        self,
        documents: Sequence[str | Document | Mapping[str, Any]],
        query: str,
        top_n: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Rank ``documents`` for ``query``: ``[{"index": i, "relevance_score": s}, ...]``, best first.

        ``top_n`` defaults to the compressor's; indices point into ``documents``; ``kwargs`` are
        the vendor's per-call fields where it takes any.
        """
        items = self._items(documents, documents_only=False)
        return self._reranker_for(kwargs).rerank(query, items, **self._call_options(top_n)).as_dicts()

    async def arerank(
        self,
        documents: Sequence[str | Document | Mapping[str, Any]],
        query: str,
        top_n: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """The non-blocking twin of :meth:`rerank`."""
        items = self._items(documents, documents_only=False)
        response = await self._reranker_for(kwargs).arerank(query, items, **self._call_options(top_n))
        return response.as_dicts()

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best documents for ``query`` as copies carrying ``metadata["relevance_score"]``."""
        items = self._items(documents, documents_only=True)
        return _scored_copies(documents, self.reranker.rerank(query, items, **self._call_options()))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The non-blocking twin of :meth:`compress_documents`."""
        items = self._items(documents, documents_only=True)
        return _scored_copies(documents, await self.reranker.arerank(query, items, **self._call_options()))

    def _items(self, documents: object, *, documents_only: bool) -> list[Item]:
        """What the engine ranks: a candidate (text and id) per Document, strings and dicts as given."""
        fields = self.rerank_fields
        items: list[Item] = []
        for index, document in enumerate(check_items(documents, "documents")):
            if isinstance(document, Document):
                text = (
                    candidate_text(document.page_content, document.metadata, fields, "page_content")
                    if fields
                    else document.page_content
                )
                items.append(Candidate(text, document.id))
            elif isinstance(document, (str, Mapping)) and not documents_only:
                items.append(document)
            else:
                wanted = "a Document" if isinstance(document, (str, Mapping)) else "a str, Document or dict"
                raise RerankInputError(
                    f"document at index {index} must be {wanted}, got {type(document).__name__}"
                )
        return items


def _scored_copies(documents: Sequence[Document], response: RerankResponse) -> list[Document]:
    copies = []
    for result in response.results:
        original = documents[result.index]
        metadata = copy.deepcopy(original.metadata)
        if SCORE_KEY in metadata:
            # A score from an earlier stage is kept, not silently lost.
            metadata[PREVIOUS_SCORE_KEY] = metadata[SCORE_KEY]
        metadata[SCORE_KEY] = result.relevance_score
        copies.append(original.model_copy(update={"metadata": metadata}, deep=False))
    return copies
