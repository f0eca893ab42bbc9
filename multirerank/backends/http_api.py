"""Rerank APIs over HTTP: Cohere, Bifrost, vLLM, Hugging Face TEI, Jina, Voyage, Mixedbread,
Pinecone, NVIDIA NIM, Together, Fireworks, DeepInfra, Infinity, llama.cpp, OpenRouter and Azure
AI Foundry's Cohere deployments.

One backend speaks every format in :mod:`multirerank.backends.http_formats`; the format decides
paths, bodies and answers, this module owns the clients, headers, path fallback and the mapping
of HTTP failures onto the project's errors. httpx is imported when a backend is built, not when
this module is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from multirerank import vendors
from multirerank.backends.base import Backend
from multirerank.backends.http_formats import (
    API_FORMATS,
    ApiFormat,
    ApiFormatName,
    WireRequest,
    error_details,
)
from multirerank.backends.per_loop import LazyClient, PerLoop
from multirerank.errors import ConfigurationError, MalformedResponseError
from multirerank.http_headers import parse_retry_after
from multirerank.options import env_value, options_from, with_model_from_string
from multirerank.redaction import SecretValue, module_logger, redactor
from multirerank.types import BatchResult, DocumentInput
from multirerank.vendors import HTTP_RETRY

if TYPE_CHECKING:
    import httpx

logger = module_logger(__name__)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_MESSAGE_LIMIT = 500
# Every format needs the same extra (httpx).
INSTALL_HINT = API_FORMATS["cohere"].spec.install_hint
#: Header names that carry credentials when they contain one of these (Authorization, X-Api-Key...).
_SECRET_HEADER_WORDS = ("key", "token", "secret", "auth", "password")
#: Credential headers whose names say nothing of it: Bifrost's virtual key, session cookies.
_SECRET_HEADERS = frozenset({"x-bf-vk", "cookie"})
#: Connections one client opens to the service at most (httpx's default); an async client hands
#: httpx at most this many requests at once, the rest waiting their turn here (see
#: :meth:`HTTPBackend._gate`).
MAX_CONNECTIONS = 100
#: Idle connections kept alive between requests (httpx's default).
KEEPALIVE = 20


def _api_key_from_env(data: dict[str, Any]) -> SecretStr | None:
    """The format's key variables (COHERE_API_KEY, JINA_API_KEY...), stripped; blank ones are unset."""
    api_format = API_FORMATS.get(data.get("api_format", ""))
    value = env_value(*api_format.api_key_env, strip=True) if api_format else None
    return SecretStr(value) if value is not None else None


