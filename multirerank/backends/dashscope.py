"""Alibaba DashScope text rerank through the ``dashscope`` SDK: ``TextReRank`` and ``AioTextReRank``.

The SDK answers errors with a response carrying ``status_code``/``code``/``message`` instead of
raising, so every response is checked here. The base URL, key and timeout go with each call, so
rerankers with different settings never clash over the SDK's module-level globals.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from multirerank.backends.base import Backend, document_text
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankTimeoutError,
    ThrottledError,
    error_for_status,
)
from multirerank.http_headers import header_value, parse_retry_after
from multirerank.options import env_secret, options_from, with_model_from_string
from multirerank.types import BatchResult, DocumentInput, Limits, Usage

PROVIDER = "dashscope"
DEFAULT_MODEL = "gte-rerank-v2"
MAX_DOCUMENTS = 500
INSTALL_HINT = "pip install 'multirerank[dashscope]'"
#: Tokens one request may carry (the query counts once per document), from the model docs.
TOKEN_BUDGETS = {"gte-rerank": 30_000, "gte-rerank-v2": 30_000, "qwen3-rerank": 120_000}
#: Models known to take no ``instruct``.
NO_INSTRUCT_MODELS = frozenset({"gte-rerank", "gte-rerank-v2"})
# Splitting at two UTF-8 bytes per budgeted token keeps prose in any script under the token
# budget with room left for the repeated query; more requests cost no more tokens.
_BYTES_PER_TOKEN = 2

_KINDS: dict[str, type[RerankError]] = {
    "InvalidApiKey": AuthenticationError,
    "AccessDenied": AuthenticationError,
    # An account in arrears is refused whatever the request: the fix is the account, as for a bad key.
    "Arrearage": AuthenticationError,
    "InvalidParameter": BadRequestError,
    "BadRequest": BadRequestError,
    "DataInspectionFailed": BadRequestError,
    "Model.NotExist": NotFoundError,
    "ModelNotFound": NotFoundError,
    "Throttling": ThrottledError,
    "InternalError": ProviderError,
    "ServiceUnavailable": ProviderError,
    "GatewayTimeout": RerankTimeoutError,
    "RequestTimeOut": RerankTimeoutError,
}


class DashScopeOptions(BaseModel):
    """What a DashScope reranker needs: the model (``gte-rerank-v2`` unless told), the key
    (``DASHSCOPE_API_KEY``), and optionally a base URL, an ``instruct`` for qwen3 rerankers, a
    workspace, the per-request timeout and how often throttled or failed requests are retried."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="gte-rerank-v2, qwen3-rerank, ...")
    # Left out of every dump (LlamaIndex's to_json, LangChain's serialisation); repr masks it.
    api_key: SecretStr | None = Field(default_factory=env_secret("DASHSCOPE_API_KEY"), exclude=True)
    base_url: str | None = Field(
        default=None,
        description="Native API base such as 'https://dashscope-intl.aliyuncs.com/api/v1'; the SDK's default if None.",
    )
    instruct: str | None = Field(
        default=None, min_length=1, description="Task instruction (qwen3 rerankers)."
    )
    workspace: str | None = Field(default=None, min_length=1, description="DashScope workspace id.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for one request.")
    max_retries: int = Field(default=2, ge=0, description="Retries of throttled or failed requests.")

    def build_backend(self) -> DashScopeBackend:
        """The backend these options describe; raises ConfigurationError naming a wrong field."""
        if self.api_key is None or not self.api_key.get_secret_value().strip():
            raise ConfigurationError("DashScope needs api_key (or DASHSCOPE_API_KEY)", provider=PROVIDER)
        return DashScopeBackend(
            self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            instruct=self.instruct,
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
            f"DashScope base_url must be an http(s) URL such as https://dashscope.aliyuncs.com/api/v1, "
            f"got {base_url!r}",
            provider=PROVIDER,
        )
    # The native API lives under /api/v1; a bare host means that.
    return base_url.rstrip("/") if parts.path.strip("/") else f"{base_url.rstrip('/')}/api/v1"


