"""The backend contract's table: for every emulator-backed backend, how to build it and what it owes.

:mod:`tests.test_backend_contract` runs the same cases (split and merge, error mapping, retries,
broken answers; sync and async) over every :class:`Contract` in :data:`CONTRACTS`. A contract
says how its backend reaches the emulator (the per-vendor modules' own helpers where they have
them), where its rerank requests land, and what the vendor answers: its error codes, and which
failures its SDK or the engine retries.

Every backend is built in one of two ways. ``retrying=False``: no retries anywhere (the SDK's
turned off, the engine's off through ``max_retries=0`` where the backend has the option), so
each fault surfaces as it is mapped. ``retrying=True``: the engine's default retries, and the
SDK's own retries on with the shortest back-off the SDK allows.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff

from multirerank import (
    AuthenticationError,
    Backend,
    BadRequestError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.testing import Emulator, Request
from multirerank.testing import dashscope as dashscope_api
from multirerank.testing import watsonx as watsonx_api
from tests.aws_support import DUMMY_SECRET, QUERY, VOCABULARY, client_settings
from tests.http_support import API_KEY, FORMATS, SETUPS, http_options
from tests.sdk_support import SDK_ENV, WATSONX_ENV

#: Retry-After values: one the engine waits for at once, one above what it ever waits for.
NO_WAIT = {"Retry-After": "0"}
TOO_LONG = {"Retry-After": "3600"}
#: What every injected error says, so a test can find it in the error's message.
VENDOR_MESSAGE = "the vendor says no"
#: An error code a case does not check.
UNCHECKED = object()


def contract_texts(count: int) -> list[str]:
    """``count`` distinct short texts, each holding at least one word of :data:`QUERY`.

    Every text scores at least 0.3 with the contract emulators' pointwise scorer: a watsonx.ai
    logit is then never clipped, so no two texts tie that did not tie as probabilities.
    """
    terms = QUERY.split()
    return [
        f"note {number} {terms[number % len(terms)]} "
        + " ".join(word for bit, word in enumerate(VOCABULARY) if (number * 37) >> bit & 1)
        for number in range(count)
    ]


@dataclass(frozen=True)
class Setup:
    """What a contract's ``build`` gets: the emulator, a monkeypatch for SDK settings that are
    module globals, whether retries are on, whether to use the contract's split options, and
    how many seconds the client waits for an answer (``None``: the backend's usual)."""

    emulator: Emulator
    monkeypatch: pytest.MonkeyPatch
    retrying: bool
    split: bool
    timeout: float | None = None


@dataclass(frozen=True)
class ErrorCase:
    """The vendor answers ``status`` (with ``code``; ``None``: the emulator's usual code for that
    status); the backend raises ``kind`` with ``retryable``.

    ``expected_status`` is the status the error must carry when it is not ``status`` (a SageMaker
    container's own). The error's ``code`` is checked when the case names one. ``message``
    replaces :data:`VENDOR_MESSAGE` when the vendor's text itself decides the type.
    """

    status: int
    code: str | None
    kind: type[RerankError]
    retryable: bool
    expected_status: int | None = None
    message: str = VENDOR_MESSAGE
    name: str | None = None
    #: The code the error must carry when it is not ``code`` (``None`` included); unchecked when
    #: ``code`` is None and this is left as it is.
    expected_code: object = UNCHECKED

    @property
    def checked_code(self) -> object:
        if self.expected_code is not UNCHECKED:
            return self.expected_code
        return UNCHECKED if self.code is None else self.code

    @property
    def label(self) -> str:
        return self.name or (f"{self.status}-{self.code}" if self.code else str(self.status))


@dataclass(frozen=True)
class Fault:
    """Keyword arguments for ``emulator.inject`` (vendor and path are the contract's), and a label."""

    label: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Persistent:
    """A fault answered to every attempt: the backend (retrying) gives up with ``kind`` after
    ``attempts`` requests."""

    fault: Fault
    kind: type[RerankError]
    attempts: int

    @property
    def label(self) -> str:
        return self.fault.label


@dataclass(frozen=True)
class Split:
    """``documents`` texts are more than one request may carry (``per_request``), with ``options``
    (the backend's real limit when they are empty)."""

    documents: int
    per_request: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """One backend as the contract sees it."""

    name: str
    provider: str
    #: The emulator's vendor name (faults are injected for it) and the rerank path (a regex).
    vendor: str
    path: str
    build: Callable[[Setup], Backend]
    #: The texts a rerank request carried, in the order sent.
    texts_of: Callable[[Request], list[str]]
    split: Split
    errors: tuple[ErrorCase, ...]
    #: Faults answered once that the retrying backend recovers from, with two requests in all. A
    #: dropped connection is listed where the SDK retries it; where only the engine would, the
    #: contract checks that it is a retryable ProviderError, which the engine retries like any
    #: other (as the 503 here shows), after a back-off of its own choosing.
    transient: tuple[Fault, ...]
    persistent: tuple[Persistent, ...]
    #: Served over TLS (watsonx.ai: its SDK refuses plain HTTP).
    tls: bool = False
    #: A credential no error may show.
    secret: str | None = None


def fault(label: str, **fields: Any) -> Fault:
    return Fault(label, fields)


def _json(request: Request) -> Any:
    return json.loads(request.body)


# -- Amazon Bedrock ---------------------------------------------------------------------------

BEDROCK_MODEL = "cohere.rerank-v3-5:0"


def _botocore_attempts(setup: Setup) -> int:
    """botocore's attempts per call: three, with no wait between them, when retrying."""
    if not setup.retrying:
        return 1
    # Its jittered back-off (up to 1 s, then 2 s, whatever the error) would be most of the
    # contract's run time; aiobotocore uses the same class.
    setup.monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    return 3


def _bedrock(setup: Setup) -> Backend:
    from multirerank.backends.bedrock import BedrockOptions

    # botocore retries throttling, 5xx and dropped connections itself; the engine adds nothing.
    attempts = _botocore_attempts(setup)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        read_timeout=setup.timeout or 5,
        connect_timeout=5,
    )
    settings = client_settings(model_arn=BEDROCK_MODEL, endpoint_url=setup.emulator.url, config=config)
    return BedrockOptions(**settings).build_backend()


