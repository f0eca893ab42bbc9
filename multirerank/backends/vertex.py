"""Google Vertex AI Ranking API (Discovery Engine ``RankService.Rank``) over REST.

``POST {base}/v1/projects/{project}/locations/{location}/rankingConfigs/{config}:rank`` with an
OAuth bearer token from google-auth (the credentials given, else Application Default
Credentials), sent by httpx: a sync client, and one async client per event loop. REST rather than
``google-cloud-discoveryengine``: its async client speaks gRPC only (grpcio and protobuf for one
JSON call), its scores come back as float32, and it adds no retries of its own; google-auth is
what the SDK uses for credentials anyway. Records carry ids this backend assigns (their position
in the request), the only way an answer maps back (facts: :data:`multirerank.vendors.VERTEX`).
google-auth and httpx are imported when a backend is built, not when this module is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from multirerank.backends.base import Backend
from multirerank.backends.http_api import _preload_async_stack, httpx_clients
from multirerank.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ProviderError,
    RerankError,
)
from multirerank.http_headers import parse_retry_after
from multirerank.options import env_text, options_from, with_model_from_string
from multirerank.redaction import SecretValue, redactor
from multirerank.types import BatchResult, DocumentInput, TitledText, Usage, document_text
from multirerank.vendor_spec import Handler
from multirerank.vendors import GOOGLE_CLOUD_SCOPE, VERTEX

if TYPE_CHECKING:
    import httpx

SPEC = VERTEX
#: Records one billed query covers (Vertex AI pricing, secondary source).
QUERY_RECORDS = 100
PROVIDER = SPEC.provider
DEFAULT_MODEL = SPEC.default_model
MAX_DOCUMENTS = SPEC.limit("max_documents")
INSTALL_HINT = SPEC.install_hint
RANK_PATH = SPEC.paths[0]
#: Locations and ranking configs are resource ids: no slash, colon or space may go into the path.
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
_MESSAGE_LIMIT = 500


class VertexOptions(BaseModel):
    """What a Vertex AI ranker needs: the model (``semantic-ranker-default@latest`` unless told),
    the Google Cloud project (``project_id``, else ``GOOGLE_CLOUD_PROJECT``, else the project of
    Application Default Credentials), ``location`` (``global``), ``ranking_config``
    (``default_ranking_config``; nothing needs creating) and google-auth ``credentials`` (ADC
    when unset). ``title_field`` names the metadata key sent as each record's title.
    ``instruction`` exists for the uniform backend option and must stay ``None``: the Ranking API
    takes none. Raises :class:`ConfigurationError` naming the field at fault.
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )
    #: A framework object holding credentials the caller made refuses to pickle, naming the field
    #: (they may hold refresh handlers and signers); without them it pickles and finds ADC again.
    _client_fields: ClassVar[tuple[str, ...]] = ("credentials",)

    model: str = Field(
        default=DEFAULT_MODEL, min_length=1, description="Ranking model, e.g. semantic-ranker-fast@latest."
    )
    project_id: str | None = Field(
        default_factory=env_text(*SPEC.env_names("project_id"), strip=True),
        description="Google Cloud project id or number (GOOGLE_CLOUD_PROJECT, else ADC's project).",
    )
    location: str = Field(default="global", description="Ranking API location: global, us or eu.")
    ranking_config: str = Field(default="default_ranking_config", description="Ranking config id.")
    credentials: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="google.auth credentials; Application Default Credentials when None.",
    )
    title_field: str | None = Field(
        default=None, min_length=1, description="Metadata key sent as each record's title."
    )
    instruction: str | None = Field(default=None, description="Not supported by the Ranking API: leave None.")
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("base_url", "api_endpoint"),
        description="API root; https://discoveryengine.googleapis.com (global) or https://<location>-discoveryengine.googleapis.com.",
    )
    timeout: float = Field(default=60.0, gt=0, strict=True, description="Seconds to wait for an answer.")
    connect_timeout: float = Field(
        default=10.0, gt=0, strict=True, description="Seconds to wait for a connection."
    )
    max_retries: int = Field(
        default=SPEC.retry.max_retries,
        ge=0,
        strict=True,
        description="Retries of throttled or failed requests.",
    )
    max_documents_per_request: int = Field(
        default=MAX_DOCUMENTS,
        ge=1,
        le=MAX_DOCUMENTS,
        strict=True,
        description="Records per request (at most 200).",
    )

    @field_validator("location", "ranking_config")
    @classmethod
    def _resource_id(cls, value: str) -> str:
        if not _RESOURCE_ID.match(value):
            raise ValueError(
                "must be a resource id such as 'global' or 'default_ranking_config' (no '/', ':' or spaces)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_usable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/?#@]+(/[^?#]*)?$", text):
            raise ValueError(
                "base_url must be an http:// or https:// URL with a host, no query or credentials"
            )
        return text

    def build_backend(self) -> VertexBackend:
        """The backend these options describe; ADC is looked up now when no credentials are given."""
        if self.instruction is not None:
            raise ConfigurationError(
                "instruction is not supported by the Vertex AI Ranking API (it takes none); leave it unset",
                provider=PROVIDER,
            )
        auth = _load_google_auth()
        credentials, project_id = self.credentials, self.project_id
        if credentials is None:
            credentials, found_project = _default_credentials(auth)
            project_id = project_id or found_project
        elif not isinstance(credentials, auth.credentials.Credentials):
            raise ConfigurationError(
                f"Vertex AI credentials must be google.auth credentials, got {type(credentials).__name__}",
                provider=PROVIDER,
            )
        else:
            credentials = auth.credentials.with_scopes_if_required(credentials, [GOOGLE_CLOUD_SCOPE])
        if not project_id:
            raise ConfigurationError(
                "Vertex AI needs project_id (or GOOGLE_CLOUD_PROJECT, or credentials that name a project)",
                provider=PROVIDER,
            )
        if not _RESOURCE_ID.match(project_id):
            raise ConfigurationError(
                f"Vertex AI project_id is not a project id: {project_id!r}", provider=PROVIDER
            )
        return VertexBackend(self, credentials=credentials, project_id=project_id)


