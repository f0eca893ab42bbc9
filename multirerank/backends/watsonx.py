"""IBM watsonx.ai text rerank through ``ibm-watsonx-ai``'s ``Rerank.generate``.

The SDK is synchronous, so this backend defines no ``arerank_batch``: async callers are served on
the engine's own bounded thread pool. Scores are the cross-encoder's raw logits and stay so
(``score_scale = "logit"``). The SDK client is built on the first request; the options are
checked when the backend is built.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from multirerank.backends.base import Backend
from multirerank.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
)
from multirerank.http_headers import parse_retry_after
from multirerank.options import env_secret, env_text, options_from, with_model_from_string
from multirerank.redaction import SecretValue, install
from multirerank.types import BatchResult, DocumentInput, Usage, document_text
from multirerank.vendor_spec import Handler, exception_class
from multirerank.vendors import WATSONX

SPEC = WATSONX
PROVIDER = SPEC.provider
DEFAULT_MAX_DOCUMENTS = SPEC.limit("max_documents")
INSTALL_HINT = SPEC.install_hint
# Process-wide settings the SDK writes while it builds a client; put back afterwards so that one
# reranker's verify=False or CPD mode does not leak into the rest of the process.
_SDK_WRITTEN_ENV = ("WX_CLIENT_VERIFY_REQUESTS", "DEPLOYMENT_PLATFORM", "DEPLOYMENT_PRIVATE")
_env_lock = threading.Lock()
#: Where the SDK logs every error it raises (at WARNING), the vendor's message included.
SDK_LOGGER = "ibm_watsonx_ai.wml_client_error"


class WatsonxOptions(BaseModel):
    """What a watsonx.ai reranker needs, in the style of langchain-ibm's ``WatsonxRerank``.

    Credentials: ``api_key`` (IBM Cloud IAM, or with ``username`` on Cloud Pak for Data),
    ``token``, or ``username`` + ``password``. Exactly one of ``project_id`` and ``space_id``.
    Unset fields fall back to the ``WATSONX_*`` environment variables, but an explicit credential
    (or scope) disables the environment for the others, so a stray variable never overrides it.
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    model_id: str = Field(
        min_length=1, description="Rerank model, e.g. 'cross-encoder/ms-marco-minilm-l-12-v2'."
    )
    # Secrets (the URL too, as in langchain-ibm) are left out of every dump (LlamaIndex's
    # to_json, LangChain's serialisation); repr masks them.
    url: SecretStr | None = Field(
        default_factory=env_secret(*SPEC.env_names("url")), exclude=True, description="Service URL (https)."
    )
    api_key: SecretStr | None = Field(
        default_factory=env_secret(*SPEC.env_names("api_key")),
        exclude=True,
        validation_alias=AliasChoices("api_key", "apikey"),
    )
    token: SecretStr | None = Field(default_factory=env_secret(*SPEC.env_names("token")), exclude=True)
    username: str | None = Field(default_factory=env_text(*SPEC.env_names("username")))
    password: SecretStr | None = Field(default_factory=env_secret(*SPEC.env_names("password")), exclude=True)
    instance_id: str | None = Field(default_factory=env_text(*SPEC.env_names("instance_id")))
    version: str | None = Field(default=None, description="Cloud Pak for Data version such as '5.2'.")
    project_id: str | None = Field(default_factory=env_text(*SPEC.env_names("project_id")))
    space_id: str | None = Field(default_factory=env_text(*SPEC.env_names("space_id")))
    verify: bool | str = Field(
        default=True, description="Verify TLS: True, False, or the path of a CA bundle."
    )
    auth_url: str | None = Field(default=None, description="IAM or CPD token endpoint, when not the default.")
    platform_url: str | None = Field(
        default=None, description="IBM Cloud data platform URL for a service URL the SDK does not know."
    )
    truncate_input_tokens: int | None = Field(default=None, ge=1, strict=True)
    max_documents_per_request: int = Field(default=DEFAULT_MAX_DOCUMENTS, ge=1, strict=True)
    timeout: float = Field(
        default=60.0,
        gt=0,
        strict=True,
        description="Seconds to wait for one request (an api_client keeps its own).",
    )
    api_client: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        validation_alias=AliasChoices("api_client", "watsonx_client"),
        description="An ibm_watsonx_ai.APIClient to use instead of the credentials.",
    )

    def build_backend(self) -> WatsonxBackend:
        """The backend these options describe; raises ConfigurationError naming a wrong field."""
        explicit = self.model_fields_set
        project_id, space_id = self._chosen(("project_id", "space_id"), explicit)
        connection = None
        if self.api_client is not None:
            _check_api_client(self.api_client, explicit, project_id, space_id)
        elif (project_id is None) == (space_id is None):
            raise ConfigurationError(
                "watsonx.ai needs exactly one of project_id and space_id "
                "(or WATSONX_PROJECT_ID / WATSONX_SPACE_ID)",
                provider=PROVIDER,
            )
        else:
            connection = self._connection(explicit)
        return WatsonxBackend(
            self.model_id,
            connection=connection,
            api_client=self.api_client,
            project_id=project_id,
            space_id=space_id,
            truncate_input_tokens=self.truncate_input_tokens,
            max_documents=self.max_documents_per_request,
            timeout=self.timeout,
        )

    def _chosen(self, names: tuple[str, ...], explicit: set[str]) -> list[Any]:
        """The fields' values, ignoring environment defaults when any of them was given explicitly."""
        if any(name in explicit for name in names):
            return [getattr(self, name) if name in explicit else None for name in names]
        return [getattr(self, name) for name in names]

    def _connection(self, explicit: set[str]) -> Connection:
        if self.url is None:
            raise ConfigurationError("watsonx.ai needs url (or WATSONX_URL)", provider=PROVIDER)
        url = self.url.get_secret_value().rstrip("/")
        _check_https(url, "url")
        _check_https(self.auth_url, "auth_url")
        _check_https(self.platform_url, "platform_url")
        api_key, token, password = self._chosen(("api_key", "token", "password"), explicit)
        username = self.username
        if password is not None and not username:
            raise ConfigurationError(
                "watsonx.ai password needs username (or WATSONX_USERNAME)", provider=PROVIDER
            )
        if api_key is None and token is None and password is None:
            raise ConfigurationError(
                "watsonx.ai needs credentials: api_key (WATSONX_APIKEY), token (WATSONX_TOKEN) "
                "or username + password",
                provider=PROVIDER,
            )
        if self.version is not None and not re.fullmatch(r"\d+\.\d+(\.\d+)?", self.version):
            raise ConfigurationError(
                f"watsonx.ai version must look like '5.2', got {self.version!r}", provider=PROVIDER
            )
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise ConfigurationError(
                f"watsonx.ai verify names a CA bundle that does not exist: {self.verify!r}", provider=PROVIDER
            )
        return Connection(
            url=SecretStr(url),
            api_key=api_key,
            token=token,
            username=username,
            password=password,
            instance_id=self.instance_id,
            version=self.version,
            verify=self.verify,
            auth_url=self.auth_url,
            platform_url=self.platform_url,
        )


