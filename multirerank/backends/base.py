"""The contract every backend fulfils: one request, texts in, ``(index, score)`` pairs out.

Splitting, concurrency, merging, ``top_n`` and thresholds live in the engine; a backend only
declares its limits and answers one request that already respects them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from multirerank import redaction
from multirerank.errors import RerankError
from multirerank.types import BatchResult, DocumentInput, Limits, ScoreScale, document_text

B = TypeVar("B", bound="Backend")


class Backend(ABC):
    """One vendor's (or the local model's) reranking call."""

    #: Short provider name, the prefix of model strings (``"bedrock"``, ``"local"``...); one
    #: backend class may serve several providers and set it per instance.
    provider: str = ""
    #: What this backend's scores mean.
    score_scale: ScoreScale = "probability"
    #: Per-request limits; the engine splits and checks against them.
    limits: Limits = Limits()
    #: How many requests the engine may have in flight at once for one rerank call.
    max_concurrency: int = 4
    #: Cut texts over ``limits.max_document_chars`` instead of rejecting them.
    truncate: bool = False
    #: Whether the backend has a ``truncate`` option that makes the engine cut texts over the
    #: character limits (Bedrock): only then does a too-long text's error suggest it.
    cuts_when_told: bool = False
    #: Engine-level retries of retryable errors; 0 where the vendor SDK already retries.
    max_retries: int = 0
    #: The model (or endpoint) this backend calls.
    model: str = ""
    #: Whether the vendor API takes document ids: texts with an id then arrive as IdentifiedText.
    sends_ids: bool = False
    #: The task instruction every request carries, the model's way (``None``: none). Part of what
    #: a score means: the same query and text score differently under another instruction.
    instruction: str | None = None
    #: Whether a document's score depends on it and the query alone, not on the other documents
    #: of the request: the engine's splitting assumes it, and only then does the score cache
    #: serve the backend (a vendor backend takes it from its VendorSpec).
    per_document_scores: bool = True

    #: A metadata key whose value the vendor takes as each document's title (Vertex AI): the
    #: adapters then send documents that have one as :class:`~multirerank.types.TitledText`.
    title_field: str | None = None
    #: Document fields the vendor ranks on (Pinecone's and Mixedbread's ``rank_fields``): the
    #: adapters then send each document as a dict of its text and those metadata fields.
    rank_fields: tuple[str, ...] | None = None

    def __new__(cls: type[B], *args: Any, **kwargs: Any) -> B:
        # Registered from the start, whatever a subclass's __init__ does: the project's log
        # records mask this backend's secrets for as long as it lives.
        backend = super().__new__(cls)
        redaction.register(backend)
        return backend

    @abstractmethod
    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        """Score one request's documents against ``query``.

        ``top_n`` is how many of the best results the engine needs from this request (never more
        than ``len(documents)``), or ``None`` for all; a backend may ignore it and return more.
        Indices in the answer are positions in ``documents``.
        """

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        """The non-blocking twin of :meth:`rerank_batch`, for backends with an async client.

        Backends without one leave this alone; the engine then runs :meth:`rerank_batch` on its
        own bounded thread pool, never on the event loop's default executor.
        """
        raise NotImplementedError

    #: What ``limits.max_request_cost``, ``document_cost`` and ``request_overhead`` count.
    cost_unit: str = "bytes"

    def request_overhead(self, query: str) -> int:
        """What a request costs before any document: by default its JSON framing and the query."""
        return 256 + len(json.dumps(query, ensure_ascii=False).encode("utf-8"))

    def document_cost(self, query: str, document: DocumentInput) -> int:
        """What one document adds to a request: by default its JSON-encoded size in bytes."""
        return len(json.dumps(document_text(document), ensure_ascii=False).encode("utf-8")) + 8

    def should_retry(self, error: RerankError) -> bool:
        """Whether the engine retries ``error`` (up to ``max_retries`` times).

        A backend whose SDK already retries some failures narrows this to the rest.
        """
        return error.retryable

    def secrets(self) -> Iterable[redaction.SecretValue]:
        """The secrets this backend holds or has obtained: API keys, passwords, session tokens,
        bearer tokens an SDK got from an auth endpoint and keeps.

        Nothing in an error leaving a backend call, nor in the project's log records, shows them
        (:mod:`multirerank.redaction`). Asking must be cheap and must not reach the network: read
        what is there now. A backend holding secrets overrides this; the default holds none.
        """
        return ()

    @property
    def has_native_async(self) -> bool:
        return type(self).arerank_batch is not Backend.arerank_batch

    def describe(self) -> dict[str, Any]:
        """Facts about this backend that go into every response's metadata.

        The engine adds the backend's score scale itself, as ``backend_score_scale``.
        """
        return {}

    def score_identity(self) -> Mapping[str, Any]:
        """What decides this backend's scores besides the query and the document: the score
        cache's keys hash it, so two backends share cached scores only when this is equal.

        By default the provider, model and score scale; a backend adds each option that changes
        scores (an instruction, a server's URL, a token cut). Values must be JSON-encodable (or
        have a stable ``str``); never a secret.
        """
        identity = {"provider": self.provider, "model": self.model, "score_scale": self.score_scale}
        if self.instruction is not None:
            # Every backend's instruction, however its vendor takes it.
            identity["instruction"] = self.instruction
        return identity

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Release clients and pools. Safe to call more than once."""

    async def aclose(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r})"
