"""What a rerank call did, for tracing tools and framework callbacks: written once, here.

- OpenTelemetry (``pip install 'multirerank[otel]'``): when ``opentelemetry-api`` is installed,
  each :meth:`Reranker.rerank <multirerank.engine.Reranker.rerank>` / ``arerank`` call is a span
  named :data:`CALL_SPAN`, with OpenInference's reranker attributes (span kind ``RERANKER``,
  model name, query, top_k, input and output documents with ids and scores), and each vendor
  request attempt is a child span named :data:`REQUEST_SPAN` (route, attempt, documents, size,
  status). Failures are recorded on the span that saw them, whose status is then ERROR. The
  texts (query, documents) are left out when the reranker's ``trace_content`` is False.
  Without opentelemetry nothing is imported and each call pays one cached check.
- :func:`call_summary`: the data of the ``multirerank.rerank`` event that the LangChain and
  LlamaIndex adapters dispatch (provider, model, documents in and out, usage, cost, seconds).

Attribute names: OpenInference's semantic conventions (Arize-ai/openinference,
``spec/semantic_conventions.md`` and ``openinference-semantic-conventions``), kept here as
constants rather than taken from that package, which would be one more dependency for a few
strings; the ``multirerank.*`` attributes are this project's own.

Context: the call span is made current in the caller's context; the engine runs pool-thread
requests in a copy of that context (``contextvars.copy_context``), and asyncio tasks copy it
themselves, so every request span is a child of its call's span.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import os
import threading
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from multirerank.types import BatchResult, DocumentInput, RerankResponse, document_text

if TYPE_CHECKING:
    from multirerank.backends.base import Backend
    from multirerank.engine.routed import Call

#: The span of one rerank call, and of one request to a vendor (one attempt).
CALL_SPAN = "multirerank.rerank"
REQUEST_SPAN = "multirerank.request"
#: The custom event the framework adapters dispatch after each call.
EVENT_NAME = "multirerank.rerank"

# OpenInference semantic conventions.
SPAN_KIND = "openinference.span.kind"
RERANKER_KIND = "RERANKER"
MODEL_NAME = "reranker.model_name"
QUERY = "reranker.query"
TOP_K = "reranker.top_k"
INPUT_DOCUMENTS = "reranker.input_documents"
OUTPUT_DOCUMENTS = "reranker.output_documents"
DOCUMENT_ID = "document.id"
DOCUMENT_CONTENT = "document.content"
DOCUMENT_SCORE = "document.score"

# This project's own attributes.
PROVIDER = "multirerank.provider"
ROUTE = "multirerank.route"
ATTEMPT = "multirerank.attempt"
STATUS = "multirerank.status"
DOCUMENTS = "multirerank.documents"
REQUEST_SIZE = "multirerank.request.size"
REQUEST_SIZE_UNIT = "multirerank.request.size_unit"
USAGE_PREFIX = "multirerank.usage."
INPUT_COUNT = "multirerank.input_documents.count"
OUTPUT_COUNT = "multirerank.output_documents.count"

#: Attributes of a call span other than its documents' (span kind, model, query, usage...), kept
#: free within the span's attribute limit.
RESERVED_ATTRIBUTES = 32
HTTP_STATUS = "http.response.status_code"


#: What getattr returns for an API module without the provider slot unconfigured() reads.
_NO_SLOT = object()


class _Api:
    """``opentelemetry.trace``, imported when first needed; ``None`` when it is not installed."""

    _module: Any = None
    _tracer: Any = None
    _checked = False
    #: Whether unconfigured() has asked get_tracer_provider() once (see there).
    _asked_provider = False

    @classmethod
    def trace(cls) -> Any:
        if not cls._checked:
            try:
                cls._module = importlib.import_module("opentelemetry.trace")
            except ImportError:
                cls._module = None
            cls._checked = True
        return cls._module

    @classmethod
    def unconfigured(cls, api: Any) -> bool:
        """Whether no tracer provider is set (in code or by ``OTEL_PYTHON_TRACER_PROVIDER``): the
        API then hands out its proxy provider, whose spans never record, so a call need not
        make one (a few microseconds a call, measured by benchmarks/bench_overhead.py).

        The first check asks ``get_tracer_provider()``, which also installs a provider named by
        the environment. Later checks read the API's global provider slot (``_TRACER_PROVIDER``,
        None until one is set; opentelemetry-api 1.x): ``get_tracer_provider()`` looks the
        environment up on every call, raising and catching a KeyError each time, which cost
        this path about a tenth of its overhead. Where the slot is missing (another API
        version), every check asks ``get_tracer_provider()``.
        """
        if cls._asked_provider:
            provider = getattr(api, "_TRACER_PROVIDER", _NO_SLOT)
            if provider is not _NO_SLOT:
                return provider is None
        cls._asked_provider = True
        proxy = getattr(api, "ProxyTracerProvider", None)
        return proxy is not None and isinstance(api.get_tracer_provider(), proxy)

    @classmethod
    def tracer(cls, api: Any) -> Any:
        """The project's tracer, got once: the API's proxy follows a provider set later."""
        if cls._tracer is None:
            from multirerank import __version__

            cls._tracer = api.get_tracer("multirerank", __version__)
        return cls._tracer


class CallTrace:
    """The span of one call and its request counters; reached by request code through a context
    variable, so that the engine passes nothing new between its functions."""

    def __init__(
        self, api: Any, tracer: Any, span: Any, trace_content: bool, output_attributes: int = 0
    ) -> None:
        self._api = api
        self._tracer = tracer
        self.span = span
        self.recording: bool = span.is_recording()
        self.trace_content = trace_content
        #: How many output-document attributes the span has room for (see _document_budget).
        self.output_attributes = output_attributes
        # The call span's context, given to each request span explicitly as its parent.
        self._parent = api.set_span_in_context(span)
        self._attempts: dict[Hashable, Iterator[int]] = {}
        self._lock = threading.Lock()

    def attempt(self, key: Hashable) -> int:
        """1 for a request's first attempt, 2 for its first retry..."""
        with self._lock:
            counter = self._attempts.setdefault(key, itertools.count(1))
            return next(counter)

    @contextmanager
    def request(
        self, backend: Backend, query: str, documents: Sequence[DocumentInput], offset: int
    ) -> Iterator[Any]:
        route = _route(backend)
        attempt = self.attempt((route, offset))
        with self._tracer.start_as_current_span(REQUEST_SPAN, context=self._parent) as span:
            recording = span.is_recording()
            if recording:
                span.set_attributes(
                    {ROUTE: route, PROVIDER: backend.provider, ATTEMPT: attempt, DOCUMENTS: len(documents)}
                )
                try:
                    size = backend.request_overhead(query) + sum(
                        backend.document_cost(query, d) for d in documents
                    )
                except Exception:  # a size the backend cannot count is no reason to fail a request
                    size = None
                if size is not None:
                    span.set_attributes({REQUEST_SIZE: size, REQUEST_SIZE_UNIT: backend.cost_unit})
            try:
                yield span
            except BaseException as error:
                if recording:
                    span.set_attribute(STATUS, type(error).__name__)
                    status = getattr(error, "status", None)
                    if isinstance(status, int):
                        span.set_attribute(HTTP_STATUS, status)
                raise
            if recording:
                span.set_attribute(STATUS, "ok")

    def answered(self, span: Any, result: BatchResult) -> None:
        """Record a request's usage (tokens, search units) on its span."""
        # Not yet checked here: the engine refuses a backend's malformed answer after this.
        if span.is_recording() and isinstance(result, BatchResult):
            usage = result.usage
            for name in ("total_tokens", "search_units"):
                value = getattr(usage, name)
                if value is not None:
                    span.set_attribute(USAGE_PREFIX + name, value)

    def finished(self, response: RerankResponse, call: Call) -> None:
        """Record the call's output documents, served model and usage on the call span."""
        if not self.recording:
            return
        ids = _ids(call)
        attributes: dict[str, Any] = {PROVIDER: response.provider, MODEL_NAME: response.model}
        route = response.metadata.get("route")
        if isinstance(route, str):
            attributes[ROUTE] = route
        attributes[OUTPUT_COUNT] = len(response.results)
        room = self.output_attributes
        for position, result in enumerate(response.results):
            with_content = self.trace_content and result.document is not None
            room -= 3 if with_content else 2
            if room < 0:
                break  # the best first: the ones past the span's limit are left out
            prefix = f"{OUTPUT_DOCUMENTS}.{position}."
            attributes[prefix + DOCUMENT_ID] = _document_id(ids, result.index)
            attributes[prefix + DOCUMENT_SCORE] = result.relevance_score
            if with_content:
                attributes[prefix + DOCUMENT_CONTENT] = document_text(result.document)  # type: ignore[arg-type]
        if response.usage is not None:
            for name, value in dataclasses.asdict(response.usage).items():
                if value is not None:
                    attributes[USAGE_PREFIX + name] = value
        self.span.set_attributes(attributes)

    def fell_back(self, route: str, error: BaseException) -> None:
        """Note on the call span that ``route`` failed and the call moves to the next route."""
        if self.recording:
            self.span.add_event("fallback", {ROUTE: route, STATUS: type(error).__name__})