def _check_https(url: str | None, field: str) -> None:
    if url is not None and not url.startswith("https://"):
        raise ConfigurationError(
            f"watsonx.ai {field} must start with https:// (the SDK refuses plain HTTP)", provider=PROVIDER
        )


def _check_api_client(
    client: object, explicit: set[str], project_id: str | None, space_id: str | None
) -> None:
    sdk = sys.modules.get("ibm_watsonx_ai")
    # An APIClient can only exist once the SDK is imported, so no import is needed to check it.
    if sdk is None or not isinstance(client, sdk.APIClient):
        raise ConfigurationError(
            f"watsonx.ai api_client must be an ibm_watsonx_ai.APIClient, got {type(client).__name__}",
            provider=PROVIDER,
        )
    given = sorted(explicit & {"url", "api_key", "token", "username", "password", "instance_id", "version"})
    if given:
        raise ConfigurationError(
            f"watsonx.ai takes either api_client or credentials, not both (got {', '.join(given)})",
            provider=PROVIDER,
        )
    if project_id is not None and space_id is not None:
        raise ConfigurationError("watsonx.ai takes project_id or space_id, not both", provider=PROVIDER)
    if project_id is None and space_id is None and not (client.default_project_id or client.default_space_id):
        raise ConfigurationError(
            "watsonx.ai api_client has no default project or space: pass project_id or space_id",
            provider=PROVIDER,
        )