class HTTPOptions(BaseModel):
    """What a user sets for a Cohere-compatible rerank API; ``build_backend()`` makes the backend."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    api_format: ApiFormatName = Field(
        description=(
            "Wire format: cohere (/v2/rerank), cohere-v1, bifrost, vllm, tei, jina, voyage, mixedbread, "
            "pinecone, nvidia, together, fireworks, deepinfra, infinity, llamacpp, openrouter or azure-cohere."
        )
    )
    model: str | None = Field(
        default=None,
        description="Model name; required for cohere, jina and bifrost ('provider/model' there).",
    )
    base_url: str | None = Field(
        default=None,
        description="Service root, e.g. http://localhost:8000; required for vllm, tei and bifrost.",
    )
    path: str | None = Field(default=None, description="Override the format's request path, e.g. /v1/rerank.")
    # Secrets are left out of every dump (LlamaIndex's to_json, LangChain's serialisation).
    api_key: SecretStr | None = Field(
        default_factory=_api_key_from_env,
        exclude=True,
        description="Sent as a Bearer token; read from COHERE_API_KEY / JINA_API_KEY when not given.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        exclude=True,
        description="Extra request headers; values are kept secret since they often carry keys.",
    )
    timeout: float = Field(default=60.0, gt=0, strict=True, description="Seconds to wait for an answer.")
    connect_timeout: float = Field(
        default=10.0, gt=0, strict=True, description="Seconds to wait for a connection."
    )
    max_documents_per_request: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="Split larger lists into requests of at most this many documents.",
    )
    max_retries: int = Field(
        default=HTTP_RETRY.max_retries,
        ge=0,
        strict=True,
        description="Retries of throttled or failed requests.",
    )
    gateway_fallbacks: list[str] | None = Field(
        default=None, description="bifrost: 'provider/model' names to try when the model fails."
    )
    max_tokens_per_doc: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="cohere, bifrost: the vendor truncates documents to this many tokens.",
    )
    truncate: bool | None = Field(
        default=None,
        description=(
            "tei, voyage, pinecone, nvidia: True lets the server cut inputs longer than the model's "
            "window, False makes them an error (nvidia sends END unless this is False)."
        ),
    )
    instruction: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Task instruction, passed the model's way (voyage: in the query; fireworks: task; "
            "deepinfra: instruction; vllm: Qwen3-Reranker's prompt); a ConfigurationError elsewhere."
        ),
    )
    rank_fields: list[str] | None = Field(
        default=None,
        min_length=1,
        description="pinecone, mixedbread: fields of mapping documents to rank on, in priority order.",
    )

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("model must not be blank")
        return value.strip() if value is not None else None

    @field_validator("api_key")
    @classmethod
    def _blank_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _sendable(value.get_secret_value()):
            # httpx sends header values as ASCII; say so here rather than in an encoding error
            # that would carry the key.
            raise ValueError("api_key must be ASCII text with no line break")
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("base_url")
    @classmethod
    def _base_url_usable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("base_url must not carry credentials; use api_key or headers")
        if parts.query or parts.fragment:
            raise ValueError("base_url must not have a query or fragment")
        return value.strip().rstrip("/")

    @field_validator("path")
    @classmethod
    def _path_absolute(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "?" in value or "#" in value):
            raise ValueError("path must start with '/' and have no query, e.g. '/v1/rerank'")
        return value

    @field_validator("headers")
    @classmethod
    def _headers_sendable(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if not _sendable(secret.get_secret_value()):
                raise ValueError(f"header {name!r} must be ASCII text with no line break or NUL")
        return value

    @field_validator("gateway_fallbacks")
    @classmethod
    def _fallbacks_named(cls, value: list[str] | None) -> list[str] | None:
        for position, name in enumerate(value or ()):
            provider, _, model = name.partition("/")
            if not provider.strip() or not model.strip():
                raise ValueError(
                    f"gateway_fallbacks[{position}] must be a 'provider/model' name, got {name!r}"
                )
        return value

    def build_backend(self) -> HTTPBackend:
        return HTTPBackend(self)


class HTTPBackend(Backend):
    """One Cohere-compatible rerank API, spoken with one reused httpx client per instance.

    Build it from :class:`HTTPOptions` or from the same fields as keywords:
    ``HTTPBackend(api_format="vllm", base_url="http://localhost:8000")``.
    """

    provider = "http"
    max_retries = HTTP_RETRY.max_retries

    def __init__(self, options: HTTPOptions | None = None, /, **fields: Any) -> None:
        if options is None:
            format_name = fields.get("api_format")
            options = options_from(
                HTTPOptions, fields, provider=format_name if format_name in API_FORMATS else "HTTP rerank"
            )
        elif fields:
            raise ConfigurationError(f"pass HTTPOptions or keyword fields, not both (got {sorted(fields)})")
        api_format = API_FORMATS[options.api_format]
        _check_options(options, api_format)
        self.api_format = api_format
        # One class serves several vendors, so the provider is per instance here.
        self.provider = api_format.provider
        self.model = options.model or api_format.spec.default_model
        #: The task instruction sent with every request (``None``: none); part of what a score means.
        self.instruction = options.instruction
        self.rank_fields = tuple(options.rank_fields) if options.rank_fields else None
        self.score_scale = api_format.score_scale
        self.sends_ids = api_format.spec.takes_ids
        self.limits = dataclasses.replace(
            api_format.spec.limits,
            max_documents=options.max_documents_per_request or _model_limit(api_format, self.model),
            max_query_tokens=_query_token_limit(api_format, self.model),
            # Larger requests for long lists, up to the vendor's ceiling, unless the user set the size.
            max_documents_ceiling=(
                api_format.spec.max_documents_accepted if options.max_documents_per_request is None else None
            ),
        )
        self.per_document_scores = api_format.spec.per_document_scores
        self.max_retries = options.max_retries
        self.base_url = _base_url(options, api_format)
        if not options.path:
            self.base_url = _without_version(self.base_url, api_format)
        self._paths = (options.path,) if options.path else _paths(api_format, self.base_url, self.model)
        self._fallback_statuses = frozenset() if options.path else api_format.fallback_statuses
        self._path_index = 0
        self._options = options
        self._headers, self._secrets = _headers(options)
        self._redactor = redactor(self._secrets)
        # Importing httpx and loading the CA store take a tenth of a second or more: done here,
        # they never block an event loop on a backend's first async request.
        self._client_settings = _client_settings(options, self.base_url, self._headers)
        self._client, self._async_clients = httpx_clients(self, self._client_settings)
        self._lock = threading.Lock()
        self._gates: weakref.WeakKeyDictionary[httpx.AsyncClient, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    # -- the contract -------------------------------------------------------------------------

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        request = self._wire_request(query, documents, top_n)
        body = self.api_format.build_body(request)
        client = self._client.get()
        for sent, (position, path, last) in enumerate(self._path_order(), start=1):
            with self._transport_errors(path):
                response = client.post(path, json=body)
            if self._should_fall_back(response, path, last):
                continue
            return self._answer(position, path, response, request, sent)
        raise AssertionError("unreachable")  # pragma: no cover

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        request = self._wire_request(query, documents, top_n)
        body = self.api_format.build_body(request)
        client = await self._async_clients.get()
        gate = self._gate(client)
        for sent, (position, path, last) in enumerate(self._path_order(), start=1):
            with self._transport_errors(path):
                async with gate:
                    response = await client.post(path, json=body)
            if self._should_fall_back(response, path, last):
                continue
            return self._answer(position, path, response, request, sent)
        raise AssertionError("unreachable")  # pragma: no cover

    def secrets(self) -> Iterable[SecretValue]:
        """The API key and the values of headers that carry credentials."""
        return self._secrets

    def score_identity(self) -> Mapping[str, Any]:
        # A self-hosted server (vLLM, TEI) may name no model: its URL stands for it.
        options = self._options
        return {
            **super().score_identity(),
            "api_format": self.api_format.name,
            "base_url": self.base_url,
            "max_tokens_per_doc": options.max_tokens_per_doc,
            "truncate": options.truncate,
            "gateway_fallbacks": options.gateway_fallbacks,
            "rank_fields": options.rank_fields,
        }

    def describe(self) -> dict[str, Any]:
        facts = {
            "api_format": self.api_format.name,
            "base_url": self.base_url,
            "path": self._paths[self._path_index],
        }
        if self.instruction is not None:
            facts["instruction"] = self.instruction
        return facts

    def close(self) -> None:
        """Close the sync client and the async clients of loops not running (running ones close
        theirs when they shut down)."""
        self._client.close()
        self._async_clients.close()

    async def aclose(self) -> None:
        """Close the sync client, this loop's async client, and others as :meth:`close` does."""
        self._client.close()
        await self._async_clients.aclose()

    def __repr__(self) -> str:
        return (
            f"HTTPBackend(api_format={self.api_format.name!r}, model={self.model!r}, "
            f"base_url={self.base_url!r})"
        )

    # -- requests -----------------------------------------------------------------------------

    def _wire_request(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> WireRequest:
        options = self._options
        return WireRequest(
            model=self.model if self.api_format.sends_model and self.model else None,
            query=query,
            documents=documents,
            top_n=top_n,
            max_tokens_per_doc=options.max_tokens_per_doc,
            truncate=options.truncate,
            fallbacks=tuple(options.gateway_fallbacks or ()),
            instruction=self.instruction,
            rank_fields=self.rank_fields,
        )

    def _gate(self, client: httpx.AsyncClient) -> asyncio.Semaphore:
        """What admits ``client``'s requests, :data:`MAX_CONNECTIONS` at a time.

        httpcore queues the requests a full pool cannot take, and rescans every queued request
        against every connection whenever one finishes: hundreds in flight at once (dozens of
        calls split into many requests each) cost it more than the requests themselves. Waiting
        here costs nothing per request.
        """
        with self._lock:
            gate = self._gates.get(client)
            if gate is None:
                gate = self._gates[client] = asyncio.Semaphore(MAX_CONNECTIONS)
            return gate

    def _path_order(self) -> Iterator[tuple[int, str, bool]]:
        """``(position, path, is_last)``: the path that worked last time first, then the others."""
        first = self._path_index
        order = [first, *(position for position in range(len(self._paths)) if position != first)]
        for number, position in enumerate(order):
            yield position, self._paths[position], number == len(order) - 1

    def _should_fall_back(self, response: httpx.Response, path: str, last: bool) -> bool:
        if last or response.status_code not in self._fallback_statuses:
            return False
        logger.info(
            "%s: POST %s answered HTTP %d; trying the next rerank path",
            self.provider,
            path,
            response.status_code,
        )
        return True

    def _answer(
        self, position: int, path: str, response: httpx.Response, request: WireRequest, sent: int
    ) -> BatchResult:
        """The batch's result from the last of the ``sent`` requests it took (path fallbacks)."""
        if response.status_code not in self._fallback_statuses:
            # The path exists on this server: start there next time.
            self._path_index = position
        if not 200 <= response.status_code < 300:
            raise self._status_error(response, path)
        try:
            body = response.json()
        except ValueError:
            raise MalformedResponseError(
                f"POST {self.base_url}{path} answered HTTP {response.status_code} with a body that is not JSON",
                provider=self.provider,
                status=response.status_code,
            ) from None
        try:
            result = self.api_format.parse_body(body, request)
        except MalformedResponseError as error:
            raise MalformedResponseError(
                f"POST {self.base_url}{path} answered with an unusable body: {error.message}",
                provider=self.provider,
                status=response.status_code,
            ) from None
        return dataclasses.replace(result, usage=dataclasses.replace(result.usage, requests=sent))

    # -- failures -----------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without any secret this backend sends (:mod:`multirerank.redaction`),
        shortened for an error message."""
        text = self._redactor.mask(text)
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."

    def _status_error(self, response: httpx.Response, path: str) -> Exception:
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("location", "elsewhere")
            return ConfigurationError(
                self._scrub(
                    f"POST {self.base_url}{path} was redirected (HTTP {status}) to {location}; "
                    "set base_url to the service's final address"
                ),
                provider=self.provider,
                status=status,
            )
        try:
            body: object = response.json()
        except ValueError:
            body = None
        message, code = error_details(body)
        if message is None:
            message = response.text.strip() or response.reason_phrase or "no error message"
        return self.api_format.spec.errors.error(
            self._scrub(f"POST {self.base_url}{path} failed: {message}"),
            provider=self.provider,
            status=status,
            code=code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    def _transport_errors(self, path: str) -> AbstractContextManager[None]:
        """httpx's failures as the project's errors, by the format's exception table."""
        return self.api_format.spec.errors.translating(
            provider=self.provider,
            clean=self._scrub,
            where=f"{self.base_url}{path}",
            timeout=self._options.timeout,
            connect_timeout=self._options.connect_timeout,
        )


def _sendable(value: str) -> bool:
    """Whether ``value`` can go in a header as httpx sends it: ASCII, no line break or NUL."""
    return value.isascii() and not any(character in value for character in "\r\n\0")


def _headers(options: HTTPOptions) -> tuple[dict[str, str], tuple[str, ...]]:
    """The headers every request carries, and the secret values among them (the redaction
    module also masks the credentials of a ``<scheme> <credentials>`` value on its own)."""
    from multirerank import __version__

    api_format = API_FORMATS[options.api_format]
    key_header, key_prefix = api_format.key_header
    headers = {"Accept": "application/json", "User-Agent": f"multirerank/{__version__}"}
    headers.update(api_format.fixed_headers)
    secrets: list[str] = []
    if options.api_key is not None and not _has_header(options, key_header.lower()):
        key = options.api_key.get_secret_value()
        headers[key_header] = f"{key_prefix}{key}"
        secrets.append(key)
    for name, value in options.headers.items():
        # The user's header replaces ours whatever its case, so no header is sent twice.
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value.get_secret_value()
        if _is_secret_header(name):
            secrets.append(value.get_secret_value())
    return headers, tuple(secrets)


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_HEADER_WORDS)


