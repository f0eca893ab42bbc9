"""A local HTTP server that speaks the vendors' rerank wire protocols.

Tests (the project's and its users') point the real vendor SDKs at it: ``endpoint_url`` for boto3,
a base URL for the others. Each vendor module contributes :class:`Route` objects; this module
owns the server, the request log, the deterministic scorer and fault injection.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import re
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from multirerank.testing.throttling import Throttle

#: Scores ``texts`` against ``query`` in 0..1, higher is more relevant, one per text in order.
Scorer = Callable[[str, list[str]], list[float]]

_TOKEN = re.compile(r"\w+", re.UNICODE)

#: How many requests an emulator keeps by default: plenty for a test, bounded for a long run.
DEFAULT_RECORD = 10_000

#: Seconds a TLS client gets to finish its handshake before its connection is closed.
HANDSHAKE_TIMEOUT = 10.0


@functools.lru_cache(maxsize=65_536)
def _terms(text: str) -> frozenset[str]:
    # Cached: load tests and benchmarks send the same texts many times, and tokenizing is most
    # of the emulator's CPU per request; a vendor's own CPU is not what they measure.
    return frozenset(_TOKEN.findall(text.lower()))


def lexical_scorer(query: str, texts: list[str]) -> list[float]:
    """Deterministic relevance in 0..1: the share of query terms a text contains, longer terms
    weighing more (a stand-in for their rarity).

    Enough to give vendor-like, reproducible rankings with no model. Each text's score depends on
    the query and that text alone, as the vendors' cross-encoders' do (every vendor emulated here
    declares ``per_document_scores``): how a list is split, what else is in a request, and a
    score cache make no difference to it.
    """
    query_terms = set(_TOKEN.findall(query.lower()))
    doc_terms = [_terms(text) for text in texts]
    if not query_terms:
        return [0.0 for _ in texts]
    weights = {term: math.log(1.0 + len(term)) for term in query_terms}
    total = sum(weights.values())
    scores = []
    for terms in doc_terms:
        matched = sum(weight for term, weight in weights.items() if term in terms)
        # A small length term breaks ties the same way on every run.
        scores.append(round(0.98 * matched / total + 0.02 / (1 + len(terms)), 6))
    return scores


def local_model_scorer() -> Scorer:
    """Scores with the project's local backend (the packaged model unless told otherwise)."""
    from multirerank.backends.local import LocalBackend
    from multirerank.scales import to_probability

    backend = LocalBackend()

    def score(query: str, texts: list[str]) -> list[float]:
        pairs = backend.rerank_batch(query, texts, None).scores
        values = [0.0] * len(texts)
        for index, value in pairs:
            values[index] = to_probability(value, backend.score_scale)
        return values

    return score


