"""OpenTelemetry spans of rerank calls (multirerank.tracing), read from the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from multirerank import Reranker
from multirerank.errors import BadRequestError, ProviderError
from multirerank.routing import Router
from multirerank.tracing import CALL_SPAN, REQUEST_SPAN
from tests.memory_backend import AsyncMemoryBackend, MemoryBackend

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["alpha beta", "beta gamma", "gamma delta", "delta alpha", "alpha"]
IDS = ["d0", "d1", "d2", "d3", "d4"]

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    # The global provider can be set once per process: this module's, made on first use.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def split(spans: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The one call span and its request spans, checked to be its children in one trace."""
    finished = spans.get_finished_spans()
    calls = [span for span in finished if span.name == CALL_SPAN]
    assert len(calls) == 1, [span.name for span in finished]
    call = calls[0]
    requests = [span for span in finished if span.name == REQUEST_SPAN]
    assert len(requests) + 1 == len(finished)
    for request in requests:
        assert request.parent is not None and request.parent.span_id == call.context.span_id
        assert request.context.trace_id == call.context.trace_id
    return call, requests


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def transient() -> ProviderError:
    return ProviderError("the model server is restarting", provider="memory", status=503, retry_after=0)


def test_a_split_call_with_a_retry_is_one_call_span_with_a_child_per_attempt(
    spans: InMemorySpanExporter,
) -> None:
    # Three requests of two documents at most; the second request sent fails once.
    backend = MemoryBackend(max_documents=2, max_retries=1, fail_on={2: transient()})
    response = Reranker(backend, max_concurrency=1).rerank("alpha", DOCUMENTS, top_n=2, ids=IDS)
    call, requests = split(spans)
    assert len(requests) == 4
    assert call.status.status_code is StatusCode.UNSET
    shown = attrs(call)
    assert shown["openinference.span.kind"] == "RERANKER"
    assert shown["reranker.model_name"] == "memory-1"
    assert shown["reranker.query"] == "alpha"
    assert shown["reranker.top_k"] == 2
    assert shown["reranker.input_documents.4.document.id"] == "d4"
    assert shown["reranker.input_documents.4.document.content"] == "alpha"
    best = response.results[0]
    assert shown["reranker.output_documents.0.document.id"] == IDS[best.index]
    assert shown["reranker.output_documents.0.document.score"] == best.relevance_score
    assert "reranker.output_documents.2.document.id" not in shown
    assert shown["multirerank.usage.requests"] == response.usage.requests  # type: ignore[union-attr]
    outcomes = sorted((attrs(r)["multirerank.attempt"], attrs(r)["multirerank.status"]) for r in requests)
    assert outcomes == [(1, "ProviderError"), (1, "ok"), (1, "ok"), (2, "ok")]
    failed = next(r for r in requests if attrs(r)["multirerank.status"] == "ProviderError")
    assert failed.status.status_code is StatusCode.ERROR
    assert attrs(failed)["http.response.status_code"] == 503
    assert [event.name for event in failed.events] == ["exception"]
    for request in requests:
        assert attrs(request)["multirerank.route"] == "memory/memory-1"
        assert attrs(request)["multirerank.documents"] in (1, 2)
        assert attrs(request)["multirerank.request.size_unit"] == "bytes"
        assert attrs(request)["multirerank.request.size"] > 0


def test_a_failing_call_records_the_error_on_its_span_and_its_request(spans: InMemorySpanExporter) -> None:
    backend = MemoryBackend(fail_on={1: BadRequestError("no such model", provider="memory", status=400)})
    with pytest.raises(BadRequestError):
        Reranker(backend).rerank("alpha", DOCUMENTS)
    call, requests = split(spans)
    assert len(requests) == 1
    for span in (call, requests[0]):
        assert span.status.status_code is StatusCode.ERROR
        exception = next(event for event in span.events if event.name == "exception")
        assert (exception.attributes or {})["exception.type"].endswith("BadRequestError")
    assert attrs(requests[0])["multirerank.status"] == "BadRequestError"


@pytest.mark.parametrize("native", [True, False], ids=["native-async", "on-the-pool"])
async def test_async_calls_have_the_same_spans(spans: InMemorySpanExporter, native: bool) -> None:
    make = AsyncMemoryBackend if native else MemoryBackend
    backend = make(max_documents=2, max_retries=1, fail_on={1: transient()})
    async with Reranker(backend, max_concurrency=2) as reranker:
        await reranker.arerank("alpha", DOCUMENTS, ids=IDS)
    _, requests = split(spans)
    assert len(requests) == 4
    assert sorted(attrs(r)["multirerank.attempt"] for r in requests) == [1, 1, 1, 2]