_current: ContextVar[CallTrace | None] = ContextVar("multirerank_call_trace", default=None)


def traced_call(backend: Backend, call: Call, trace_content: bool) -> AbstractContextManager[CallTrace] | None:
    """The span of one rerank call, to enter while the call runs; ``None`` when the call is not
    traced (no opentelemetry, no tracer provider, or not sampled): then there is nothing to
    enter, and the engine runs the call as it is."""
    api = _Api.trace()
    if api is None or _Api.unconfigured(api):
        return None
    tracer = _Api.tracer(api)
    span = tracer.start_span(CALL_SPAN)
    if not span.is_recording():
        # No tracer provider set up, or the call not sampled: its requests are not either
        # (parent-based sampling), so nothing of it is made current or recorded.
        span.end()
        return None
    return _recorded_call(api, tracer, span, backend.provider, backend.model, call, trace_content)


@contextmanager
def _recorded_call(
    api: Any, tracer: Any, span: Any, provider: str, model: str, call: Call, trace_content: bool
) -> Iterator[CallTrace]:
    with api.use_span(span, end_on_exit=True):
        inputs, outputs = _document_budget(call, trace_content)
        trace = CallTrace(api, tracer, span, trace_content, outputs)
        span.set_attributes(_call_attributes(provider, model, call, trace_content, inputs))
        token = _current.set(trace)
        try:
            yield trace
        finally:
            _current.reset(token)


