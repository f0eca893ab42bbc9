"""The shape of a vendor's facts (the data is in :mod:`multirerank.vendors`) and the lookups on it.

Dataclasses and table lookups only: importing this loads no SDK and no HTTP client. Exception
classes are named as ``"module:QualName"`` strings and looked up among the loaded modules when an
error is translated (an SDK that raised one is loaded by then).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from multirerank.errors import PERMANENT_STATUSES, ProviderError, RerankError, error_for_status
from multirerank.types import Limits, ScoreScale

#: A function a backend lends an :class:`ExceptionRule` whose translation needs code; ``None``
#: lets the next rules try.
Handler = Callable[[BaseException], "RerankError | None"]
LimitName = Literal["max_documents", "max_document_chars", "max_query_chars", "max_request_cost"]


@dataclass(frozen=True)
class VendorCode:
    """One error code a vendor answers with.

    ``statuses`` are the HTTP statuses it comes with (an emulator answers the first code listed
    for a status). ``kind`` is the project's error type for it; ``None`` when the status alone
    decides (the code says no more). ``permanent``: retrying cannot help though the type is
    retryable (an exhausted quota). ``message`` is the vendor's usual text, for the emulator.
    """

    code: str
    statuses: tuple[int, ...] = ()
    kind: type[RerankError] | None = None
    permanent: bool = False
    message: str | None = None


@dataclass(frozen=True)
class ExceptionRule:
    """How one exception class an SDK (or its transport) raises becomes the project's error.

    ``exception`` is ``"module:QualName"``; instances of it and of its subclasses match, when
    their text contains ``contains`` (if set). Rules are tried in order, so the specific come
    before the general, as in an ``isinstance`` ladder. A rule names a backend ``handler``, or
    gives ``kind`` and a ``message`` template using ``{provider}``, ``{name}`` (the exception's
    class name), ``{error}`` (its text) and whatever context the backend passes.
    """

    exception: str
    kind: type[RerankError] | None = None
    message: str = ""
    retryable: bool | None = None
    status: int | None = None
    contains: str | None = None
    handler: str | None = None


@dataclass(frozen=True)
class ErrorRules:
    """A vendor's error codes, status rules and SDK exceptions, as tables.

    ``code_families``: an unknown dotted code falls back to its first part's row
    (DashScope's ``Throttling.RateQuota`` -> ``Throttling``). ``server_faults_need_5xx``: a
    server-fault code answered with a status below 500 is final (AWS's DependencyFailedException,
    424). ``missing_status``: the status assumed when an error carries none (``None``: it is a
    ``ProviderError``). ``fallback_codes``: ``(client, server)`` codes an emulator answers for a
    status no row lists.
    """

    codes: tuple[VendorCode, ...] = ()
    code_families: bool = False
    permanent_statuses: frozenset[int] = PERMANENT_STATUSES
    server_faults_need_5xx: bool = False
    missing_status: int | None = None
    fallback_codes: tuple[str, str] | None = None
    exceptions: tuple[ExceptionRule, ...] = ()

    @functools.cached_property
    def _rows(self) -> dict[str, VendorCode]:
        rows: dict[str, VendorCode] = {}
        for row in self.codes:
            rows.setdefault(row.code, row)
        return rows

    @functools.cached_property
    def kinds(self) -> Mapping[str, type[RerankError]]:
        """Vendor code -> project error type, for the codes that decide the type."""
        return {code: row.kind for code, row in self._rows.items() if row.kind is not None}

    def row(self, code: str | None) -> VendorCode | None:
        """The row of ``code`` (or of its family), or ``None`` for an unknown or missing code."""
        if not code:
            return None
        found = self._rows.get(code)
        if found is None and self.code_families:
            found = self._rows.get(code.partition(".")[0])
        return found

    def message(self, code: str) -> str | None:
        """The vendor's usual message for exactly ``code``, when known."""
        row = self._rows.get(code)
        return row.message if row is not None else None

    def status_code(self, status: int) -> str | None:
        """The code the vendor answers ``status`` with, when a row lists it."""
        return next((row.code for row in self.codes if status in row.statuses), None)

    def code_for_status(self, status: int) -> str | None:
        """:meth:`status_code`, else the fallback code for the status's class."""
        found = self.status_code(status)
        if found is None and self.fallback_codes is not None:
            found = self.fallback_codes[1 if status >= 500 else 0]
        return found

    def error(
        self,
        message: str,
        *,
        provider: str,
        status: int | None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> RerankError:
        """The project's error for a vendor's error answer: by its code's row, else by its status."""
        row = self.row(code)
        if row is None or row.kind is None:
            status = status if status is not None else self.missing_status
            if status is None:
                return ProviderError(message, provider=provider, code=code)
            return error_for_status(
                status,
                message,
                provider=provider,
                code=code,
                retry_after=retry_after,
                permanent_statuses=self.permanent_statuses,
            )
        final = row.permanent or (
            self.server_faults_need_5xx
            and issubclass(row.kind, ProviderError)
            and status is not None
            and status < 500
        )
        return row.kind(
            message,
            provider=provider,
            status=status,
            code=code,
            retry_after=retry_after,
            retryable=False if final else None,
        )

    @contextmanager
    def translating(
        self,
        *,
        provider: str,
        handlers: Mapping[str, Handler] | None = None,
        clean: Callable[[str], str] | None = None,
        **context: object,
    ) -> Iterator[None]:
        """Exceptions raised inside raised again as :meth:`translate` makes them (chained to the
        original); one no rule matches, or already a project error, passes unchanged."""
        try:
            yield
        except Exception as error:
            translated = self.translate(error, provider=provider, handlers=handlers, clean=clean, **context)
            if translated is None or translated is error:
                raise
            raise translated from error

    def translate(
        self,
        error: BaseException,
        *,
        provider: str,
        handlers: Mapping[str, Handler] | None = None,
        clean: Callable[[str], str] | None = None,
        **context: object,
    ) -> RerankError | None:
        """The project's error for an exception, by the first matching :class:`ExceptionRule`.

        ``error`` itself when it is already a :class:`RerankError`; ``None`` when no rule matches.
        ``clean`` post-processes messages (a backend scrubbing secrets); ``context`` fills templates.
        """
        if isinstance(error, RerankError):
            return error
        for rule in self.exceptions:
            kind = exception_class(rule.exception)
            if kind is None or not isinstance(error, kind):
                continue
            if rule.contains is not None and rule.contains not in str(error):
                continue
            if rule.handler is not None:
                found = (handlers or {})[rule.handler](error)
                if found is not None:
                    return found
                continue
            assert rule.kind is not None, f"rule for {rule.exception} has neither handler nor kind"
            values = {"provider": provider, "name": type(error).__name__, "error": error, **context}
            text = rule.message.format(**values).strip()
            return rule.kind(
                clean(text) if clean else text,
                provider=provider,
                status=rule.status,
                retryable=rule.retryable,
            )
        return None


def exception_class(path: str) -> type[BaseException] | None:
    """The class ``"module:QualName"`` names, or ``None`` when its module is not loaded: then no
    exception of it can have been raised, so nothing is imported to find out."""
    module_name, _, qualname = path.partition(":")
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


@dataclass(frozen=True)
class RetryPolicy:
    """Who retries what: the engine's default ``max_retries`` and what it retries, and what the
    vendor's SDK already retries (``sdk``, in words) so the engine does not multiply it.

    The engine retries a retryable error; ``codes`` narrows that to errors with those vendor
    codes and ``kinds`` to those error types, and errors answered with one of ``sdk_statuses``
    (which the SDK has retried itself) are left alone.
    """

    max_retries: int
    codes: frozenset[str] | None = None
    kinds: tuple[type[RerankError], ...] = ()
    sdk: str = ""
    sdk_statuses: frozenset[int] = frozenset()

    def engine_retries(self, error: RerankError) -> bool:
        """Whether the engine should retry ``error`` (within ``max_retries``)."""
        return (
            error.retryable
            and (self.codes is None or error.code in self.codes)
            and (not self.kinds or isinstance(error, self.kinds))
            and error.status not in self.sdk_statuses
        )


@dataclass(frozen=True)
class Model:
    """A model the vendor is known to serve. ``regions``: where it is offered, when the vendor
    says (empty: not checked). ``token_budget``: tokens one request may carry. ``instruct``:
    whether it takes an instruction (``None``: not known). ``max_documents``: documents one
    request may carry when the model's limit is below the vendor's (Pinecone's models).
    ``max_query_tokens``: the model's query limit where it differs from the vendor's
    ``limits.max_query_tokens`` (0: none documented for it, so none is checked)."""

    name: str
    regions: frozenset[str] = frozenset()
    token_budget: int | None = None
    instruct: bool | None = None
    max_documents: int | None = None
    max_query_tokens: int | None = None


#: Price units: the :class:`~multirerank.types.Usage` count each is charged on and how many of it
#: the amount buys. ``free``: no vendor charge; ``instance_hours``: billed by the hour whatever the
#: calls, so no call has a cost of its own (``None``).
PRICE_UNITS: Mapping[str, tuple[str, int]] = {
    "1k_searches": ("search_units", 1000),
    "1k_queries": ("search_units", 1000),
    "1m_tokens": ("total_tokens", 1_000_000),
    "1k_requests": ("requests", 1000),
    "1k_documents": ("documents", 1000),
    "free": ("", 1),
    "instance_hours": ("", 1),
}
PriceUnit = Literal[
    "1k_searches", "1k_queries", "1m_tokens", "1k_requests", "1k_documents", "free", "instance_hours"
]


@dataclass(frozen=True)
class Price:
    """A list price: ``usd`` US dollars per ``per`` (a key of :data:`PRICE_UNITS`: ``"1k_searches"``
    is per 1,000 of the vendor's search units, ``"1m_tokens"`` per million tokens...). ``usd=None``:
    the price is not known. ``model`` is the model it is for (``"*"``: every model of the vendor);
    ``source`` the page it was read from (``"(sec.)"`` marks a secondary source, not the vendor's
    own page), ``read`` the date it was read (ISO), ``note`` what else a reader should know.
    ``region``: where the price applies, as the backend's ``describe()["region"]`` names it
    (empty: wherever no regional price is listed).
    """

    usd: float | None
    per: PriceUnit
    model: str = "*"
    source: str = ""
    read: str = ""
    note: str = ""
    region: str = ""


@dataclass(frozen=True)
class VendorSpec:
    """Everything the project knows about one vendor API (or one HTTP API format).

    ``name`` is the key (the provider, or the API format for HTTP), ``provider`` the model-string
    prefix. ``score_scales`` lists ``(scale, when)`` pairs, the default first. ``env`` maps an
    option to the environment variables read for it, in order. ``paths`` are the request paths
    (tried in order where ``fallback_statuses`` answer). ``cost_unit`` is what
    ``limits.max_request_cost`` counts; ``max_text_tokens``, how much of one text the vendor reads
    (it cuts the rest; 0: all). ``takes_ids``: requests carry each document's id (the caller's,
    when it has one). ``per_document_scores``: a document's score depends on the query and that
    document alone, not on the others in the request (what the engine's splitting and the score
    cache rely on; true of every cross-encoder and embedding API here). ``default_model`` is empty when a model must be named. ``sources``
    say where the facts come from. ``billing`` says what the vendor bills a request by and which
    count of its answer the backend reads (or derives) for it; ``prices`` are its list prices,
    one per model (see :mod:`multirerank.prices`). The
    ``langchain_class`` / ``llama_index_class``, ``model_strings`` and ``limit_note`` fill the
    README's backend table (see :mod:`multirerank.vendor_table`).
    """

    name: str
    provider: str
    title: str
    sources: tuple[str, ...]
    limits: Limits
    #: The most documents the vendor takes in one request, when ``limits.max_documents`` (the
    #: request size the engine splits at by default) is chosen below it: the ceiling of a user's
    #: ``max_documents_per_request`` and what the emulator enforces. ``None``: the same.
    max_documents_accepted: int | None = None
    score_scales: tuple[tuple[ScoreScale, str], ...] = (("probability", ""),)
    errors: ErrorRules = ErrorRules()
    retry: RetryPolicy = RetryPolicy(max_retries=0)
    # A mapping is not hashable; the spec stays hashable without it.
    env: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    needs_api_key: bool = False
    default_base_url: str | None = None
    paths: tuple[str, ...] = ()
    fallback_statuses: frozenset[int] = frozenset()
    cost_unit: str = "bytes"
    max_text_tokens: int = 0
    takes_ids: bool = False
    per_document_scores: bool = True
    models: tuple[Model, ...] = ()
    default_model: str = ""
    model_pattern: str = ""
    extra: str | None = None
    model_strings: tuple[str, ...] = ()
    langchain_class: str = ""
    llama_index_class: str = ""
    api_format: str | None = None
    #: How a task instruction reaches the model, in words (``"the task field"``); empty when
    #: the API takes none, and then an instruction is a ConfigurationError.
    instruction: str = ""
    limit_note: str = ""
    status: str = "done"
    in_table: bool = True
    billing: str = ""
    prices: tuple[Price, ...] = ()
    #: Host part -> region, for vendors priced by region whose backend knows only its URL.
    regions: tuple[tuple[str, str], ...] = ()

    @property
    def score_scale(self) -> ScoreScale:
        """The scale of the scores the vendor answers by default."""
        return self.score_scales[0][0]

    def limit(self, name: LimitName) -> int:
        """The limit ``name`` of :attr:`limits`; a LookupError when the vendor sets none."""
        value: int | None = getattr(self.limits, name)
        if value is None:
            raise LookupError(f"{self.name} sets no {name}")
        return value

    @property
    def documents_ceiling(self) -> int | None:
        """The most documents one request may carry at the vendor (see ``max_documents_accepted``)."""
        return self.max_documents_accepted or self.limits.max_documents

    def env_names(self, option: str) -> tuple[str, ...]:
        """The environment variables read for ``option``, in order (none: empty)."""
        return tuple(self.env.get(option, ()))

    def model(self, name: str) -> Model | None:
        return next((model for model in self.models if model.name == name), None)

    @property
    def install_hint(self) -> str:
        """How to install what the backend needs."""
        return f"pip install 'multirerank[{self.extra}]'" if self.extra else "pip install multirerank"
