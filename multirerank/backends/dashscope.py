"""Alibaba DashScope text rerank through the ``dashscope`` SDK: ``TextReRank`` and ``AioTextReRank``.

The SDK answers errors with a response carrying ``status_code``/``code``/``message`` instead of
raising, so every response is checked here. The base URL, key and timeout go with each call, so
rerankers with different settings never clash over the SDK's module-level globals. The SDK is
imported when a backend is built, not when this module is.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import re
import ssl
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from multirerank.backends.base import Backend
from multirerank.backends.per_loop import PerLoop
from multirerank.errors import ConfigurationError, MalformedResponseError, RerankError
from multirerank.http_headers import header_value, parse_retry_after
from multirerank.options import env_secret, options_from, with_model_from_string
from multirerank.redaction import SecretValue, install
from multirerank.types import BatchResult, DocumentInput, Usage, document_text
from multirerank.vendor_spec import Handler
from multirerank.vendors import DASHSCOPE

SPEC = DASHSCOPE
PROVIDER = SPEC.provider
DEFAULT_MODEL = SPEC.default_model
MAX_DOCUMENTS = SPEC.limit("max_documents")
INSTALL_HINT = SPEC.install_hint
#: The SDK's logger, which records every refused request with the vendor's message.
SDK_LOGGER = "dashscope"
#: The first SDK release with ``AioTextReRank`` and caller-owned aiohttp sessions.
MIN_SDK_VERSION = "1.25.22"
#: Tokens one request may carry, counted as query tokens x documents + document tokens.
TOKEN_BUDGETS = {model.name: model.token_budget for model in SPEC.models if model.token_budget}
#: Tokens the service reads of one query or document; it truncates longer ones, it does not refuse them.
MAX_TEXT_TOKENS = SPEC.max_text_tokens
#: Models known to take no ``instruct``.
NO_INSTRUCT_MODELS = frozenset(model.name for model in SPEC.models if model.instruct is False)
# Token estimates err high on purpose: an underestimate gets a request refused, an overestimate
# only splits a list into more requests, which cost no more tokens. A run of up to four ASCII
# letters is one token (English words average under five letters, and common ones are one
# token); every other visible character is one: digits (Qwen's tokenizer splits them one by
# one), punctuation, and CJK and other scripts' characters (about one token or less each).
_TOKEN_PIECE = re.compile(r"[A-Za-z]{1,4}|\S")


class DashScopeOptions(BaseModel):
    """What a DashScope reranker needs: the model (``gte-rerank-v2`` unless told), the key
    (``DASHSCOPE_API_KEY``), and optionally a base URL, an ``instruction`` for qwen3 rerankers
    (sent as DashScope's ``instruct``; ``instruct=`` is accepted too), a workspace, the
    per-request timeout and how often throttled or failed requests are retried."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="gte-rerank-v2, qwen3-rerank, ...")
    # Left out of every dump (LlamaIndex's to_json, LangChain's serialisation); repr masks it.
    api_key: SecretStr | None = Field(default_factory=env_secret(*SPEC.env_names("api_key")), exclude=True)
    base_url: str | None = Field(
        default=None,
        description="Native API base such as 'https://dashscope-intl.aliyuncs.com/api/v1'; the SDK's default if None.",
    )
    instruction: str | None = Field(
        default=None,
        min_length=1,
        # DashScope's own name for it, which this option had before every backend took instruction.
        validation_alias=AliasChoices("instruction", "instruct"),
        description="Task instruction (qwen3 rerankers), sent as DashScope's instruct.",
    )
    workspace: str | None = Field(default=None, min_length=1, description="DashScope workspace id.")
    timeout: float = Field(default=60.0, gt=0, strict=True, description="Seconds to wait for one request.")
    max_retries: int = Field(
        default=SPEC.retry.max_retries,
        ge=0,
        strict=True,
        description="Retries of throttled or failed requests.",
    )

    def build_backend(self) -> DashScopeBackend:
        """The backend these options describe; raises ConfigurationError naming a wrong field."""
        if self.api_key is None or not self.api_key.get_secret_value().strip():
            raise ConfigurationError("DashScope needs api_key (or DASHSCOPE_API_KEY)", provider=PROVIDER)
        return DashScopeBackend(
            self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            instruction=self.instruction,
            workspace=self.workspace,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )


def _checked_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"DashScope base_url must be an http(s) URL such as {SPEC.default_base_url}, got {base_url!r}",
            provider=PROVIDER,
        )
    # The native API lives under /api/v1; a bare host means that.
    return base_url.rstrip("/") if parts.path.strip("/") else f"{base_url.rstrip('/')}/api/v1"