def _client_settings(options: HTTPOptions, base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the sync and the async clients are built with, one TLS context shared by both."""
    try:
        import httpx
    except ImportError as error:
        if error.name == "httpx":
            raise ConfigurationError(f"the HTTP rerank backend needs httpx: {INSTALL_HINT}") from None
        raise ConfigurationError(f"httpx is installed but cannot be imported ({error})") from error
    _preload_async_stack()
    return {
        "base_url": base_url,
        "headers": headers,
        "timeout": httpx.Timeout(options.timeout, connect=options.connect_timeout),
        "follow_redirects": False,
        # httpx's own limits. Keeping all 100 connections alive saves reconnects under heavy
        # load, but httpcore then checks every idle connection (a system call each) whenever a
        # request starts or ends, which measured 4x the event-loop time per call with 64 calls
        # in flight (benchmarks/bench_concurrency.py).
        "limits": httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=KEEPALIVE),
        # The CA store as httpx loads it (SSL_CERT_FILE, SSL_CERT_DIR, else certifi).
        "verify": httpx.create_ssl_context(),
    }


def _preload_async_stack() -> None:
    """What httpx loads with its first AsyncClient and connection, which would be on the loop:
    httpcore, and anyio's asyncio backend (a lazily imported module of anyio's; if it ever moves,
    the first request only costs its import again)."""
    import httpcore  # noqa: F401

    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")


def httpx_clients(
    owner: object, settings: dict[str, Any]
) -> tuple[LazyClient[httpx.Client], PerLoop[httpx.AsyncClient]]:
    """An httpx-based backend's clients, all built with ``settings``: the sync one, made on first
    use and closed when ``owner`` goes away if not before (adapters are seldom closed), and one
    async client per event loop (an AsyncClient's connections belong to the loop that opened
    them)."""
    import httpx

    def new_sync_client() -> httpx.Client:
        client = httpx.Client(**settings)
        weakref.finalize(owner, client.close)
        return client

    return (
        LazyClient(new_sync_client, httpx.Client.close),
        PerLoop(lambda: httpx.AsyncClient(**settings), _close_async_client, _async_client_closed),
    )


async def _close_async_client(client: httpx.AsyncClient) -> None:
    await client.aclose()


def _async_client_closed(client: httpx.AsyncClient) -> bool:
    return client.is_closed


def _has_header(options: HTTPOptions, name: str) -> bool:
    return any(header.lower() == name for header in options.headers)


def _model_limit(api_format: ApiFormat, model: str) -> int | None:
    """Documents one request may carry: the model's own limit when the vendor data has one."""
    known = api_format.spec.model(model)
    if known is not None and known.max_documents is not None:
        return known.max_documents
    return api_format.max_documents