def _bedrock_texts(request: Request) -> list[str]:
    return [source["inlineDocumentSource"]["textDocument"]["text"] for source in _json(request)["sources"]]


BEDROCK = Contract(
    name="bedrock",
    provider="bedrock",
    vendor="bedrock",
    path=r"^/rerank$",
    build=_bedrock,
    texts_of=_bedrock_texts,
    # Rerank's own limit: 1,000 sources per request.
    split=Split(documents=1001, per_request=1000),
    errors=(
        ErrorCase(400, "ValidationException", BadRequestError, False),
        ErrorCase(400, "ServiceQuotaExceededException", BadRequestError, False),
        ErrorCase(401, "UnrecognizedClientException", AuthenticationError, False),
        ErrorCase(403, "AccessDeniedException", AuthenticationError, False),
        ErrorCase(404, "ResourceNotFoundException", NotFoundError, False),
        ErrorCase(409, "ConflictException", BadRequestError, False),
        ErrorCase(424, "DependencyFailedException", ProviderError, False),
        ErrorCase(429, "ThrottlingException", ThrottledError, True),
        ErrorCase(500, "InternalServerException", ProviderError, True),
        ErrorCase(502, "BadGatewayException", ProviderError, True),
        ErrorCase(503, "ServiceUnavailableException", ProviderError, True),
    ),
    transient=(
        fault("429", status=429, code="ThrottlingException"),
        fault("503", status=503, code="ServiceUnavailableException"),
        fault("drop", drop=True),
    ),
    persistent=(
        # botocore's three attempts; the engine adds none.
        Persistent(fault("503", status=503), ProviderError, attempts=3),
        Persistent(fault("429", status=429, code="ThrottlingException"), ThrottledError, attempts=3),
    ),
    secret=DUMMY_SECRET,
)


# -- Amazon SageMaker (a TEI container) -------------------------------------------------------

SAGEMAKER_ENDPOINT = "bge-reranker"