def estimate_tokens(text: str) -> int:
    """A high estimate of the tokens DashScope counts for ``text``, capped as the service caps it."""
    return min(len(_TOKEN_PIECE.findall(text)), MAX_TEXT_TOKENS)


@dataclass(frozen=True)
class _Sdk:
    """The SDK's parts the backend calls, loaded once it is built."""

    text_rerank: Any
    aio_text_rerank: Any
    ssl_context: ssl.SSLContext


def _load_sdk() -> _Sdk:
    """The SDK, imported now: the import takes over half a second, which must not block an event
    loop on a backend's first async request. Missing, broken and too old each say so."""
    if importlib.util.find_spec("dashscope") is None:
        raise ConfigurationError(f"DashScope needs its SDK: {INSTALL_HINT}", provider=PROVIDER)
    try:
        import dashscope  # noqa: F401 - its import is the slow part
    except ImportError as error:
        raise ConfigurationError(
            f"the DashScope SDK is installed but cannot be imported ({error}); reinstall it: {INSTALL_HINT}",
            provider=PROVIDER,
        ) from error
    try:
        from dashscope import AioTextReRank, TextReRank
        from dashscope.api_entities.aio_session import get_ssl_context
    except ImportError:
        raise ConfigurationError(
            f"DashScope needs dashscope>={MIN_SDK_VERSION}, found {_sdk_version()}: "
            f"pip install --upgrade 'dashscope>={MIN_SDK_VERSION}'",
            provider=PROVIDER,
        ) from None
    # The proxy lookup of the first async request needs these; they load with aiohttp anyway.
    import aiohttp.helpers  # noqa: F401
    import yarl  # noqa: F401

    # The SDK logs each refusal with the vendor's message, which may echo the key.
    install(SDK_LOGGER)
    return _Sdk(TextReRank, AioTextReRank, get_ssl_context())


def _sdk_version() -> str:
    try:
        return importlib.metadata.version("dashscope")
    except importlib.metadata.PackageNotFoundError:
        return "an unknown version"