def _load_google_auth() -> Any:
    """``google.auth`` with its credential helpers, or a ConfigurationError saying how to install it."""
    try:
        import google.auth
        import google.auth.credentials
        import google.auth.exceptions  # its classes are looked up when errors are translated
    except ImportError as error:
        raise ConfigurationError(
            f"Vertex AI needs google-auth and httpx: {INSTALL_HINT} ({error})", provider=PROVIDER
        ) from None
    return google.auth


def _default_credentials(auth: Any) -> tuple[Any, str | None]:
    """Application Default Credentials and their project, as ConfigurationError when there are none."""
    try:
        credentials, project = auth.default(scopes=[GOOGLE_CLOUD_SCOPE])
    except auth.exceptions.DefaultCredentialsError as error:
        translated = SPEC.errors.translate(error, provider=PROVIDER)
        assert translated is not None
        raise translated from None
    return credentials, project


def default_base_url(location: str) -> str:
    """The API root serving ``location``: global is served at the plain host, a multi-region
    (``us``, ``eu``) only at ``<location>-discoveryengine`` (the global host refuses it)."""
    base = SPEC.default_base_url or ""
    return base if location == "global" else base.replace("://", f"://{location}-", 1)


def record_title(document: DocumentInput, title_field: str | None) -> str | None:
    """The title a document carries: a :class:`~multirerank.types.TitledText`'s, or a mapping's
    ``title_field`` value; ``None`` when blank or absent."""
    title: object = None
    if isinstance(document, TitledText):
        title = document.document_title
    elif title_field is not None and isinstance(document, Mapping):
        title = document.get(title_field)
    if title is None:
        return None
    text = title if isinstance(title, str) else str(title)
    return text if text.strip() else None


def build_body(
    model: str, query: str, documents: Sequence[DocumentInput], top_n: int | None, title_field: str | None
) -> dict[str, Any]:
    """The rank request: records with ids ``"0"``, ``"1"``... (positions in this request), the
    caller's title when there is one, and only ids and scores asked back."""
    records: list[dict[str, str]] = []
    for position, document in enumerate(documents):
        record = {"id": str(position), "content": str(document_text(document))}
        title = record_title(document, title_field)
        if title is not None:
            record["title"] = title
        records.append(record)
    body: dict[str, Any] = {
        "model": model,
        "query": str(query),
        "records": records,
        "ignoreRecordDetailsInResponse": True,
    }
    if top_n is not None:
        body["topN"] = top_n
    return body