@dataclass
class Request:
    """What the emulator received, as a vendor module and a test see it. ``client`` is the
    address of the connection it came on: requests on one kept-alive connection share it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    match: re.Match[str] | None = None
    client: tuple[str, int] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body).encode("utf-8")


#: What ``Fault(corrupt=...)`` does to the vendor's usual answer, in that vendor's shape: the first
#: result's index one past the results answered (out of range when they cover every document
#: sent, as with no ``top_n``) or -1; the second result repeating the first's index; the first
#: result's score NaN (sent as the bare ``NaN`` Python's ``json`` writes and reads) or missing;
#: no results at all; or the last result left out.
CORRUPTIONS = (
    "index-out-of-range",
    "negative-index",
    "duplicate-index",
    "nan-score",
    "missing-score",
    "empty-results",
    "short-results",
)


@dataclass
class Fault:
    """A failure to inject into matching requests.

    ``status`` with ``code``/``message`` answers with that vendor's error body; ``latency`` delays
    the answer; ``malformed`` sends invalid JSON; ``truncated`` sends half a body and closes;
    ``drop`` closes the connection without an answer; ``corrupt`` (one of :data:`CORRUPTIONS`)
    spoils the results of an answer that is otherwise the vendor's usual one. ``vendor`` and
    ``path`` (a regex searched in the request path) choose the requests; ``times`` is how many
    it applies to (``None``: all). ``rate`` below 1 applies it to that share of the matching
    requests at random, drawn from ``random.Random(seed)``; the others pass untouched and do not
    count against ``times``. ``echo`` (with ``status``) puts the credentials the request carried
    into the error answer, as some vendors do: ``"message"``, ``"body"`` or ``"text"`` (see
    :mod:`multirerank.testing.echo`).
    """

    status: int | None = None
    code: str | None = None
    message: str = "injected fault"
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    malformed: bool = False
    truncated: bool = False
    drop: bool = False
    vendor: str | None = None
    path: str | None = None
    times: int | None = 1
    corrupt: str | None = None
    rate: float = 1.0
    seed: int | None = None
    echo: str | None = None
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from multirerank.testing.echo import check_echo

        check_echo(self.echo)
        if self.corrupt is not None and self.corrupt not in CORRUPTIONS:
            raise ValueError(f"corrupt must be one of {', '.join(CORRUPTIONS)}; got {self.corrupt!r}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 < self.rate <= 1:
            raise ValueError(f"rate must be a share of requests above 0 and at most 1; got {self.rate!r}")
        self._random = random.Random(self.seed)

    def matches(self, vendor: str, path: str) -> bool:
        if self.vendor is not None and self.vendor != vendor:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def fires(self) -> bool:
        """Whether it applies to this matching request (always, unless ``rate`` is below 1)."""
        return self.rate >= 1 or self._random.random() < self.rate


@dataclass(frozen=True)
class Route:
    """One vendor endpoint: ``pattern`` is a regex matched against the whole path.
    ``rate_limited``: whether the emulator's ``rate_limit`` counts its requests: a rerank endpoint's,
    not a token service's or an SDK's set-up lookups'."""

    vendor: str
    method: str
    pattern: str
    handler: Callable[[Emulator, Request], Response]
    error: Callable[[int, str | None, str], Response]
    rate_limited: bool = True
    #: Where a 200 answer keeps its results, for ``Fault(corrupt=...)``: the keys leading to the
    #: list (``("data",)``, ``("output", "results")``; ``()`` for a bare list); ``None``: found by
    #: :func:`answer_results`' search of the usual places.
    results: tuple[str, ...] | None = None


def _route_modules() -> list[str]:
    # Each vendor module exposes ROUTES; listed by name so the server imports only the stdlib.
    return [
        "multirerank.testing.bedrock",
        "multirerank.testing.sagemaker",
        "multirerank.testing.watsonx",
        "multirerank.testing.dashscope",
        "multirerank.testing.vertex",
        "multirerank.testing.http_apis",
        "multirerank.testing.more_http_apis",
    ]


def default_routes() -> list[Route]:
    import importlib

    routes: list[Route] = []
    for name in _route_modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue
            raise
        routes.extend(module.ROUTES)
    return routes