class DashScopeBackend(Backend):
    """One ``text-rerank`` call per request; sync through ``TextReRank``, async through ``AioTextReRank``.

    Lists are split by DashScope's token rule, on an estimate that errs high (see
    :func:`estimate_tokens`): the query counts once per document, and no text counts beyond the
    4,000 tokens the service reads of it, so no document is ever too long to send.
    """

    provider = PROVIDER
    score_scale = SPEC.score_scale
    limits = SPEC.limits
    per_document_scores = SPEC.per_document_scores
    cost_unit = f"{SPEC.cost_unit} (estimated)"
    # The SDK retries nothing but a dropped pooled connection (SPEC.retry).
    max_retries = SPEC.retry.max_retries

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: SecretStr,
        base_url: str | None = None,
        instruction: str | None = None,
        workspace: str | None = None,
        timeout: float = 60.0,
        max_retries: int = SPEC.retry.max_retries,
        instruct: str | None = None,
    ) -> None:
        if instruct is not None:
            if instruction is not None and instruction != instruct:
                raise ConfigurationError(
                    "give instruction or instruct (its older name), not both", provider=PROVIDER
                )
            instruction = instruct
        if instruction is not None and model in NO_INSTRUCT_MODELS:
            raise ConfigurationError(
                f"DashScope model {model} takes no instruct (instruction); use a qwen3 reranker such "
                "as qwen3-rerank",
                provider=PROVIDER,
            )
        self._sdk = _load_sdk()
        self.model = model
        self.base_url = _checked_base_url(base_url)
        #: The task instruction, sent as DashScope's ``instruct`` (``None``: none).
        self.instruction = instruction
        self.workspace = workspace
        self.timeout = timeout
        self.max_retries = max_retries
        # An unknown model gets the smallest budget: a needless split costs nothing.
        budget = TOKEN_BUDGETS.get(model, min(TOKEN_BUDGETS.values()))
        self.limits = dataclasses.replace(SPEC.limits, max_request_cost=budget)
        self._api_key = api_key
        self._query_tokens: tuple[str, int] = ("", 0)
        self._sessions: PerLoop[Any] = PerLoop(self._new_session, _close_session, _session_closed)

    @property
    def instruct(self) -> str | None:
        """:attr:`instruction` by DashScope's name for it."""
        return self.instruction

    def request_overhead(self, query: str) -> int:
        # The query is counted once per document, so it is in every document's cost instead.
        return 0

    def document_cost(self, query: str, document: DocumentInput) -> int:
        return self._estimate_query(query) + estimate_tokens(document_text(document))

    def _estimate_query(self, query: str) -> int:
        # Asked once per document with the same query: estimate it once.
        known, tokens = self._query_tokens
        if known != query:
            tokens = estimate_tokens(query)
            self._query_tokens = (query, tokens)
        return tokens

    def secrets(self) -> Iterable[SecretValue]:
        """The API key, which DashScope echoes when it refuses it."""
        return (self._api_key,)

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"model": self.model}
        if self.base_url is not None:
            facts["base_url"] = self.base_url
        if self.instruction is not None:
            facts["instruction"] = self.instruction
        return facts

    def _arguments(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": self.model,
            "query": str(query),
            "documents": [str(document_text(document)) for document in documents],
            "api_key": self._api_key.get_secret_value(),
            "request_timeout": self.timeout,
        }
        optional = {
            "top_n": top_n,
            "instruct": self.instruction,
            "base_address": self.base_url,
            "workspace": self.workspace,
        }
        arguments.update({name: value for name, value in optional.items() if value is not None})
        return arguments

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        try:
            response = self._sdk.text_rerank.call(**self._arguments(query, documents, top_n))
        except Exception as error:
            raise translate_error(error) from error
        return parse_response(response)

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        try:
            session = await self._sessions.get()
            response = await self._sdk.aio_text_rerank.call(
                **self._arguments(query, documents, top_n), session=session
            )
        except Exception as error:
            raise translate_error(error) from error
        return parse_response(response)

    def _target_url(self) -> str:
        """Where the requests go: the base URL, or the SDK's (``DASHSCOPE_HTTP_BASE_URL``...)."""
        import dashscope

        url = self.base_url or str(dashscope.base_http_api_url)
        # The SDK's region URLs may name the workspace in the host; only the host matters here.
        return url.replace("{workspace_id}", self.workspace or "workspace")

    def _new_session(self) -> Any:
        return _new_session(self._target_url(), self._sdk.ssl_context)

    def close(self) -> None:
        self._sessions.close()

    async def aclose(self) -> None:
        await self._sessions.aclose()

    def __repr__(self) -> str:
        return f"DashScopeBackend(model={self.model!r}, base_url={self.base_url!r})"


def _new_session(target_url: str, ssl_context: ssl.SSLContext) -> Any:
    """A session with the SDK's certificate store, and the proxy its shared session would use.

    The SDK's session has ``trust_env=True``, with which aiohttp reads netrc and the proxy
    settings on the loop's default executor for every request. Here the proxy for the target is
    looked up once, when the session is made, and given to the session instead.
    """
    import aiohttp

    def connector() -> Any:
        return aiohttp.TCPConnector(ssl=ssl_context)

    try:
        proxy = env_proxy(target_url)
        if proxy is None:
            return aiohttp.ClientSession(connector=connector())
        return aiohttp.ClientSession(connector=connector(), proxy=proxy)
    except (ImportError, TypeError):  # pragma: no cover - an aiohttp before 3.10: it looks per request
        return aiohttp.ClientSession(connector=connector(), trust_env=True)


