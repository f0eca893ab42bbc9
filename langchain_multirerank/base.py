"""The LangChain side: translate ``Document`` objects to candidates and results back, nothing more."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from multirerank.backends.base import Backend
from multirerank.engine.inputs import check_items, framework_candidate, lacks_fields, warn_fieldless
from multirerank.errors import RerankInputError
from multirerank.settings import RerankSettings
from multirerank.tracing import EVENT_NAME, call_summary
from multirerank.types import DocumentInput, RerankResponse

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
        reranker = self._reranker_for(kwargs)
        texts, ids = self._texts(documents, reranker.backend, documents_only=False)
        return reranker.rerank(query, texts, ids=ids, **self._call_options(top_n)).as_dicts()

    async def arerank(
        self,
        documents: Sequence[str | Document | Mapping[str, Any]],
        query: str,
        top_n: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """The non-blocking twin of :meth:`rerank`."""
        reranker = self._reranker_for(kwargs)
        texts, ids = self._texts(documents, reranker.backend, documents_only=False)
        return (await reranker.arerank(query, texts, ids=ids, **self._call_options(top_n))).as_dicts()

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best documents for ``query`` as copies carrying ``metadata["relevance_score"]``.

        ``callbacks`` (handlers, or the child manager a ``ContextualCompressionRetriever``
        passes) receive the custom event ``"multirerank.rerank"`` whose data is
        :func:`multirerank.tracing.call_summary`'s (provider, model, documents in and out,
        usage, ``cost_usd``, ``elapsed_seconds``).
        """
        reranker = self.reranker
        texts, ids = self._texts(documents, reranker.backend, documents_only=True)
        response = reranker.rerank(query, texts, ids=ids, **self._call_options())
        if callbacks is not None:
            manager = CallbackManager.configure(inheritable_callbacks=callbacks)
            # The retriever's run id, as dispatch_custom_event would use; a new one without a run.
            manager.on_custom_event(
                EVENT_NAME, call_summary(response, len(texts), ids), run_id=manager.parent_run_id
            )
        return _scored_copies(documents, response)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The non-blocking twin of :meth:`compress_documents`."""
        reranker = self.reranker
        texts, ids = self._texts(documents, reranker.backend, documents_only=True)
        response = await reranker.arerank(query, texts, ids=ids, **self._call_options())
        if callbacks is not None:
            manager = AsyncCallbackManager.configure(inheritable_callbacks=callbacks)
            data = call_summary(response, len(texts), ids)
            await manager.on_custom_event(EVENT_NAME, data, run_id=manager.parent_run_id)
        return _scored_copies(documents, response)

    def _texts(
        self, documents: object, backend: Backend, *, documents_only: bool
    ) -> tuple[list[DocumentInput], list[str | None] | None]:
        """What the engine ranks with ``backend``: each Document's text and id (``None`` when
        none has one); strings and dicts as given."""
        documents = check_items(documents, "documents")
        fields = self.rerank_fields
        # The usual call, a list of Documents, in two passes that make no per-document objects.
        plain = not fields and backend.title_field is None and not backend.rank_fields
        if plain and set(map(type, documents)) <= {Document}:
            # Comprehensions rather than map(attrgetter): between the SDK's work the operator
            # module's code is out of the CPU's caches, the interpreter's attribute reads are not.
            found = [document.id for document in documents]
            # Most Documents have no id: then the engine has none to check or compare.
            return [document.page_content for document in documents], found if any(found) else None
        texts: list[DocumentInput] = []
        ids: list[str | None] = []
        fieldless = 0
        for index, document in enumerate(documents):
            if isinstance(document, Document):
                fieldless += lacks_fields(document.metadata, fields, "page_content")
                texts.append(
                    framework_candidate(
                        document.page_content,
                        document.metadata,
                        index,
                        fields=fields,
                        content_field="page_content",
                        backend=backend,
                        what="document",
                    )
                )
                ids.append(document.id)
            elif isinstance(document, (str, Mapping)) and not documents_only:
                texts.append(document)
                ids.append(None)
            else:
                wanted = "a Document" if isinstance(document, (str, Mapping)) else "a str, Document or dict"
                raise RerankInputError(
                    f"document at index {index} must be {wanted}, got {type(document).__name__}"
                )
        warn_fieldless(fieldless, len(texts), fields, "document")
        return texts, ids


def _scored_copies(documents: Sequence[Document], response: RerankResponse) -> list[Document]:
    copies = []
    for result in response.results:
        original = documents[result.index]
        metadata = _copied(original.metadata)
        if SCORE_KEY in metadata:
            # A score from an earlier stage is kept, not silently lost.
            metadata[PREVIOUS_SCORE_KEY] = metadata[SCORE_KEY]
        metadata[SCORE_KEY] = result.relevance_score
        copies.append(original.model_copy(update={"metadata": metadata}, deep=False))
    return copies


#: Value types a deep copy returns as they are (and whose subclasses are not counted as them).
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})


def _copied(metadata: dict[Any, Any]) -> dict[Any, Any]:
    """A deep copy of ``metadata``; values that cannot be copied (a lock, a client) are shared."""
    # The usual metadata holds only immutable values, whose deep copy is the dict's own copy.
    for value in metadata.values():
        if type(value) not in _IMMUTABLE:
            break
    else:
        return dict(metadata)
    try:
        return copy.deepcopy(metadata)
    except Exception:
        pass
    copied: dict[Any, Any] = {}
    for key, value in metadata.items():
        try:
            copied[key] = copy.deepcopy(value)
        except Exception:
            copied[key] = value
    return copied