def _sagemaker(setup: Setup) -> Backend:
    from multirerank.backends.sagemaker import SageMakerOptions

    # botocore (standard mode, named: it is not botocore's default) retries throttling codes, 5xx
    # answers and dropped connections; the engine retries what it leaves (ModelNotReadyException,
    # ModelError, InternalDependencyException).
    attempts = _botocore_attempts(setup)
    # botocore's own read timeout is 60 s.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=setup.timeout or 60
    )
    settings = client_settings(
        endpoint_name=SAGEMAKER_ENDPOINT,
        base_url=setup.emulator.url,
        config=config,
        **_split(setup, SAGEMAKER),
    )
    return SageMakerOptions(**settings).build_backend()


def _split(setup: Setup, contract: Contract) -> dict[str, Any]:
    """The contract's options for the split case, when that is the case being built."""
    return dict(contract.split.options) if setup.split else {}


def _timeout(setup: Setup) -> dict[str, Any]:
    """The ``timeout`` option of the backends that have one, when the setup names one."""
    return {"timeout": setup.timeout} if setup.timeout else {}


SAGEMAKER = Contract(
    name="sagemaker",
    provider="sagemaker",
    vendor="sagemaker",
    path=rf"^/endpoints/{SAGEMAKER_ENDPOINT}/invocations$",
    build=_sagemaker,
    texts_of=lambda request: list(_json(request)["texts"]),
    # The backend's default, TEI's --max-client-batch-size.
    split=Split(documents=70, per_request=32),
    errors=(
        ErrorCase(400, "ValidationError", BadRequestError, False),
        # SageMaker's "not found" is a 400 ValidationError naming the endpoint.
        ErrorCase(
            400,
            "ValidationError",
            NotFoundError,
            False,
            message=f"Endpoint {SAGEMAKER_ENDPOINT} of account 123456789012 not found.",
            name="400-endpoint-not-found",
        ),
        ErrorCase(400, "ThrottlingException", ThrottledError, True),
        ErrorCase(401, "UnrecognizedClientException", AuthenticationError, False),
        ErrorCase(403, "AccessDeniedException", AuthenticationError, False),
        ErrorCase(403, "UnrecognizedClientException", AuthenticationError, False),
        ErrorCase(413, None, BadRequestError, False),
        # The container answered 500: the error carries its status.
        ErrorCase(424, "ModelError", ProviderError, True, expected_status=500),
        ErrorCase(429, "ModelNotReadyException", ThrottledError, True),
        ErrorCase(500, "InternalFailure", ProviderError, True),
        ErrorCase(503, "ServiceUnavailable", ProviderError, True),
        ErrorCase(530, "InternalDependencyException", ProviderError, True),
    ),
    transient=(
        fault("429-ModelNotReadyException", status=429, code="ModelNotReadyException"),  # the engine's
        fault("424-ModelError", status=424, code="ModelError"),  # the engine's
        fault("503", status=503, code="ServiceUnavailable"),  # botocore's
        fault("drop", drop=True),  # botocore's
    ),
    persistent=(
        # botocore's three attempts; the engine does not multiply them.
        Persistent(fault("503", status=503, code="ServiceUnavailable"), ProviderError, attempts=3),
    ),
    secret=DUMMY_SECRET,
)


# -- IBM watsonx.ai ---------------------------------------------------------------------------

WATSONX_MODEL = "cross-encoder/ms-marco-minilm-l-12-v2"


def _watsonx(setup: Setup) -> Backend:
    from ibm_watsonx_ai._wrappers.httpx.retry_transport import factories

    from multirerank.backends.watsonx import WatsonxOptions

    # The SDK's transport retries 401, 5xx and dropped connections (three times, 0.3 s apart by
    # default); the engine retries throttling only. Both are module settings of the SDK.
    for name in SDK_ENV + WATSONX_ENV:
        setup.monkeypatch.setenv(name, "")  # so that teardown removes what the SDK wrote meanwhile
        setup.monkeypatch.delenv(name)
    setup.monkeypatch.setattr(factories, "TRANSPORT_RETRIES", 2 if setup.retrying else 0)
    setup.monkeypatch.setattr(factories, "TRANSPORT_BACKOFF_FACTOR", 0.0)
    options: dict[str, Any] = {
        "model_id": WATSONX_MODEL,
        "url": setup.emulator.url,
        "token": watsonx_api.issue_token(setup.emulator),
        "project_id": "project-1",
        "verify": False,
        **_split(setup, WATSONX),
        **_timeout(setup),
    }
    return WatsonxOptions(**options).build_backend()