def test_trace_content_false_leaves_texts_off(spans: InMemorySpanExporter) -> None:
    backend = MemoryBackend()
    Reranker(backend, trace_content=False).rerank("secret query", DOCUMENTS, ids=IDS, return_documents=True)
    call, _ = split(spans)
    shown = attrs(call)
    assert "reranker.query" not in shown
    assert not [name for name in shown if name.endswith("document.content")]
    assert shown["reranker.input_documents.0.document.id"] == "d0"
    assert "reranker.output_documents.0.document.score" in shown
    texts = [value for value in shown.values() if isinstance(value, str)]
    assert not any("secret query" in text or "alpha beta" in text for text in texts)


def test_framework_classes_take_trace_content() -> None:
    pytest.importorskip("langchain_core")
    from langchain_multirerank import MultiRerank

    compressor = MultiRerank(model="local", trace_content=False)
    assert compressor.reranker.trace_content is False


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_router_call_span_covers_every_route(spans: InMemorySpanExporter, mode: str) -> None:
    first = MemoryBackend(model="first", fail_on={1: transient()})
    second = MemoryBackend(model="second")
    reranker = Reranker(Router([first, second], cooldown_seconds=0), max_retries=0)
    if mode == "sync":
        response = reranker.rerank("alpha", DOCUMENTS)
    else:
        response = await reranker.arerank("alpha", DOCUMENTS)
    call, requests = split(spans)
    assert [attrs(r)["multirerank.route"] for r in requests] == ["memory/first", "memory/second"]
    assert [attrs(r)["multirerank.status"] for r in requests] == ["ProviderError", "ok"]
    assert attrs(call)["multirerank.route"] == response.metadata["route"] == "memory/second"
    assert [(event.name, dict(event.attributes or {})) for event in call.events] == [
        ("fallback", {"multirerank.route": "memory/first", "multirerank.status": "ProviderError"})
    ]
    assert call.status.status_code is StatusCode.UNSET


def test_no_tracer_provider_means_no_spans_and_no_errors() -> None:
    # A fresh interpreter: the API's proxy provider, whose spans record nothing, so none is made;
    # a provider set afterwards is followed from the next call on.
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "from multirerank import Reranker\n"
        "from tests.memory_backend import MemoryBackend\n"
        "started = []\n"
        "real = trace.ProxyTracer.start_span\n"
        "trace.ProxyTracer.start_span = lambda *a, **k: started.append(1) or real(*a, **k)\n"
        "reranker = Reranker(MemoryBackend())\n"
        "print(len(reranker.rerank('a', ['a', 'b'])), len(started))\n"
        "provider, exporter = TracerProvider(), InMemorySpanExporter()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "reranker.rerank('a', ['a', 'b'])\n"
        "print(sorted(span.name for span in exporter.get_finished_spans()))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    counts, names = completed.stdout.strip().splitlines()
    assert counts == "2 0"
    assert names == str(sorted([CALL_SPAN, REQUEST_SPAN]))


def test_without_opentelemetry_a_call_imports_none_of_it() -> None:
    # opentelemetry made unimportable, as when it is not installed.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'opentelemetry': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from multirerank import Reranker\n"
        "from tests.memory_backend import MemoryBackend\n"
        "r = Reranker(MemoryBackend(max_documents=1)).rerank('a', ['a', 'b'])\n"
        "assert len(r) == 2\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


@pytest.mark.parametrize(("top_n", "trace_content"), [(None, True), (3, False), (150, True)])
def test_a_long_call_keeps_its_key_attributes_within_the_span_limit(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture, top_n: int | None, trace_content: bool
) -> None:
    # The SDK keeps 128 attributes and drops the oldest past them, logging each drop.
    documents = [f"alpha {number}" for number in range(200)]
    Reranker(MemoryBackend(), trace_content=trace_content).rerank("alpha", documents, top_n=top_n)
    call, _ = split(spans)
    kept = attrs(call)
    assert call.dropped_attributes == 0 and len(kept) <= 128
    assert kept["openinference.span.kind"] == "RERANKER" and kept["reranker.model_name"] == "memory-1"
    assert kept["multirerank.input_documents.count"] == 200
    assert "reranker.output_documents.0.document.score" in kept
    assert ("reranker.query" in kept) is trace_content
    assert "Attributes dict is full" not in caplog.text