class Emulator:
    """The wire emulator: ``with Emulator() as emu: ... emu.url ...``.

    ``port=0`` picks a free port. ``tls=True`` serves HTTPS with a self-signed certificate made at
    start-up (the watsonx.ai SDK refuses plain HTTP). ``scorer`` is ``"lexical"`` (default),
    ``"local"`` (the project's local model) or a callable. ``record`` is how many requests
    :attr:`requests` keeps, the oldest dropped first (``None``: all, ``0``: none). ``latency`` is
    how many seconds every request to a vendor endpoint waits before its answer, like a vendor's
    own processing time (an injected fault's ``latency`` comes on top); it can be changed while
    the server runs. ``rate_limit`` (``"10/second"``, ``"10/second;300/minute"``; ``None``: no
    limit) answers requests beyond it with the vendor's throttling error, counted in
    :attr:`throttled` (see :mod:`multirerank.testing.throttling`); it can be changed too.

    Several emulators run side by side, each with its own port, faults, log and rate limit: one per
    deployment of a routing test (:func:`multirerank.testing.routing.instances` starts ``n``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: bool = False,
        scorer: str | Scorer = "lexical",
        routes: Iterable[Route] | None = None,
        record: int | None = DEFAULT_RECORD,
        latency: float = 0.0,
        rate_limit: str | None = None,
    ) -> None:
        _check_record(record)
        _check_latency(latency)
        self.host = host
        self.port = port
        self.tls = tls
        self._scorer_choice = scorer
        self._scorer: Scorer | None = scorer if callable(scorer) else None
        self.routes = list(routes) if routes is not None else default_routes()
        self.record = record
        #: Seconds every request waits before its answer.
        self.latency = float(latency)
        #: Requests answered with the vendor's throttling error because of :attr:`rate_limit`.
        self.throttled = 0
        self._throttle: Throttle | None = None
        self.rate_limit = rate_limit
        self._recorded: deque[Request] = deque(maxlen=record)
        self.faults: list[Fault] = []
        #: Free-form per-vendor state (issued tokens, page cursors...).
        self.state: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> Emulator:
        context = self._tls_context() if self.tls else None
        try:
            server = _Server((self.host, self.port), _handler_for(self))
        except BaseException:
            self._remove_tempdir()
            raise
        server.daemon_threads = True
        if context is not None:
            # Each handler thread runs its own handshake (see Handler.handle): run by accept(),
            # one client that never sends a ClientHello would stall every other client.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self.port = server.server_address[1]
        # A short poll interval keeps stop() fast; tests start and stop many emulators.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="multirerank-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._remove_tempdir()

    def _remove_tempdir(self) -> None:
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _tls_context(self) -> ssl.SSLContext:
        from multirerank.testing.certificates import self_signed_certificate

        self._tempdir = tempfile.TemporaryDirectory(prefix="multirerank-emulator-")
        cert, key = self_signed_certificate(Path(self._tempdir.name), self.host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    # -- what tests use -----------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """The recorded requests, oldest first: a copy, so it can be sliced and compared to a list
        while the server goes on recording."""
        with self._lock:
            return list(self._recorded)

    def inject(self, fault: Fault | None = None, /, **fields: Any) -> Fault:
        """Queue a fault: ``emu.inject(status=429, code="ThrottlingException", vendor="bedrock")``."""
        fault = fault if fault is not None else Fault(**fields)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self._recorded.clear()

    def withdraw(self, fault: Fault) -> None:
        """Stop injecting ``fault`` (as :meth:`inject` returned it); nothing if it is spent."""
        with self._lock:
            self.faults[:] = [queued for queued in self.faults if queued is not fault]

    @property
    def rate_limit(self) -> str | None:
        """The emulator's own rate limit, ``None`` for none; a ``ValueError`` for a bad one."""
        return self._throttle.spec if self._throttle is not None else None

    @rate_limit.setter
    def rate_limit(self, spec: str | None) -> None:
        if spec is None:
            self._throttle = None
            return
        from multirerank.testing.throttling import Throttle

        self._throttle = Throttle(spec)

    def requests_to(self, pattern: str) -> list[Request]:
        return [request for request in self.requests if re.search(pattern, request.path)]

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Relevance in 0..1 for each text, by the configured scorer."""
        if self._scorer is None:
            self._scorer = local_model_scorer() if self._scorer_choice == "local" else lexical_scorer
        return self._scorer(query, texts)

    def ranked(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        """``(index, score)`` best first, ties by index, as vendors sort."""
        scores = self.score(query, texts)
        return sorted(enumerate(scores), key=lambda pair: (-pair[1], pair[0]))

    # -- dispatch -----------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self._recorded.append(request)

    def _take_fault(self, vendor: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(vendor, path) and fault.fires():
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _throttles(self, route: Route) -> bool:
        throttle = self._throttle
        if throttle is None or not route.rate_limited or throttle.admit():
            return False
        with self._lock:
            self.throttled += 1
        return True

    def _route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route in self.routes:
            if route.method == method:
                match = re.fullmatch(route.pattern, path)
                if match is not None:
                    return route, match
        return None


def answer_results(body: Any, where: tuple[str, ...] | None = None) -> list[Any] | None:
    """The results list of a vendor's answer: at ``where`` (a route's :attr:`Route.results`) when
    given, else whichever of the usual shapes it has: a bare list (TEI), ``results`` (Bedrock,
    watsonx.ai, the Cohere-compatible APIs), ``output.results`` (DashScope), ``scores`` (the HF
    toolkit's sentence ranking, DeepInfra's scores in input order), ``records`` (Vertex AI),
    ``data`` (Voyage, Mixedbread, Pinecone, Fireworks) or ``rankings`` (NVIDIA); ``None`` for
    other shapes."""
    if where is not None:
        found_at: Any = body
        for key in where:
            found_at = found_at.get(key) if isinstance(found_at, dict) else None
        return found_at if isinstance(found_at, list) else None
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        return None
    output = body.get("output")
    places = ((body, "results"), (output, "results"), (body, "scores"), (body, "records"))
    for holder, key in (*places, (body, "data"), (body, "rankings")):
        if isinstance(holder, dict) and isinstance(holder.get(key), list):
            found: list[Any] = holder[key]
            return found
    return None


_SCORE_KEYS = ("relevance_score", "relevanceScore", "score", "logit")
#: What points a result at its document: a position, or (Vertex AI) the record id it was sent with.
_INDEX_KEYS = ("index", "id")


def corrupt_results(body: Any, corruption: str, where: tuple[str, ...] | None = None) -> None:
    """Spoil ``body``'s results (at ``where``, see :func:`answer_results`) in place as
    :data:`CORRUPTIONS` describes; a ValueError when the answer has no results of the kind the
    corruption needs. Scores in input order (DeepInfra's bare numbers) take the score
    corruptions, and index-out-of-range as one score more than documents."""
    results = answer_results(body, where)
    if results is None:
        raise ValueError(f"cannot corrupt ({corruption}) an answer with no results list")
    if corruption == "empty-results":
        results.clear()
        return
    if corruption == "short-results":
        if results:
            results.pop()
        return
    if results and all(_is_score(item) for item in results):
        _corrupt_scores(results, corruption)
        return
    items = [item for item in results if isinstance(item, dict)]
    if not items or len(items) != len(results):
        raise ValueError(f"cannot corrupt ({corruption}) results that are not objects")
    first = items[0]
    if corruption in ("index-out-of-range", "negative-index", "duplicate-index"):
        index = next((key for key in _INDEX_KEYS if all(key in item for item in items)), None)
        if index is None:
            raise ValueError(f"cannot corrupt ({corruption}) results without an index")
        as_sent = str if index == "id" else int  # Vertex AI's ids are the positions as strings
        if corruption == "index-out-of-range":
            first[index] = as_sent(len(items))
        elif corruption == "negative-index":
            first[index] = as_sent(-1)
        elif len(items) < 2:
            raise ValueError("cannot repeat an index in fewer than two results")
        else:
            items[1][index] = first[index]
        return
    key = next((key for key in _SCORE_KEYS if key in first), None)
    if key is None:
        raise ValueError(f"cannot corrupt ({corruption}) results without a score")
    if corruption == "nan-score":
        first[key] = math.nan
    else:
        del first[key]


def _is_score(item: object) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


def _corrupt_scores(scores: list[Any], corruption: str) -> None:
    """Spoil a list of scores in input order, which has no index to spoil but its length."""
    if corruption == "index-out-of-range":
        scores.append(scores[-1])
    elif corruption == "nan-score":
        scores[0] = math.nan
    elif corruption == "missing-score":
        scores[0] = None
    else:
        raise ValueError(f"cannot corrupt ({corruption}) scores in input order, which carry no index")


class _Server(ThreadingHTTPServer):
    # The stdlib listens with a backlog of 5: a burst of new connections (a dozen async calls at
    # once) overflows it, and each dropped handshake costs its client a one-second SYN
    # retransmission. Vendors' servers have deep accept queues.
    request_queue_size = 1024


def _check_latency(latency: object) -> None:
    if (
        isinstance(latency, bool)
        or not isinstance(latency, (int, float))
        or not math.isfinite(latency)
        or latency < 0
    ):
        raise ValueError(f"latency must be a finite number of seconds, at least 0; got {latency!r}")


def _check_record(record: object) -> None:
    if record is None:
        return
    if isinstance(record, bool) or not isinstance(record, int) or record < 0:
        raise ValueError(f"record must be None or a whole number of requests, at least 0; got {record!r}")


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without this each answer waits for the
        # client's delayed ACK (~40 ms), which would dwarf the latency a test injects.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``emulator.requests`` instead."""

        def handle(self) -> None:
            if isinstance(self.connection, ssl.SSLSocket) and not self._handshake(self.connection):
                return
            super().handle()

        def _handshake(self, connection: ssl.SSLSocket) -> bool:
            # A client that never finishes must not hold this thread for ever, and one that fails
            # (plain HTTP on the HTTPS port, an untrusting client) is its own problem, not a
            # traceback on the emulator's stderr.
            connection.settimeout(HANDSHAKE_TIMEOUT)
            try:
                connection.do_handshake()
            except OSError:
                self.close_connection = True
                return False
            connection.settimeout(None)
            return True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers.items()),
                body,
                client=(str(self.client_address[0]), int(self.client_address[1])),
            )
            emulator._record(request)
            found = emulator._route(self.command, parts.path)
            if found is None:
                self._send(Response(404, {"message": f"no route for {self.command} {parts.path}"}))
                return
            route, request.match = found
            if emulator._throttles(route):
                from multirerank.testing.throttling import throttled

                self._send(throttled(route))
                return
            fault = emulator._take_fault(route.vendor, parts.path)
            delay = emulator.latency + (fault.latency if fault is not None else 0.0)
            if delay > 0:
                time.sleep(delay)
            if fault is not None and fault.drop:
                self._drop()
                return
            if fault is not None and fault.status is not None:
                from multirerank.testing.echo import refusal

                response = refusal(route.error, fault.status, fault.code, fault.message, fault.echo, request)
                response.headers.update(fault.headers)
            else:
                try:
                    response = route.handler(emulator, request)
                except Exception as error:  # an emulator bug must reach the test as a 500
                    response = route.error(500, None, f"emulator error: {type(error).__name__}: {error}")
                if fault is not None and fault.corrupt is not None and 200 <= response.status < 300:
                    try:
                        corrupt_results(response.body, fault.corrupt, route.results)
                    except ValueError as error:  # a fault the answer cannot carry is a test's mistake
                        response = route.error(500, None, f"emulator error: {error}")
            if fault is not None and fault.malformed:
                response.raw = b'{"results": [ this is not json'
            if fault is not None and fault.truncated:
                self._send(response, truncate=True)
                return
            self._send(response)

        def _send(self, response: Response, truncate: bool = False) -> None:
            payload = response.payload()
            self.send_response(response.status)
            headers = {"Content-Type": "application/json", **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if truncate:
                self.wfile.write(payload[: max(1, len(payload) // 2)])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(payload)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _serve_quietly(self) -> None:
            # A client that gave up (timeout, dropped connection test) is not an emulator error;
            # over TLS, writing to it fails with SSLEOFError instead of a broken pipe.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                self._serve()

        do_GET = do_POST = do_PUT = do_DELETE = _serve_quietly

    return Handler