WATSONX = Contract(
    name="watsonx",
    provider="watsonx",
    vendor="watsonx",
    path=rf"^{re.escape(watsonx_api.RERANK_PATH)}$",
    build=_watsonx,
    texts_of=lambda request: [item["text"] for item in _json(request)["inputs"]],
    split=Split(documents=25, per_request=10, options={"max_documents_per_request": 10}),
    errors=(
        ErrorCase(400, "invalid_input_argument", BadRequestError, False),
        ErrorCase(401, "authentication_token_expired", AuthenticationError, False),
        ErrorCase(403, "authorization_rejected", AuthenticationError, False),
        ErrorCase(404, "model_not_supported", NotFoundError, False),
        ErrorCase(429, "too_many_requests", ThrottledError, True),
        ErrorCase(500, "internal_server_error", ProviderError, True),
        ErrorCase(503, "service_unavailable", ProviderError, True),
        ErrorCase(504, "gateway_timeout", RerankTimeoutError, True),
    ),
    transient=(
        fault("429", status=429, headers=NO_WAIT),  # the engine's
        fault("503", status=503),  # the SDK transport's
        fault("drop", drop=True),  # the SDK transport's
    ),
    persistent=(
        Persistent(fault("503", status=503), ProviderError, attempts=3),
        Persistent(fault("429-retry-after-3600", status=429, headers=TOO_LONG), ThrottledError, attempts=1),
    ),
    tls=True,
)


# -- Alibaba DashScope ------------------------------------------------------------------------

DASHSCOPE_KEY = "sk-emulated-dashscope-key"


def _dashscope(setup: Setup) -> Backend:
    from multirerank.backends.dashscope import DashScopeOptions

    setup.monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    options = DashScopeOptions(
        api_key=DASHSCOPE_KEY,
        base_url=f"{setup.emulator.url}/api/v1",
        max_retries=2 if setup.retrying else 0,
        **_timeout(setup),
    )
    return options.build_backend()


DASHSCOPE = Contract(
    name="dashscope",
    provider="dashscope",
    vendor="dashscope",
    path=rf"^{re.escape(dashscope_api.RERANK_PATH)}$",
    build=_dashscope,
    texts_of=lambda request: list(_json(request)["input"]["documents"]),
    # The API's own limit: 500 documents per request.
    split=Split(documents=1001, per_request=500),
    errors=(
        ErrorCase(400, "InvalidParameter", BadRequestError, False),
        ErrorCase(400, "DataInspectionFailed", BadRequestError, False),
        ErrorCase(400, "Arrearage", AuthenticationError, False),
        ErrorCase(400, "Model.NotExist", NotFoundError, False),
        ErrorCase(401, "InvalidApiKey", AuthenticationError, False),
        ErrorCase(403, "AccessDenied", AuthenticationError, False),
        ErrorCase(404, "ModelNotFound", NotFoundError, False),
        ErrorCase(429, "Throttling", ThrottledError, True),
        ErrorCase(429, "Throttling.RateQuota", ThrottledError, True),
        # An exhausted allocated quota needs raising, not waiting for.
        ErrorCase(429, "Throttling.AllocationQuota", ThrottledError, False),
        ErrorCase(500, "InternalError", ProviderError, True),
        ErrorCase(500, "InternalError.Algo", ProviderError, True),
        ErrorCase(503, "ServiceUnavailable", ProviderError, True),
        ErrorCase(504, "GatewayTimeout", RerankTimeoutError, True),
    ),
    transient=(
        fault("429", status=429, code="Throttling.RateQuota", headers=NO_WAIT),
        fault("503", status=503, headers=NO_WAIT),
    ),
    persistent=(
        Persistent(fault("503", status=503, headers=NO_WAIT), ProviderError, attempts=3),
        Persistent(fault("429-retry-after-3600", status=429, headers=TOO_LONG), ThrottledError, attempts=1),
    ),
    secret=DASHSCOPE_KEY,
)


# -- Google Vertex AI Ranking API -------------------------------------------------------------

VERTEX_TOKEN = "ya29.emulated-vertex-access-token"