@dataclass(frozen=True)
class Connection:
    """Where and as whom to connect; secrets stay SecretStr until the SDK needs them."""

    url: SecretStr
    api_key: SecretStr | None = None
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    instance_id: str | None = None
    version: str | None = None
    verify: bool | str = True
    auth_url: str | None = None
    platform_url: str | None = None

    def credentials(self) -> Any:
        from ibm_watsonx_ai import Credentials

        def reveal(secret: SecretStr | None) -> str | None:
            return secret.get_secret_value() if secret is not None else None

        return Credentials(
            url=self.url.get_secret_value(),
            api_key=reveal(self.api_key),
            token=reveal(self.token),
            username=self.username,
            password=reveal(self.password),
            instance_id=self.instance_id,
            version=self.version,
            verify=self.verify,
            auth_url=self.auth_url,
            platform_url=self.platform_url,
        )


class WatsonxBackend(Backend):
    """One ``POST /ml/v1/text/rerank`` per request, through the SDK's ``Rerank``."""

    provider = PROVIDER
    score_scale = SPEC.score_scale
    limits = SPEC.limits
    per_document_scores = SPEC.per_document_scores
    # The SDK's transport retries 401 and 5xx answers itself, but not 429, read timeouts or
    # refused connections: the engine retries those (SPEC.retry).
    max_retries = SPEC.retry.max_retries

    def __init__(
        self,
        model_id: str,
        *,
        connection: Connection | None = None,
        api_client: Any = None,
        project_id: str | None = None,
        space_id: str | None = None,
        truncate_input_tokens: int | None = None,
        max_documents: int = DEFAULT_MAX_DOCUMENTS,
        timeout: float = 60.0,
    ) -> None:
        if (connection is None) == (api_client is None):
            raise ConfigurationError(
                "watsonx.ai needs either a connection or an api_client", provider=PROVIDER
            )
        if importlib.util.find_spec("ibm_watsonx_ai") is None:
            raise ConfigurationError(f"watsonx.ai needs its SDK: {INSTALL_HINT}", provider=PROVIDER)
        # The SDK logs each of its errors with the vendor's message, which may echo a credential.
        install(SDK_LOGGER)
        self.model = model_id
        self.limits = dataclasses.replace(SPEC.limits, max_documents=max_documents)
        self.project_id = project_id
        self.space_id = space_id
        self.truncate_input_tokens = truncate_input_tokens
        self.timeout = timeout
        self._connection = connection
        self._api_client = api_client
        self._owned_client: Any = None
        # The client being built, kept from before it signs in (see secrets()).
        self._signing_in: Any = None
        self._rerank: Any = None
        self._lock = threading.Lock()

    def should_retry(self, error: RerankError) -> bool:
        """Not the statuses the SDK's transport has already retried (5xx, 401), since more would
        multiply its attempts; throttling, timeouts and failed connections, which it raises at once."""
        return SPEC.retry.engine_retries(error)

    def secrets(self) -> Iterable[SecretValue]:
        """The credentials given (the service URL too, a secret as in langchain-ibm) and those of
        the SDK clients: theirs, and the tokens they obtained from IAM or Cloud Pak for Data,
        also from a client whose set-up failed after it signed in."""
        found: list[SecretValue] = []
        if self._connection is not None:
            connection = self._connection
            found += [connection.url, connection.api_key, connection.token, connection.password]
        for client in (self._api_client, self._owned_client, self._signing_in):
            found += sdk_client_secrets(client)
        return found

    def score_identity(self) -> Mapping[str, Any]:
        return {**super().score_identity(), "truncate_input_tokens": self.truncate_input_tokens}

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"model_id": self.model}
        if self.project_id is not None:
            facts["project_id"] = self.project_id
        if self.space_id is not None:
            facts["space_id"] = self.space_id
        return facts

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        rerank = self._connected()
        parameters: dict[str, Any] = {}
        if self.truncate_input_tokens is not None:
            parameters["truncate_input_tokens"] = self.truncate_input_tokens
        if top_n is not None:
            parameters["return_options"] = {"top_n": top_n}
        inputs = [str(document_text(document)) for document in documents]
        try:
            answer = rerank.generate(query=str(query), inputs=inputs, params=parameters or None)
        except Exception as error:
            raise translate_error(error) from error
        return parse_answer(answer)

    def _connected(self) -> Any:
        with self._lock:
            if self._rerank is None:
                try:
                    self._rerank = self._connect()
                except ImportError as error:
                    raise ConfigurationError(
                        f"watsonx.ai needs its SDK: {INSTALL_HINT}", provider=PROVIDER
                    ) from error
                except Exception as error:
                    raise translate_error(error, connecting=True) from error
            return self._rerank

    def _connect(self) -> Any:
        from ibm_watsonx_ai.foundation_models import Rerank

        client = self._api_client
        if client is None:
            client = self._owned_client = self._new_client()
            # The client already carries the scope, and asking again would repeat its check.
            return Rerank(self.model, api_client=client)
        return Rerank(self.model, api_client=client, project_id=self.project_id, space_id=self.space_id)

    def _new_client(self) -> Any:
        import httpx
        from ibm_watsonx_ai import APIClient
        from ibm_watsonx_ai.utils.utils import HttpClientConfig

        assert self._connection is not None
        config = HttpClientConfig(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)))
        with _sdk_environment():
            client = APIClient.__new__(APIClient)
            # Known before its constructor signs in, so the token it obtains is masked even when
            # the rest of its set-up fails (a project this user may not open).
            self._signing_in = client
            APIClient.__init__(
                client,
                self._connection.credentials(),
                project_id=self.project_id,
                space_id=self.space_id,
                httpx_client=config,
                async_httpx_client=config,
            )
            return client

    def close(self) -> None:
        with self._lock:
            client, self._owned_client, self._rerank = self._owned_client, None, None
        if client is not None:
            client.httpx_client.close()

    def __repr__(self) -> str:
        scope = f"project_id={self.project_id!r}" if self.project_id else f"space_id={self.space_id!r}"
        return f"WatsonxBackend(model={self.model!r}, {scope})"