def _query_token_limit(api_format: ApiFormat, model: str) -> int | None:
    """Tokens a query may have: the model's own limit when the vendor data gives one (0: none
    documented, so none is checked), else the vendor's."""
    known = api_format.spec.model(model)
    if known is not None and known.max_query_tokens is not None:
        return known.max_query_tokens or None
    return api_format.spec.limits.max_query_tokens


def _base_url(options: HTTPOptions, api_format: ApiFormat) -> str:
    """``base_url``, else the format's base-URL variable (``NVIDIA_BASE_URL``), else its public host."""
    if options.base_url:
        return options.base_url
    variables = api_format.spec.env_names("base_url")
    from_env = env_value(*variables, strip=True) if variables else None
    if from_env:
        try:
            checked = HTTPOptions._base_url_usable(from_env)
        except ValueError as error:
            raise ConfigurationError(f"{' or '.join(variables)}: {error}", provider=api_format.name) from None
        if checked:
            return checked
    return api_format.default_base_url or ""


def _without_version(base_url: str, api_format: ApiFormat) -> str:
    """``base_url`` less a trailing ``/v1`` (``/inference/v1``, ``/api/v1``) that the format's
    paths start with: Voyage, Together, Fireworks and OpenRouter document their base URL with it,
    and the format would add it again (``/v1/v1/rerank``, a 404). Formats whose paths differ in
    it (vLLM's ``/v1/rerank`` and ``/rerank``) keep ``base_url`` as given."""
    prefixes = {path[: path.index("/v1/") + 3] if "/v1/" in path else "" for path in api_format.paths}
    prefix = prefixes.pop() if len(prefixes) == 1 else ""
    if prefix and urlsplit(base_url).path.endswith(prefix):
        return base_url[: -len(prefix)]
    return base_url