def traced_request(
    backend: Backend, query: str, documents: Sequence[DocumentInput], offset: int
) -> AbstractContextManager[Any] | None:
    """The span of one request attempt, a child of its call's span, to enter while the request
    runs; ``None`` outside a traced call."""
    trace = _current.get()
    if trace is None:
        return None
    return trace.request(backend, query, documents, offset)


def request_answered(span: Any, result: BatchResult) -> BatchResult:
    """``result``, its usage recorded on the request ``span`` (from :func:`traced_request`)."""
    trace = _current.get()
    if span is not None and trace is not None:
        trace.answered(span, result)
    return result


def fell_back(route: str, error: BaseException) -> None:
    trace = _current.get()
    if trace is not None:
        trace.fell_back(route, error)


def call_summary(
    response: RerankResponse, documents_in: int, ids: Sequence[str | None] | None = None
) -> dict[str, Any]:
    """The data of the ``multirerank.rerank`` framework event, JSON-ready.

    Keys: ``provider``, ``model``, ``documents_in`` (documents given), ``documents_out``
    (documents returned), ``results`` (``[{"index", "id", "score"}]``, best first), ``usage``
    (the :class:`~multirerank.types.Usage` fields as a dict, or ``None``), ``cost_usd`` (US
    dollars, ``None`` when unknown) and ``elapsed_seconds``.
    """
    usage = response.usage
    return {
        "provider": response.provider,
        "model": response.model,
        "documents_in": documents_in,
        "documents_out": len(response.results),
        "results": [
            {"index": r.index, "id": _document_id(ids, r.index), "score": r.relevance_score}
            for r in response.results
        ],
        "usage": None if usage is None else dataclasses.asdict(usage),
        "cost_usd": None if usage is None else usage.cost_usd,
        "elapsed_seconds": response.elapsed_seconds,
    }