def sdk_client_secrets(client: Any) -> list[SecretValue]:
    """The secrets an ``APIClient`` holds: its credentials, and the token its auth method
    obtained (read as stored, never asked for: asking may sign in again)."""
    if client is None:
        return []
    credentials = _state(getattr(client, "credentials", None))
    found = [credentials.get(name) for name in ("api_key", "password", "token", "projects_token")]
    auth = _state(client).get("_auth_method")
    for _ in range(4):
        found.append(_state(auth).get("_token"))
        # A trusted-profile method signs in through another one first.
        auth = _state(auth).get("_internal_auth_method")
    return [value for value in found if isinstance(value, str)]


def _state(thing: object) -> dict[str, Any]:
    """An object's attributes as stored (no property runs), or nothing."""
    state = getattr(thing, "__dict__", None)
    return state if isinstance(state, dict) else {}


@contextmanager
def _sdk_environment() -> Iterator[None]:
    with _env_lock:
        saved = {name: os.environ.get(name) for name in _SDK_WRITTEN_ENV}
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def parse_answer(answer: object) -> BatchResult:
    """``(index, score)`` pairs and token usage from a rerank answer; the engine checks the values."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise MalformedResponseError("watsonx.ai answer has no 'results' list", provider=PROVIDER)
    pairs: list[tuple[int, float]] = []
    for position, item in enumerate(results):
        if not isinstance(item, dict) or "index" not in item or "score" not in item:
            raise MalformedResponseError(
                f"watsonx.ai result {position} lacks 'index' or 'score'", provider=PROVIDER
            )
        pairs.append((item["index"], item["score"]))
    assert isinstance(answer, dict)
    tokens = answer.get("input_token_count")
    counted = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None
    return BatchResult(pairs, Usage(total_tokens=counted))


def translate_error(error: BaseException, *, connecting: bool = False) -> RerankError:
    """The project's error for what the SDK (or httpx beneath it) raised, by the exception table
    of ``SPEC.errors``; ``connecting`` says the client was being built (a client error is then
    the setup's fault)."""

    def response(error: Any) -> RerankError:
        return _from_response(error.response, connecting)

    def last_reason(error: Any) -> RerankError | None:
        reasons = error.reason
        if isinstance(reasons, list) and reasons:
            return translate_error(reasons[-1], connecting=connecting)
        return None

    def credentials(error: Any) -> RerankError:
        detail = _after(str(error.error_msg), "Error: ")
        return AuthenticationError(f"watsonx.ai refused the credentials: {detail}", provider=PROVIDER)

    def scope(error: Any) -> RerankError:
        return _scope_error(error.reason)

    def transport_cause(error: BaseException) -> RerankError | None:
        cause = error.__cause__
        transport = exception_class("httpx:TransportError")
        if transport is None or not isinstance(cause, transport):
            return None
        return translate_error(cause, connecting=connecting)

    def client_error(error: Any) -> RerankError:
        message = str(error.error_msg)
        if "parsing json" in message:
            return MalformedResponseError("watsonx.ai answered with invalid JSON", provider=PROVIDER)
        kind = ConfigurationError if connecting else ProviderError
        return kind(f"watsonx.ai client error: {message[:300]}", provider=PROVIDER, retryable=False)

    handlers: dict[str, Handler] = {
        "response": response,
        "last_reason": last_reason,
        "credentials": credentials,
        "scope": scope,
        "transport_cause": transport_cause,
        "client_error": client_error,
    }
    translated = SPEC.errors.translate(error, provider=PROVIDER, handlers=handlers)
    assert translated is not None, "the last rule matches every exception"
    return translated


def _from_response(response: Any, connecting: bool) -> RerankError:
    code, message = _error_body(response)
    what = "watsonx.ai refused to connect" if connecting else "watsonx.ai rejected the rerank request"
    return SPEC.errors.error(
        f"{what}: {message}",
        provider=PROVIDER,
        status=int(response.status_code),
        code=code,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def _scope_error(reason: object) -> RerankError:
    """The SDK keeps only the body of a failed project or space lookup; its status is inside."""
    text = f"watsonx.ai could not open the project or space: {_vendor_message_text(reason)}"
    try:
        body = json.loads(str(reason))
    except ValueError:
        body = None
    status = body.get("status_code") if isinstance(body, dict) else None
    if not isinstance(status, int) or status == 404:
        return NotFoundError(text, provider=PROVIDER, status=status)
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return SPEC.errors.error(text, provider=PROVIDER, status=status, code=_text_or_none(first.get("code")))


def _error_body(response: Any) -> tuple[str | None, str]:
    """``(code, message)`` of a watsonx.ai (or IAM / CPD) error body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return _text_or_none(first.get("code")), str(first.get("message") or "no message")
        if "errorMessage" in body:
            return _text_or_none(body.get("errorCode")), str(body["errorMessage"])
        if "message" in body:
            return _text_or_none(body.get("code")), str(body["message"])
    return None, f"HTTP {response.status_code}"


def _vendor_message_text(reason: object) -> str:
    text = str(reason or "")
    for pattern in (r'"message"\s*:\s*"([^"]*)"', r'"errorMessage"\s*:\s*"([^"]*)"'):
        found = re.search(pattern, text)
        if found:
            return found.group(1)
    return text[:300] or "no details"


def _text_or_none(value: object) -> str | None:
    return str(value) if value is not None else None


def _after(text: str, marker: str) -> str:
    return _vendor_message_text(text.partition(marker)[2] or text)


def from_model_string(rest: str | None, **options: Any) -> WatsonxBackend:
    """The backend for ``"watsonx/<model_id>"``; ``options`` are :class:`WatsonxOptions` fields."""
    options = with_model_from_string(rest, options, "model_id", provider=PROVIDER)
    if "model_id" not in options:
        raise ConfigurationError(
            "watsonx needs a model: 'watsonx/<model_id>', e.g. 'watsonx/cross-encoder/ms-marco-minilm-l-12-v2'",
            provider=PROVIDER,
        )
    return options_from(WatsonxOptions, options, provider=PROVIDER).build_backend()