def _paths(api_format: ApiFormat, base_url: str, model: str) -> tuple[str, ...]:
    """The format's paths for ``base_url`` and ``model`` (its ``choose_paths``), with ``{model}``
    filled in (DeepInfra's ``/v1/inference/{model}``)."""
    chosen = api_format.choose_paths(base_url, model) if api_format.choose_paths is not None else None
    if chosen is not None:
        return chosen
    return tuple(path.replace("{model}", quote(model, safe="/")) for path in api_format.paths)


def _at_default_host(options: HTTPOptions, api_format: ApiFormat) -> bool:
    return _base_url(options, api_format) == api_format.default_base_url


def _check_options(options: HTTPOptions, api_format: ApiFormat) -> None:
    """The checks that depend on the format, as ConfigurationErrors naming the field."""
    name = api_format.name
    if api_format.needs_model and not (options.model or api_format.spec.default_model):
        example = (
            "provider/model, e.g. 'cohere/rerank-v3.5'" if api_format.provider_prefixed_model else "a name"
        )
        raise ConfigurationError(f"model is required for api_format {name!r} ({example})", provider=name)
    if api_format.provider_prefixed_model and options.model and "/" not in options.model.strip("/"):
        raise ConfigurationError(
            f"model for api_format {name!r} must be 'provider/model', got {options.model!r}", provider=name
        )
    if not options.base_url and not api_format.default_base_url:
        raise ConfigurationError(
            f"base_url is required for api_format {name!r} (the address of your server, "
            "e.g. 'http://localhost:8000')",
            provider=name,
        )
    has_authorization = any(
        _has_header(options, header.lower())
        for header in (api_format.key_header[0], *api_format.other_key_headers)
    )
    # A key read from the environment yields to an explicit Authorization header; a given one clashes.
    if "api_key" in options.model_fields_set and options.api_key is not None and has_authorization:
        raise ConfigurationError(
            "give either api_key or an Authorization header in headers, not both", provider=name
        )
    key = options.api_key
    if key is not None and not _sendable(key.get_secret_value()):
        # A given key was checked as a field; one read from the environment is checked here, before
        # httpx fails on it with an encoding error that carries the key.
        raise ConfigurationError(
            f"the API key read from {' or '.join(api_format.api_key_env)} must be ASCII text with no "
            "line break",
            provider=name,
        )
    needs_key = api_format.needs_api_key or (
        api_format.key_only_at_default_host and _at_default_host(options, api_format)
    )
    if needs_key and options.api_key is None and not has_authorization:
        variables = " or ".join(api_format.api_key_env)
        raise ConfigurationError(
            f"api_key is required for api_format {name!r}: pass api_key or set {variables}", provider=name
        )
    model = options.model or api_format.spec.default_model
    if options.instruction is not None and not api_format.takes_instruction(model):
        takers = sorted(fmt.name for fmt in API_FORMATS.values() if fmt.spec.instruction)
        raise ConfigurationError(
            f"model {model or '(the server default)'!r} of api_format {name!r} takes no instruction; "
            f"leave instruction unset, or use a model that takes one ({', '.join(takers)} formats)",
            provider=name,
        )
    # Only where the data gives the vendor's own ceiling: other limits are defaults one may raise.
    ceiling = api_format.spec.max_documents_accepted
    requested = options.max_documents_per_request
    if requested is not None and ceiling is not None and requested > ceiling:
        raise ConfigurationError(
            f"max_documents_per_request={requested} is over the {ceiling:,} documents api_format "
            f"{name!r} takes in one request; longer lists are split, so set at most {ceiling}",
            provider=name,
        )
    for option in ("max_tokens_per_doc", "truncate", "gateway_fallbacks", "rank_fields"):
        if getattr(options, option) is not None and option not in api_format.options:
            supported = sorted(fmt.name for fmt in API_FORMATS.values() if option in fmt.options)
            raise ConfigurationError(
                f"{option} does not apply to api_format {name!r} (only to {', '.join(supported)})",
                provider=name,
            )


