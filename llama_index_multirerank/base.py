"""The LlamaIndex side: translate ``NodeWithScore`` objects to candidates and results back, nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.base import BaseEvent  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field

from multirerank.engine.inputs import check_items, framework_candidate, lacks_fields, warn_fieldless
from multirerank.errors import RerankInputError
from multirerank.settings import RerankSettings
from multirerank.tracing import call_summary
from multirerank.types import DocumentInput, RerankResponse

dispatcher = get_dispatcher(__name__)

_METADATA_MODES = {
    "all": MetadataMode.ALL,
    "embed": MetadataMode.EMBED,
    "llm": MetadataMode.LLM,
    "none": MetadataMode.NONE,
}


class MultirerankRerankEvent(BaseEvent):
    """What one rerank call did, dispatched inside the postprocessing span after it.

    The fields are :func:`multirerank.tracing.call_summary`'s: ``provider``, ``model``,
    ``documents_in``, ``documents_out``, ``results`` (``[{"index", "id", "score"}]``), ``usage``
    (a dict, or ``None``), ``cost_usd`` (US dollars, ``None`` when unknown), ``elapsed_seconds``.
    """

    provider: str
    model: str
    documents_in: int
    documents_out: int
    results: list[dict[str, Any]]
    usage: dict[str, Any] | None
    cost_usd: float | None
    elapsed_seconds: float

    @classmethod
    def class_name(cls) -> str:
        return "MultirerankRerankEvent"


class RerankPostprocessor(RerankSettings, BaseNodePostprocessor):
    """Base of every multirerank postprocessor: one backend behind LlamaIndex's postprocessor API.

    Subclasses list their options model (which builds the backend) before this class.
    """

    metadata_mode: Literal["all", "embed", "llm", "none"] = Field(
        default="embed",
        description="Which metadata a node's text includes when neither rerank_fields nor rank_fields is set.",
    )

    _call_settings: ClassVar[frozenset[str]] = RerankSettings._call_settings | {
        "metadata_mode",
        "callback_manager",
    }
    # The callback manager is LlamaIndex's plumbing, not a setting; each object has its own.
    _not_compared: ClassVar[frozenset[str]] = frozenset({"callback_manager"})

    @classmethod
    def class_name(cls) -> str:
        # Vendor classes are prefixed so they never clash with LlamaIndex's own BedrockRerank & co.
        return cls.__name__ if cls is RerankPostprocessor else f"Multirerank{cls.__name__}"

    def _texts(self, nodes: list[NodeWithScore]) -> tuple[list[DocumentInput], list[str | None]]:
        """What the engine ranks: each node's text (per ``rerank_fields`` or ``metadata_mode``; a dict
        of text and metadata fields when the backend has ``rank_fields``) and id."""
        texts: list[DocumentInput] = []
        ids: list[str | None] = []
        fieldless = 0
        fields = self.rerank_fields
        backend = self.reranker.backend
        # Fields the vendor ranks on go beside the text, not inside it.
        mode = MetadataMode.NONE if fields or backend.rank_fields else _METADATA_MODES[self.metadata_mode]
        for index, item in enumerate(check_items(nodes, "nodes")):
            if not isinstance(item, NodeWithScore):
                raise RerankInputError(
                    f"node at index {index} must be a NodeWithScore, got {type(item).__name__}"
                )
            node = item.node
            fieldless += lacks_fields(node.metadata, fields, "text")
            texts.append(
                framework_candidate(
                    node.get_content(metadata_mode=mode),
                    node.metadata,
                    index,
                    fields=fields,
                    content_field="text",
                    backend=backend,
                    what="node",
                )
            )
            ids.append(node.node_id)
        warn_fieldless(fieldless, len(texts), fields, "node")
        return texts, ids

    @contextmanager
    def _paired_events(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[list[NodeWithScore]]:
        """A start event now and an end event with the yielded result list, whatever happens."""
        # Wrong input must fail later with its index (after this start event), not in here.
        valid = [item for item in nodes if isinstance(item, NodeWithScore)] if isinstance(nodes, list) else []
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle,
                nodes=valid,
                top_n=self.top_n if self.top_n is not None else len(valid),
                model_name=self.reranker.model or self.reranker.provider,
            )
        )
        result: list[NodeWithScore] = []
        try:
            yield result
        finally:
            dispatcher.event(ReRankEndEvent(nodes=result))

    @staticmethod
    def _query(query_bundle: QueryBundle | None) -> str:
        if query_bundle is None:
            raise RerankInputError("a query is required: pass query_bundle or query_str to postprocess_nodes")
        return query_bundle.query_str

    # Dispatcher spans (LlamaIndex makes one for the abstract method already; the decorator is
    # idempotent): the events below carry the span's id.
    @dispatcher.span
    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._paired_events(nodes, query_bundle) as result:
            query, (texts, ids) = self._query(query_bundle), self._texts(nodes)
            response = self.reranker.rerank(query, texts, ids=ids, **self._call_options())
            dispatcher.event(MultirerankRerankEvent(**call_summary(response, len(texts), ids)))
            result.extend(_rescored(nodes, response))
        return result

    @dispatcher.span
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._paired_events(nodes, query_bundle) as result:
            query, (texts, ids) = self._query(query_bundle), self._texts(nodes)
            response = await self.reranker.arerank(query, texts, ids=ids, **self._call_options())
            dispatcher.event(MultirerankRerankEvent(**call_summary(response, len(texts), ids)))
            result.extend(_rescored(nodes, response))
        return result


def _rescored(nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
    # New NodeWithScore objects: the caller's keep their retrieval scores.
    return [NodeWithScore(node=nodes[result.index].node, score=result.relevance_score) for result in response]