def _route(backend: Backend) -> str:
    return f"{backend.provider}/{backend.model}" if backend.model else backend.provider


def _ids(call: Call) -> Sequence[Any] | None:
    ids = call.ids
    return ids if isinstance(ids, Sequence) and not isinstance(ids, str) else None


def _document_id(ids: Sequence[Any] | None, index: int) -> str:
    """The caller's id of document ``index``, or its position as text."""
    if ids is not None and index < len(ids) and ids[index]:
        return str(ids[index])
    return str(index)


def _document_budget(call: Call, trace_content: bool) -> tuple[int, int]:
    """How many attributes a call span spends on input and on output documents.

    A span keeps at most ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` attributes (128 unless set) and the
    SDK drops the oldest past it, logging each: a call of a few dozen documents would lose its
    span kind and query. So the documents get what :data:`RESERVED_ATTRIBUTES` leaves: the
    output documents (the answer, best first) first, then the inputs, in order.
    """
    limit = _attribute_limit()
    documents = call.documents
    count = len(documents) if isinstance(documents, Sequence) and not isinstance(documents, str) else 0
    top_n = call.top_n if isinstance(call.top_n, int) and not isinstance(call.top_n, bool) else None
    wanted = count if top_n is None else max(0, min(top_n, count))
    room = max(0, limit - RESERVED_ATTRIBUTES)
    outputs = min(room, wanted * (3 if trace_content else 2))
    return room - outputs, outputs


def _attribute_limit() -> int:
    """The span attribute count limit the OpenTelemetry SDK applies (its environment variables)."""
    for name in ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"):
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return 128


def _call_attributes(
    provider: str, model: str, call: Call, trace_content: bool, room: int
) -> dict[str, Any]:
    """The call span's attributes known before it runs: input documents as the caller gave them,
    as many as ``room`` attributes hold."""
    attributes: dict[str, Any] = {SPAN_KIND: RERANKER_KIND, PROVIDER: provider, MODEL_NAME: model}
    if isinstance(call.top_n, int) and not isinstance(call.top_n, bool):
        attributes[TOP_K] = call.top_n
    if trace_content and isinstance(call.query, str):
        attributes[QUERY] = call.query
    documents = call.documents
    ids = _ids(call)
    if isinstance(documents, Sequence) and not isinstance(documents, str):
        attributes[INPUT_COUNT] = len(documents)
        for index, document in enumerate(documents):
            room -= 2 if trace_content else 1
            if room < 0:
                break
            prefix = f"{INPUT_DOCUMENTS}.{index}."
            attributes[prefix + DOCUMENT_ID] = _document_id(ids, index)
            content = _content(document) if trace_content else None
            if content is not None:
                attributes[prefix + DOCUMENT_CONTENT] = content
    return attributes


def _content(document: object) -> str | None:
    """A document's text for a span, or None for one the engine is about to refuse: the span
    opens before the input checks, and must not raise in their place."""
    if isinstance(document, str):
        return document
    if isinstance(document, Mapping):
        try:
            return document_text(document)
        except (TypeError, ValueError):
            return None
    return None