# -- model strings ---------------------------------------------------------------------------


def _from_model_string(provider: str, rest: str | None, options: dict[str, Any]) -> Backend:
    allowed = {name for name, fmt in API_FORMATS.items() if fmt.provider == provider}
    api_format = options.pop("api_format", provider if provider in API_FORMATS else min(allowed))
    if api_format not in allowed:
        raise ConfigurationError(
            f"api_format {api_format!r} does not fit model strings starting with {provider + '/'!r} "
            f"(use one of {sorted(allowed)})"
        )
    options = with_model_from_string(rest, options, "model", provider=provider)
    return options_from(HTTPOptions, {"api_format": api_format, **options}, provider=api_format).build_backend()


def cohere_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``cohere/<model>``; ``api_format="cohere-v1"`` selects ``/v1/rerank``."""
    return _from_model_string("cohere", rest, options)


def bifrost_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``bifrost/<provider>/<model>``: the gateway receives ``<provider>/<model>``."""
    return _from_model_string("bifrost", rest, options)


def vllm_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``vllm/<model>`` or ``vllm`` (the server's only model); ``base_url`` is required."""
    return _from_model_string("vllm", rest, options)


def tei_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``tei``; a ``tei/<model>`` name only labels results, since TEI serves one model."""
    return _from_model_string("tei", rest, options)


def jina_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``jina/<model>``."""
    return _from_model_string("jina", rest, options)


def voyage_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``voyage/<model>`` (``voyage``: rerank-2.5)."""
    return _from_model_string("voyage", rest, options)


def mixedbread_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``mixedbread/<model>``, e.g. ``mixedbread/mixedbread-ai/mxbai-rerank-large-v2``."""
    return _from_model_string("mixedbread", rest, options)


def pinecone_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``pinecone/<model>``, e.g. ``pinecone/bge-reranker-v2-m3``."""
    return _from_model_string("pinecone", rest, options)


def nvidia_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``nvidia/<model>``: the hosted API catalog, or a NIM at ``base_url`` / ``NVIDIA_BASE_URL``.

    The model keeps its organisation: ``nvidia/nvidia/llama-nemotron-rerank-1b-v2``; a bare name
    (``nvidia/llama-nemotron-rerank-1b-v2``) gets ``nvidia/`` put back in front.
    """
    if rest is not None and "/" not in rest.strip("/"):
        rest = f"nvidia/{rest}"
    return _from_model_string("nvidia", rest, options)


def together_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``together/<model>``, e.g. ``together/Salesforce/Llama-Rank-V1``."""
    return _from_model_string("together", rest, options)


def fireworks_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``fireworks/<model>``, e.g. ``fireworks/fireworks/qwen3-reranker-8b``."""
    return _from_model_string("fireworks", rest, options)


def deepinfra_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``deepinfra/<model>``, e.g. ``deepinfra/Qwen/Qwen3-Reranker-8B``."""
    return _from_model_string("deepinfra", rest, options)


def infinity_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``infinity/<model>`` or ``infinity``; ``base_url`` is required."""
    return _from_model_string("infinity", rest, options)


def llamacpp_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``llamacpp/<model>`` or ``llamacpp`` (the server's loaded model); ``base_url`` is required."""
    return _from_model_string("llamacpp", rest, options)


def openrouter_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``openrouter/<provider>/<model>``, e.g. ``openrouter/cohere/rerank-v3.5``."""
    return _from_model_string("openrouter", rest, options)


def azure_from_model_string(rest: str | None, **options: Any) -> Backend:
    """``azure/<deployment>``: a Cohere rerank deployment on Azure AI Foundry; ``base_url`` is required."""
    return _from_model_string("azure", rest, options)


# -- vendor classes ----------------------------------------------------------------------------


# Each is HTTPOptions with its format fixed and a default model: a vendor's framework class is
# one of these plus the framework's base (multirerank.settings.VENDOR_CLASSES).


class VoyageOptions(HTTPOptions):
    """Voyage AI rerank: ``api_format="voyage"``, key from ``VOYAGE_API_KEY``."""

    api_format: Literal["voyage"] = Field(default="voyage", description="Fixed by the class.")
    model: str | None = Field(
        default=vendors.VOYAGE.default_model, description="rerank-2.5, rerank-2.5-lite, ..."
    )


class MixedbreadOptions(HTTPOptions):
    """Mixedbread rerank: ``api_format="mixedbread"``, key from ``MXBAI_API_KEY``."""

    api_format: Literal["mixedbread"] = Field(default="mixedbread", description="Fixed by the class.")
    model: str | None = Field(
        default=vendors.MIXEDBREAD.default_model, description="A mixedbread-ai/... model."
    )


class PineconeOptions(HTTPOptions):
    """Pinecone Inference rerank: ``api_format="pinecone"``, key from ``PINECONE_API_KEY``."""

    api_format: Literal["pinecone"] = Field(default="pinecone", description="Fixed by the class.")
    model: str | None = Field(default=vendors.PINECONE.default_model, description="bge-reranker-v2-m3, ...")


class NVIDIAOptions(HTTPOptions):
    """NVIDIA reranking: the API catalog (``NVIDIA_API_KEY``) or a NIM at ``base_url`` (``NVIDIA_BASE_URL``)."""

    api_format: Literal["nvidia"] = Field(default="nvidia", description="Fixed by the class.")
    model: str | None = Field(
        default=vendors.NVIDIA.default_model, description="nvidia/llama-nemotron-rerank-1b-v2, ..."
    )