class DashScopeBackend(Backend):
    """One ``text-rerank`` call per request; sync through ``TextReRank``, async through ``AioTextReRank``."""

    provider = PROVIDER
    score_scale = "probability"
    limits = Limits(max_documents=MAX_DOCUMENTS)
    # The SDK retries nothing but a dropped pooled connection.
    max_retries = 2

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: SecretStr,
        base_url: str | None = None,
        instruct: str | None = None,
        workspace: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        if instruct is not None and model in NO_INSTRUCT_MODELS:
            raise ConfigurationError(
                f"DashScope model {model} takes no instruct; use a qwen3 reranker such as qwen3-rerank",
                provider=PROVIDER,
            )
        if importlib.util.find_spec("dashscope") is None:
            raise ConfigurationError(f"DashScope needs its SDK: {INSTALL_HINT}", provider=PROVIDER)
        self.model = model
        self.base_url = _checked_base_url(base_url)
        self.instruct = instruct
        self.workspace = workspace
        self.timeout = timeout
        self.max_retries = max_retries
        budget = TOKEN_BUDGETS.get(model, min(TOKEN_BUDGETS.values()))
        self.limits = Limits(max_documents=MAX_DOCUMENTS, max_request_cost=budget * _BYTES_PER_TOKEN)
        self._api_key = api_key
        self._sessions = _SessionPerLoop(self._target_url)

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"score_scale": self.score_scale, "model": self.model}
        if self.instruct is not None:
            facts["instruct"] = self.instruct
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
            "instruct": self.instruct,
            "base_address": self.base_url,
            "workspace": self.workspace,
        }
        arguments.update({name: value for name, value in optional.items() if value is not None})
        return arguments

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        try:
            from dashscope import TextReRank

            response = TextReRank.call(**self._arguments(query, documents, top_n))
        except Exception as error:
            raise translate_error(error) from error
        return parse_response(response)

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        try:
            from dashscope import AioTextReRank

            session = await self._sessions.get()
            response = await AioTextReRank.call(**self._arguments(query, documents, top_n), session=session)
        except Exception as error:
            raise translate_error(error) from error
        return parse_response(response)

    def _target_url(self) -> str:
        """Where the requests go: the base URL, or the SDK's (``DASHSCOPE_HTTP_BASE_URL``...)."""
        import dashscope

        url = self.base_url or str(dashscope.base_http_api_url)
        # The SDK's region URLs may name the workspace in the host; only the host matters here.
        return url.replace("{workspace_id}", self.workspace or "workspace")

    def close(self) -> None:
        self._sessions.close()

    async def aclose(self) -> None:
        await self._sessions.aclose()

    def __repr__(self) -> str:
        return f"DashScopeBackend(model={self.model!r}, base_url={self.base_url!r})"


class _SessionPerLoop:
    """The backend's own aiohttp session for each event loop (aiohttp sessions are loop-bound).

    Owning them, rather than sharing the SDK's, lets one reranker close its sessions without
    cutting off others. Each session is tied to an async generator of its loop, so a loop that
    ends through ``asyncio.run`` (which closes the loop's async generators) closes it too, and
    no unclosed-session warning is left behind even when nobody calls ``aclose()``.
    """

    def __init__(self, target_url: Callable[[], str]) -> None:
        self._target_url = target_url
        self._entries: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
            if entry is not None and not entry[0].closed:
                return entry[0]
            session = _new_session(self._target_url())
            keeper = _close_at_loop_end(session)
            self._entries[loop] = (session, keeper)
        # The first step registers the generator with the running loop.
        await keeper.__anext__()
        return session

    async def aclose(self) -> None:
        current = asyncio.get_running_loop()
        for loop, keeper in self._take_all():
            if loop is current:
                await keeper.aclose()
            else:
                _close_elsewhere(loop, keeper)

    def close(self) -> None:
        for loop, keeper in self._take_all():
            _close_elsewhere(loop, keeper)

    def _take_all(self) -> list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]]:
        with self._lock:
            taken = [(loop, keeper) for loop, (_, keeper) in self._entries.items()]
            self._entries.clear()
        return taken