def parse_body(body: object, count: int) -> BatchResult:
    """``(position, score)`` pairs from a rank answer of a request of ``count`` records.

    A record with no ``score`` scored 0: proto3 JSON leaves out fields holding their default.
    Raises :class:`MalformedResponseError` for a shape that cannot be read or an id not sent.
    """
    records = body.get("records", []) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise MalformedResponseError("Vertex AI answer has no 'records' list", provider=PROVIDER)
    pairs: list[tuple[int, float]] = []
    for place, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise MalformedResponseError(f"Vertex AI record {place} has no id", provider=PROVIDER)
        record_id = record["id"]
        if not record_id.isdigit() or int(record_id) >= count:
            raise MalformedResponseError(
                f"Vertex AI answered record id {record_id!r}, which was not sent", provider=PROVIDER
            )
        score = record.get("score", 0.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise MalformedResponseError(
                f"Vertex AI record {record_id!r} has no usable score", provider=PROVIDER
            )
        pairs.append((int(record_id), float(score)))
    # Billed per query of up to 100 records (see the spec's billing rule); the answer says nothing.
    return BatchResult(pairs, Usage(requests=1, documents=count, search_units=math.ceil(count / QUERY_RECORDS)))


class VertexBackend(Backend):
    """One ``rankingConfigs.rank`` call per request (at most 200 records), sync or async.

    Built from :class:`VertexOptions` (``VertexOptions(...).build_backend()``), with the
    credentials and project it resolved. Scores are the model's 0..1 relevance.
    """

    provider = PROVIDER
    score_scale = SPEC.score_scale
    limits = SPEC.limits
    max_retries = SPEC.retry.max_retries

    def __init__(self, options: VertexOptions, *, credentials: Any, project_id: str) -> None:
        self._options = options
        self.model = options.model
        self.project_id = project_id
        self.location = options.location
        self.ranking_config = options.ranking_config
        self.title_field = options.title_field
        self.max_retries = options.max_retries
        self.limits = dataclasses.replace(SPEC.limits, max_documents=options.max_documents_per_request)
        self.base_url = options.base_url or default_base_url(options.location)
        self.path = RANK_PATH.format(
            project=project_id, location=options.location, config=options.ranking_config
        )
        self._credentials = credentials
        self._auth_lock = threading.Lock()
        self._auth_request: Any = None
        self._client, self._async_clients = httpx_clients(self, _client_settings(options, self.base_url))

    # -- the contract -------------------------------------------------------------------------

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        body = build_body(self.model, query, documents, top_n, self.title_field)
        with self._failures():
            headers = self._authorized()
            response = self._client.get().post(self.path, json=body, headers=headers)
        return self._answer(response, len(documents))

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        body = build_body(self.model, query, documents, top_n, self.title_field)
        client = await self._async_clients.get()
        with self._failures():
            if not self._credentials.valid:
                # A token refresh is a blocking google-auth call, about once an hour: off the loop.
                await asyncio.to_thread(self._refresh)
            headers = self._authorized()
            response = await client.post(self.path, json=body, headers=headers)
        return self._answer(response, len(documents))

    def secrets(self) -> Iterable[SecretValue]:
        """The access token the credentials hold now, and the refresh token and client secret of
        user credentials (read as stored: asking never refreshes)."""
        found = [
            getattr(self._credentials, name, None) for name in ("token", "refresh_token", "client_secret")
        ]
        return [value for value in found if isinstance(value, str)]

    def describe(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "location": self.location,
            "ranking_config": self.ranking_config,
        }

    def close(self) -> None:
        self._client.close()
        self._async_clients.close()

    async def aclose(self) -> None:
        self._client.close()
        await self._async_clients.aclose()

    def __repr__(self) -> str:
        return (
            f"VertexBackend(model={self.model!r}, project_id={self.project_id!r}, location={self.location!r})"
        )

    # -- credentials ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        """A new access token, one refresh at a time (sync callers and async ones via a thread)."""
        with self._auth_lock:
            if self._credentials.valid:
                return
            if self._auth_request is None:
                from google.auth.transport.requests import Request

                self._auth_request = Request()
            self._credentials.refresh(self._auth_request)

    def _authorized(self) -> dict[str, str]:
        """The headers the credentials add: Authorization, and x-goog-user-project when they name
        a quota project. Refreshes first (blocking) when the token is missing or expiring."""
        if not self._credentials.valid:
            self._refresh()
        headers: dict[str, str] = {}
        self._credentials.apply(headers)
        return headers

    # -- answers and failures -------------------------------------------------------------------

    def _answer(self, response: httpx.Response, count: int) -> BatchResult:
        if not 200 <= response.status_code < 300:
            raise self._status_error(response)
        try:
            body = response.json()
        except ValueError:
            raise MalformedResponseError(
                f"POST {self.base_url}{self.path} answered HTTP {response.status_code} with a body that is not JSON",
                provider=PROVIDER,
                status=response.status_code,
            ) from None
        return parse_body(body, count)

    def _scrub(self, text: str) -> str:
        text = redactor(self.secrets()).mask(text)
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."

    def _status_error(self, response: httpx.Response) -> RerankError:
        status, message, retry_delay = google_error(response)
        return SPEC.errors.error(
            self._scrub(f"Vertex AI rank failed: {message}"),
            provider=PROVIDER,
            status=response.status_code,
            code=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")) or retry_delay,
        )

    def _failures(self) -> AbstractContextManager[None]:
        """google-auth's and httpx's exceptions as the project's errors (``SPEC.errors``)."""
        handlers: dict[str, Handler] = {"refresh": _refresh_error}
        return SPEC.errors.translating(
            provider=PROVIDER,
            handlers=handlers,
            clean=self._scrub,
            where=f"{self.base_url}{self.path}",
            timeout=self._options.timeout,
            connect_timeout=self._options.connect_timeout,
        )


def _refresh_error(error: BaseException) -> RerankError:
    """A failed token refresh: refused credentials, unless google-auth says a retry may help."""
    if getattr(error, "retryable", False):
        return ProviderError(f"Google token refresh failed, may pass on retry: {error}", provider=PROVIDER)
    return AuthenticationError(
        f"Google refused to refresh the Vertex AI credentials: {error}", provider=PROVIDER
    )


def google_error(response: httpx.Response) -> tuple[str | None, str, float | None]:
    """``(status, message, retry delay)`` of Google's error body ``{"error": {code, message,
    status, details}}``; the delay from a ``google.rpc.RetryInfo`` detail, when one came."""
    try:
        body: object = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return (
            None,
            response.text.strip()[:_MESSAGE_LIMIT] or response.reason_phrase or "no error message",
            None,
        )
    status = error.get("status")
    message = str(error.get("message") or "no error message")
    delay = None
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = _duration(detail.get("retryDelay"))
    return (status if isinstance(status, str) else None), message, delay


def _duration(value: object) -> float | None:
    """Seconds of a proto3 JSON Duration such as ``"3s"`` or ``"1.5s"``."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = float(value[:-1])
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _client_settings(options: VertexOptions, base_url: str) -> dict[str, Any]:
    """What the sync and async httpx clients are built with; imported here, not on a loop."""
    try:
        import httpx
    except ImportError:
        raise ConfigurationError(f"Vertex AI needs httpx: {INSTALL_HINT}", provider=PROVIDER) from None
    from multirerank import __version__
    _preload_async_stack()
    return {
        "base_url": base_url,
        "headers": {"Accept": "application/json", "User-Agent": f"multirerank/{__version__}"},
        "timeout": httpx.Timeout(options.timeout, connect=options.connect_timeout),
        "follow_redirects": False,
        "verify": httpx.create_ssl_context(),
    }


def from_model_string(rest: str | None, **options: Any) -> VertexBackend:
    """The backend for ``"vertex"`` or ``"vertex/<model>"``; ``options`` are :class:`VertexOptions` fields."""
    options = with_model_from_string(rest, options, "model", provider=PROVIDER)
    return options_from(VertexOptions, options, provider=PROVIDER).build_backend()