def _vertex(setup: Setup) -> Backend:
    from google.oauth2.credentials import Credentials

    from multirerank.backends.vertex import VertexOptions

    # No SDK in between: the engine retries RESOURCE_EXHAUSTED, 5xx and dropped connections.
    options = VertexOptions(
        project_id="project-1",
        credentials=Credentials(token=VERTEX_TOKEN),
        base_url=setup.emulator.url,
        max_retries=2 if setup.retrying else 0,
        **_split(setup, VERTEX),
        **_timeout(setup),
    )
    return options.build_backend()


VERTEX = Contract(
    name="vertex",
    provider="vertex",
    vendor="vertex",
    path=r"^/v1/projects/project-1/locations/global/rankingConfigs/default_ranking_config:rank$",
    build=_vertex,
    texts_of=lambda request: [record["content"] for record in _json(request)["records"]],
    # The API's own limit: 200 records per request.
    split=Split(documents=401, per_request=200),
    errors=(
        ErrorCase(400, "INVALID_ARGUMENT", BadRequestError, False),
        ErrorCase(400, "FAILED_PRECONDITION", BadRequestError, False),
        ErrorCase(401, "UNAUTHENTICATED", AuthenticationError, False),
        # Also the Discovery Engine API not enabled on the project.
        ErrorCase(403, "PERMISSION_DENIED", AuthenticationError, False),
        ErrorCase(404, "NOT_FOUND", NotFoundError, False),
        ErrorCase(429, "RESOURCE_EXHAUSTED", ThrottledError, True),
        ErrorCase(500, "INTERNAL", ProviderError, True),
        ErrorCase(501, "UNIMPLEMENTED", ProviderError, False),
        ErrorCase(503, "UNAVAILABLE", ProviderError, True),
        ErrorCase(504, "DEADLINE_EXCEEDED", RerankTimeoutError, True),
    ),
    transient=(
        fault("429", status=429, code="RESOURCE_EXHAUSTED", headers=NO_WAIT),
        fault("503", status=503, code="UNAVAILABLE", headers=NO_WAIT),
    ),
    persistent=(
        Persistent(fault("503", status=503, headers=NO_WAIT), ProviderError, attempts=3),
        Persistent(fault("429-retry-after-3600", status=429, headers=TOO_LONG), ThrottledError, attempts=1),
    ),
    secret=VERTEX_TOKEN,
)


# -- Cohere-compatible HTTP APIs --------------------------------------------------------------

#: Statuses every HTTP format maps the same way, whatever its error body says.
HTTP_STATUSES = (
    ErrorCase(400, None, BadRequestError, False),
    ErrorCase(401, None, AuthenticationError, False),
    ErrorCase(403, None, AuthenticationError, False),
    ErrorCase(404, None, NotFoundError, False),
    ErrorCase(429, None, ThrottledError, True),
    ErrorCase(500, None, ProviderError, True),
    ErrorCase(503, None, ProviderError, True),
)

#: Formats whose error body has no code: their errors carry none.
HTTP_CODELESS = {"cohere", "cohere-v1", "jina", "voyage", "nvidia", "deepinfra", "openrouter", "azure-cohere"}

#: Each format's own error codes (its error body's type field) where it has them.
HTTP_VENDOR_ERRORS: dict[str, tuple[ErrorCase, ...]] = {
    # Not implemented: asking again will not change that.
    "cohere": (ErrorCase(501, None, ProviderError, False, expected_code=None),),
    "cohere-v1": (),
    "bifrost": (
        ErrorCase(429, "rate_limit", ThrottledError, True),
        ErrorCase(503, "provider_error", ProviderError, True),
    ),
    "vllm": (
        ErrorCase(400, "BadRequestError", BadRequestError, False),
        ErrorCase(404, "NotFoundError", NotFoundError, False),
        ErrorCase(504, "GatewayTimeout", RerankTimeoutError, True),
    ),
    "tei": (
        ErrorCase(413, "Validation", BadRequestError, False),
        ErrorCase(422, "Tokenizer", BadRequestError, False),
        ErrorCase(429, "Overloaded", ThrottledError, True),
        ErrorCase(503, "Unhealthy", ProviderError, True),
    ),
    "jina": (ErrorCase(422, None, BadRequestError, False, expected_code=None),),
    "voyage": (
        ErrorCase(422, None, BadRequestError, False, expected_code=None),
        ErrorCase(502, None, ProviderError, True, expected_code=None),
    ),
    "mixedbread": (
        ErrorCase(429, "too_many_requests_error", ThrottledError, True),
        ErrorCase(422, None, BadRequestError, False),
    ),
    "pinecone": (
        ErrorCase(400, "INVALID_ARGUMENT", BadRequestError, False),
        ErrorCase(429, "RESOURCE_EXHAUSTED", ThrottledError, True),
    ),
    "nvidia": (ErrorCase(422, None, BadRequestError, False, expected_code=None),),
    "together": (
        ErrorCase(429, "rate_limit_exceeded", ThrottledError, True),
        ErrorCase(503, "service_unavailable", ProviderError, True),
    ),
    "fireworks": (
        ErrorCase(400, "invalid_request_error", BadRequestError, False),
        ErrorCase(404, "NOT_FOUND", NotFoundError, False),
    ),
    "deepinfra": (ErrorCase(422, None, BadRequestError, False, expected_code=None),),
    "infinity": (ErrorCase(429, "OverloadedError", ThrottledError, True),),
    "llamacpp": (ErrorCase(501, None, ProviderError, False),),
    "openrouter": (
        ErrorCase(402, None, BadRequestError, False, expected_code=None),
        ErrorCase(502, None, ProviderError, True, expected_code=None),
    ),
    "azure-cohere": (),
}