def env_proxy(url: str) -> str | None:
    """The proxy aiohttp's ``trust_env`` picks for ``url``, credentials included, or ``None``.

    That is the environment's (or the system's) proxy for the URL's scheme, unless ``NO_PROXY``
    exempts its host (``urllib.request.getproxies`` and ``proxy_bypass``); credentials come from
    the proxy URL, or else from netrc. aiohttp's own lookup does this, so behaviour is the same.
    """
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        proxy, auth = get_env_proxy_for_url(URL(url))
    except LookupError:
        return None
    if auth is not None:
        # In the URL rather than as proxy_auth, which aiohttp 3.14 deprecates.
        proxy = proxy.with_user(auth.login).with_password(auth.password or None)
    return str(proxy)


async def _close_session(session: Any) -> None:
    await session.close()


def _session_closed(session: Any) -> bool:
    return bool(session.closed)


def parse_response(response: object) -> BatchResult:
    """``(index, score)`` pairs and token usage from the SDK's response, after its status check."""
    if not isinstance(response, Mapping):
        raise MalformedResponseError("DashScope SDK returned no response mapping", provider=PROVIDER)
    status = response.get("status_code")
    if status != 200:
        raise error_from_response(response)
    output = response.get("output")
    results = output.get("results") if isinstance(output, Mapping) else None
    if not isinstance(results, list):
        raise MalformedResponseError("DashScope answer has no output.results list", provider=PROVIDER)
    pairs: list[tuple[int, float]] = []
    for position, item in enumerate(results):
        if not isinstance(item, Mapping) or item.get("index") is None or item.get("relevance_score") is None:
            raise MalformedResponseError(
                f"DashScope result {position} lacks 'index' or 'relevance_score'", provider=PROVIDER
            )
        pairs.append((item["index"], item["relevance_score"]))
    usage = response.get("usage")
    tokens = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    counted = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None
    return BatchResult(pairs, Usage(total_tokens=counted))


def error_from_response(response: Mapping[str, Any]) -> RerankError:
    """The project's error for a response whose status is not 200."""
    raw_status = response.get("status_code")
    status = int(raw_status) if isinstance(raw_status, int) else None
    code = str(response.get("code")) if response.get("code") else None
    message = str(response.get("message") or f"HTTP {status}")
    request_id = response.get("request_id")
    text = f"DashScope rejected the rerank request: {message}"
    if request_id:
        text += f" (request_id {request_id})"
    retry_after = parse_retry_after(header_value(response.get("headers"), "Retry-After"))
    return SPEC.errors.error(text, provider=PROVIDER, status=status, code=code, retry_after=retry_after)


def translate_error(error: BaseException) -> RerankError:
    """The project's error for what the SDK, requests or aiohttp raised, by the exception table
    of ``SPEC.errors``."""

    def import_failed(error: Any) -> RerankError:
        # The SDK itself loaded when the backend was built; this is one of its own imports.
        return ConfigurationError(
            f"the DashScope SDK could not import {error.name or 'a module'} ({error}); "
            f"reinstall it: {INSTALL_HINT}",
            provider=PROVIDER,
        )

    def answer_shape(error: BaseException) -> RerankError | None:
        if not _raised_reading_the_answer(error):
            return None
        return MalformedResponseError(
            f"DashScope answer has an unexpected shape ({type(error).__name__})", provider=PROVIDER
        )

    handlers: dict[str, Handler] = {"import": import_failed, "answer_shape": answer_shape}
    translated = SPEC.errors.translate(error, provider=PROVIDER, handlers=handlers)
    assert translated is not None, "the last rule matches every exception"
    return translated


def _raised_reading_the_answer(error: BaseException) -> bool:
    """Whether ``error`` came from the SDK turning an answer into its response objects
    (``_handle_response``, ``from_api_response``, the ``dashscope_response`` classes), rather than
    from building or sending the request."""
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("dashscope.") and (
            "response" in frame.f_code.co_name or module.endswith("_response")
        ):
            return True
    return False


def from_model_string(rest: str | None, **options: Any) -> DashScopeBackend:
    """The backend for ``"dashscope/<model>"`` (``"dashscope"`` alone: gte-rerank-v2)."""
    options = with_model_from_string(rest, options, "model", provider=PROVIDER)
    return options_from(DashScopeOptions, options, provider=PROVIDER).build_backend()
