"""The settings every framework class shares, and the engine they build.

LangChain's compressors and LlamaIndex's postprocessors are pydantic models; both inherit these
fields from here, so a setting is declared, checked and passed to the engine once.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from typing_extensions import Self

from multirerank.backends.base import Backend
from multirerank.engine import Reranker
from multirerank.pipeline import check_rerank_fields
from multirerank.validation import check_score_threshold, check_top_n


class RerankSettings(BaseModel):
    """``top_n``, threshold, text fields and engine settings, plus the :class:`Reranker` they make.

    A framework class lists its vendor's options model first among its bases, so that model's
    ``build_backend`` is the one used.
    """

    top_n: int | None = Field(default=3, description="How many documents to return; None for all.")
    score_threshold: float | None = Field(default=None, description="Drop results scoring below this value.")
    rerank_fields: list[str] | None = Field(
        default=None,
        description=(
            "Build each text from these fields, in order: the content ('page_content' in LangChain, "
            "'text' in LlamaIndex) or metadata keys."
        ),
    )
    normalize_scores: bool = Field(
        default=False,
        description="Map scores into 0..1 (sigmoid of logits, shifted cosine) so thresholds compare across vendors.",
    )
    max_concurrency: int | None = Field(
        default=None,
        description="Requests in flight at once when a list is split; the backend's default if None.",
    )

    # Inputs stay out of validation errors: they can hold keys and tokens.
    # Assignments are validated like construction, and rebuild the engine (see __setattr__).
    model_config = ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        populate_by_name=True,
        hide_input_in_errors=True,
        validate_assignment=True,
    )

    _reranker: Reranker | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("top_n")
    @classmethod
    def _valid_top_n(cls, value: int | None) -> int | None:
        return check_top_n(value)

    @field_validator("score_threshold")
    @classmethod
    def _valid_threshold(cls, value: float | None) -> float | None:
        return check_score_threshold(value)

    @field_validator("rerank_fields")
    @classmethod
    def _valid_fields(cls, value: list[str] | None) -> list[str] | None:
        return check_rerank_fields(value)

    def model_post_init(self, context: Any, /) -> None:
        # Build now so a wrong setup fails at construction, not at the first query.
        _ = self.reranker

    def build_backend(self) -> Backend:
        raise NotImplementedError(f"{type(self).__name__} names no backend")

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            # The engine was built from the old settings; a wrong new one fails here, as it
            # would at construction.
            with self._lock:
                self._reranker = None
            _ = self.reranker

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A new object built from this one's settings and ``update``, with an engine of its own.

        ``deep`` copies the settings too, except objects that cannot be copied (an SDK client
        given as a setting), which the copy shares.
        """
        settings = {name: getattr(self, name) for name in self.model_fields_set}
        if deep:
            settings = {name: _copied_or_shared(value) for name, value in settings.items()}
        return type(self)(**{**settings, **(update or {})})

    def __copy__(self) -> Self:
        return self.model_copy()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        return self.model_copy(deep=True)

    @property
    def reranker(self) -> Reranker:
        """The engine behind this object, built once."""
        with self._lock:
            if self._reranker is None:
                self._reranker = Reranker(
                    self.build_backend(),
                    max_concurrency=self.max_concurrency,
                    normalize_scores=self.normalize_scores,
                )
            return self._reranker


def _copied_or_shared(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except (TypeError, copy.Error, RecursionError):
        # Clients, locks and sockets cannot be copied; sharing them is what a user expects.
        return value