def _new_session(target_url: str) -> Any:
    """A session with the SDK's certificate store, and the proxy its shared session would use.

    The SDK's session has ``trust_env=True``, with which aiohttp reads netrc and the proxy
    settings on the loop's default executor for every request. Here the proxy for the target is
    looked up once, when the session is made, and given to the session instead.
    """
    import aiohttp
    from dashscope.api_entities.aio_session import get_ssl_context

    def connector() -> Any:
        return aiohttp.TCPConnector(ssl=get_ssl_context())

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


async def _close_at_loop_end(session: Any) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await session.close()


def _close_elsewhere(loop: asyncio.AbstractEventLoop, keeper: AsyncGenerator[None, None]) -> None:
    """Close a session from outside its loop: on that loop's thread if it runs, else right here."""
    closing = keeper.aclose()
    if loop.is_closed():
        closing.close()
    elif loop.is_running():
        asyncio.run_coroutine_threadsafe(closing, loop)
    else:
        try:
            loop.run_until_complete(closing)
        except RuntimeError:
            # Another loop runs in this thread; the session's loop will close it at shutdown.
            closing.close()


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
    kind = _KINDS.get(code or "") or _KINDS.get((code or "").partition(".")[0])
    if kind is None:
        if status is None:
            return ProviderError(text, provider=PROVIDER, code=code)
        return error_for_status(status, text, provider=PROVIDER, code=code, retry_after=retry_after)
    return kind(text, provider=PROVIDER, status=status, code=code, retry_after=retry_after)


def translate_error(error: BaseException) -> RerankError:
    """The project's error for what the SDK, requests or aiohttp raised."""
    import json

    if isinstance(error, RerankError):
        return error
    if isinstance(error, ImportError):
        return ConfigurationError(f"DashScope needs its SDK: {INSTALL_HINT}", provider=PROVIDER)
    if isinstance(error, json.JSONDecodeError):
        return MalformedResponseError("DashScope answered with invalid JSON", provider=PROVIDER)

    import aiohttp
    import requests
    from dashscope.common.error import DashScopeException

    if isinstance(error, (TimeoutError, asyncio.TimeoutError, requests.Timeout)):
        return RerankTimeoutError(
            f"DashScope did not answer in time ({type(error).__name__})", provider=PROVIDER
        )
    if isinstance(error, aiohttp.ContentTypeError):
        return MalformedResponseError("DashScope answered with a body that is not JSON", provider=PROVIDER)
    if isinstance(error, (aiohttp.ClientError, requests.RequestException)):
        return ProviderError(f"DashScope connection failed ({type(error).__name__})", provider=PROVIDER)
    if isinstance(error, (TypeError, KeyError, AttributeError)):
        # The SDK unpacks a 200's output blindly; a body of the wrong shape fails inside it.
        return MalformedResponseError(
            f"DashScope answer has an unexpected shape ({type(error).__name__})", provider=PROVIDER
        )
    if isinstance(error, DashScopeException):
        return BadRequestError(f"DashScope SDK refused the request: {error}", provider=PROVIDER)
    return ProviderError(
        f"DashScope call failed ({type(error).__name__})", provider=PROVIDER, retryable=False
    )


def from_model_string(rest: str | None, **options: Any) -> DashScopeBackend:
    """The backend for ``"dashscope/<model>"`` (``"dashscope"`` alone: gte-rerank-v2)."""
    options = with_model_from_string(rest, options, "model", provider=PROVIDER)
    return options_from(DashScopeOptions, options, provider=PROVIDER).build_backend()