#: The real per-request limits the contract splits over, where they are small (TEI: 32).
HTTP_REAL_LIMITS = {"tei": 32, "pinecone": 100}


def _http(api_format: str) -> Callable[[Setup], Backend]:
    def build(setup: Setup) -> Backend:
        from multirerank.backends.http_api import HTTPBackend

        extra: dict[str, Any] = {"max_retries": 2 if setup.retrying else 0}
        extra.update(_split(setup, HTTP_CONTRACTS[api_format]))
        extra.update(_timeout(setup))
        return HTTPBackend(**http_options(setup.emulator, api_format, **extra))

    return build


def _http_texts(request: Request) -> list[str]:
    body = _json(request)
    key = next(key for key in ("texts", "documents", "input", "passages") if key in body)
    documents = body[key]
    return [document["text"] if isinstance(document, dict) else document for document in documents]


def _http_statuses(api_format: str) -> tuple[ErrorCase, ...]:
    if api_format in HTTP_CODELESS:
        return tuple(dataclasses.replace(case, expected_code=None) for case in HTTP_STATUSES)
    return HTTP_STATUSES


def _http_path(api_format: str) -> str:
    if api_format == "vllm":
        # vLLM is tried at /v1/rerank and, on 404, 405 or 501, at /rerank.
        return r"^/vllm/(?:v1/)?rerank$"
    if api_format == "llamacpp":
        return r"^/llamacpp/(?:v1/)?rerank(?:ing)?$"
    return rf"^{re.escape(SETUPS[api_format]['path'])}$"


def _http_split(api_format: str) -> Split:
    if api_format in HTTP_REAL_LIMITS:
        limit = HTTP_REAL_LIMITS[api_format]
        return Split(documents=2 * limit + 6, per_request=limit)
    return Split(documents=25, per_request=10, options={"max_documents_per_request": 10})


HTTP_CONTRACTS = {
    api_format: Contract(
        name=api_format,
        provider=api_format.split("-")[0],
        vendor=api_format.split("-")[0],
        path=_http_path(api_format),
        build=_http(api_format),
        texts_of=_http_texts,
        split=_http_split(api_format),
        errors=_http_statuses(api_format) + HTTP_VENDOR_ERRORS[api_format],
        transient=(
            fault("429", status=429, headers=NO_WAIT),
            fault("503", status=503, headers=NO_WAIT),
        ),
        persistent=(
            Persistent(fault("503", status=503, headers=NO_WAIT), ProviderError, attempts=3),
            Persistent(
                fault("429-retry-after-3600", status=429, headers=TOO_LONG), ThrottledError, attempts=1
            ),
        ),
        secret=API_KEY if "api_key" in SETUPS[api_format]["options"] else None,
    )
    for api_format in FORMATS
}

#: Every emulator-backed backend.
CONTRACTS: list[Contract] = [BEDROCK, SAGEMAKER, WATSONX, DASHSCOPE, VERTEX, *HTTP_CONTRACTS.values()]
