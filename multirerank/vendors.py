"""Every vendor fact the project relies on, one :class:`~multirerank.vendor_spec.VendorSpec` each.

Backends read their limits, score scales, environment variables, error tables and retry rules
here, the wire emulator (:mod:`multirerank.testing`) its limits, codes and paths, and the README's
backend table is rendered from it (``python -m multirerank.vendors --readme-table``). Light to
import: no SDK, no HTTP client. Each spec's ``sources`` name where its facts come from.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.types import Limits
from multirerank.vendor_spec import (
    ErrorRules,
    ExceptionRule,
    Model,
    Price,
    RetryPolicy,
    VendorCode,
    VendorSpec,
)

#: When the list prices below were read. "(sec.)" in a source marks a secondary page (a gateway's or
#: a guide's copy of the price): the vendor's own pricing page was not reached. Check before relying.
PRICES_READ = "2026-11-30"

# -- local -------------------------------------------------------------------------------------

LOCAL = VendorSpec(
    name="local",
    provider="local",
    title="local (sentence-transformers)",
    sources=("https://www.sbert.net/docs/cross_encoder/usage/usage.html",),
    # A project choice, not a vendor's: enough to keep one batch's memory bounded on a laptop.
    limits=Limits(max_documents=256),
    score_scales=(("cosine", "(embedding model)"), ("probability", "(cross-encoder)")),
    models=(Model("all-MiniLM-L6-v2"),),
    default_model="all-MiniLM-L6-v2",
    extra="local",
    model_strings=("local", "local/<id or path>"),
    langchain_class="LocalRerank",
    llama_index_class="LocalRerank",
    limit_note="longer lists are split",
    billing="nothing: the model runs on this machine (its hardware and power are not counted)",
    prices=(Price(0.0, "free", source="runs locally: no vendor", read=PRICES_READ),),
)

# -- AWS ---------------------------------------------------------------------------------------

#: Options of every AWS backend and the variables boto3 reads for them when unset.
AWS_ENV = {
    "region_name": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "credentials_profile_name": ("AWS_PROFILE",),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
}

#: Codes every AWS service may answer, whatever its own model lists, with no fixed status.
AWS_COMMON_CODES = (
    # What an AWS service answers a request with no or unusable credentials (an emulator answers
    # these for a bare 403 or 401).
    VendorCode("AccessDeniedException", statuses=(403,), kind=AuthenticationError),
    VendorCode("UnrecognizedClientException", statuses=(401,), kind=AuthenticationError),
    *(
        VendorCode(code, kind=AuthenticationError)
        for code in (
            "InvalidSignatureException",
            "IncompleteSignature",
            "MissingAuthenticationToken",
            "ExpiredTokenException",
            "ExpiredToken",
            "InvalidClientTokenId",
        )
    ),
    *(
        VendorCode(code, kind=ThrottledError)
        for code in ("ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded")
    ),
)

_BOTO = "botocore.exceptions:"
#: What botocore raises, in the order it must be tried (timeouts are also connection errors).
AWS_EXCEPTIONS = (
    ExceptionRule(_BOTO + "ClientError", handler="client_error"),
    *(
        ExceptionRule(_BOTO + name, RerankTimeoutError, "{provider} did not answer in time: {error}")
        for name in ("ReadTimeoutError", "ConnectTimeoutError")
    ),
    *(
        ExceptionRule(_BOTO + name, AuthenticationError, "AWS credentials are missing or unusable: {error}")
        for name in (
            "NoCredentialsError",
            "PartialCredentialsError",
            "CredentialRetrievalError",
            "NoAuthTokenError",
            "TokenRetrievalError",
        )
    ),
    ExceptionRule(
        _BOTO + "ParamValidationError", BadRequestError, "{provider} request rejected before sending: {error}"
    ),
    *(
        ExceptionRule(_BOTO + name, ProviderError, "connection to {provider} failed: {error}")
        for name in ("HTTPClientError", "ConnectionError")
    ),
    # aiobotocore turns most aiohttp failures into the botocore errors above, but not those
    # raised while an answer's body is read (SageMaker's Body).
    *(
        ExceptionRule(name, RerankTimeoutError, "{provider} did not answer in time: {name} {error}")
        for name in ("builtins:TimeoutError", "asyncio:TimeoutError")
    ),
    ExceptionRule("aiohttp:ClientError", ProviderError, "connection to {provider} failed: {name}: {error}"),
    ExceptionRule(
        "botocore.parsers:ResponseParserError",
        MalformedResponseError,
        "{provider} answer could not be parsed: {error}",
    ),
    ExceptionRule(
        "builtins:BaseException", ProviderError, "{provider} call failed: {name}: {error}", retryable=False
    ),
)

#: botocore's standard retry mode (the default) retries these itself (botocore retries/standard.py
#: and data/_retry.json); its legacy mode also any 429.
AWS_SDK_RETRIES = "throttling codes, HTTP 500/502/503/504 and dropped connections (legacy mode: any 429 too)"

BEDROCK = VendorSpec(
    name="bedrock",
    provider="bedrock",
    title="Amazon Bedrock (Rerank API)",
    sources=(
        "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html",
        "https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html",
        "botocore 1.44.5 data/bedrock-agent-runtime (API model)",
    ),
    # A billed query covers up to 100 documents.
    limits=Limits(max_documents=1000, max_document_chars=32_000, max_query_chars=32_000, billing_block=100),
    errors=ErrorRules(
        codes=(
            VendorCode("ValidationException", (400,), BadRequestError),
            # An account quota, not a passing burst: waiting does not lift it.
            VendorCode("ServiceQuotaExceededException", (400,), BadRequestError),
            VendorCode("AccessDeniedException", (403,), AuthenticationError),
            VendorCode("ResourceNotFoundException", (404,), NotFoundError),
            VendorCode("ConflictException", (409,), BadRequestError),
            VendorCode("DependencyFailedException", (424,), ProviderError),
            VendorCode("ThrottlingException", (429,), ThrottledError),
            VendorCode("InternalServerException", (500,), ProviderError),
            VendorCode("BadGatewayException", (502,), ProviderError),
            VendorCode("ServiceUnavailableException", (503,), ProviderError),
            *AWS_COMMON_CODES,
        ),
        server_faults_need_5xx=True,
        missing_status=500,
        fallback_codes=("ValidationException", "InternalServerException"),
        exceptions=AWS_EXCEPTIONS,
    ),
    # Every transient Rerank error is one botocore retries (ThrottlingException is one of its codes).
    retry=RetryPolicy(max_retries=0, sdk=AWS_SDK_RETRIES),
    env=AWS_ENV,
    default_base_url="https://bedrock-agent-runtime.{region}.amazonaws.com",
    paths=("/rerank",),
    models=(
        Model(
            "amazon.rerank-v1:0", frozenset({"ap-northeast-1", "ca-central-1", "eu-central-1", "us-west-2"})
        ),
        Model(
            "cohere.rerank-v3-5:0",
            frozenset({"ap-northeast-1", "ca-central-1", "eu-central-1", "us-west-2", "us-east-1"}),
        ),
    ),
    model_pattern=r"^(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/(.*))?$",
    extra="aws",
    model_strings=("bedrock/<model id or ARN>",),
    langchain_class="BedrockRerank",
    llama_index_class="BedrockRerank",
    billing=(
        "per query: one Rerank call of up to 100 documents (a call of n documents is ceil(n/100) "
        "queries; each nextToken page is a call). The answer reports no usage: the backend derives "
        "search_units by that rule (Bedrock user guide, 'Pricing and search units')"
    ),
    prices=(
        Price(
            2.00,
            "1k_queries",
            model="cohere.rerank-v3-5:0",
            source="https://vercel.com/ai-gateway/models/rerank-v3.5 (sec.); aws.amazon.com/bedrock/pricing not reached",
            read=PRICES_READ,
        ),
        Price(
            None,
            "1k_queries",
            model="amazon.rerank-v1:0",
            source="https://aws.amazon.com/bedrock/pricing/ (the copy read shows no rerank price)",
            read=PRICES_READ,
        ),
    ),
    limit_note="longer lists are split; longer texts rejected, or cut with `truncate=True`",
)

SAGEMAKER = VendorSpec(
    name="sagemaker",
    provider="sagemaker",
    title="Amazon SageMaker endpoint (TEI, HF toolkit, custom)",
    sources=(
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html",
        "https://huggingface.co/docs/text-embeddings-inference/cli_arguments",
    ),
    # TEI's default --max-client-batch-size, and InvokeEndpoint's largest body.
    limits=Limits(max_documents=32, max_request_cost=6_291_456),
    score_scales=(("probability", ""), ("logit", "with `raw_scores=True`")),
    errors=ErrorRules(
        codes=(
            VendorCode("ValidationError", (400,), BadRequestError),
            # The container's own status (OriginalStatusCode) decides; the backend reads it.
            VendorCode("ModelError", (424,)),
            VendorCode("ModelNotReadyException", (429,), ThrottledError),
            # A 400 with this code arrives as a generic ClientError.
            VendorCode("ThrottlingException", (400,), ThrottledError),
            VendorCode("InternalFailure", (500,), ProviderError),
            VendorCode("ServiceUnavailable", (503,), ProviderError),
            VendorCode("InternalDependencyException", (530,), ProviderError),
            VendorCode("InternalStreamFailure", (), ProviderError),
            *AWS_COMMON_CODES,
        ),
        server_faults_need_5xx=True,
        missing_status=500,
        fallback_codes=("ValidationError", "InternalFailure"),
        exceptions=AWS_EXCEPTIONS,
    ),
    # botocore retries neither ModelError (always 424, whatever the container answered) nor
    # InternalDependencyException (530), and its standard mode skips ModelNotReadyException, which
    # InvokeEndpoint models without a retryable trait (botocore retries/standard.py, _retry.json).
    retry=RetryPolicy(
        max_retries=2,
        codes=frozenset({"ModelNotReadyException", "ModelError", "InternalDependencyException"}),
        sdk=AWS_SDK_RETRIES,
    ),
    env=AWS_ENV,
    default_base_url="https://runtime.sagemaker.{region}.amazonaws.com",
    paths=("/endpoints/{name}/invocations",),
    extra="aws",
    model_strings=("sagemaker/<endpoint name>",),
    langchain_class="SageMakerRerank",
    llama_index_class="SageMakerRerank",
    billing="instance-hours of the endpoint, whatever the calls: a call has no cost of its own",
    prices=(
        Price(
            None,
            "instance_hours",
            source="https://aws.amazon.com/sagemaker/pricing/",
            read=PRICES_READ,
            note="set a per-request price with prices={'sagemaker/<endpoint>': ...} to count one",
        ),
    ),
    limit_note="both split; the count is TEI's default, `max_documents_per_request`",
)

# -- IBM watsonx.ai ----------------------------------------------------------------------------

_WML = "ibm_watsonx_ai.wml_client_error:"
_WATSONX_MODELS = (
    Model("cross-encoder/ms-marco-minilm-l-12-v2"),
    Model("ibm/slate-125m-english-rtrvr-v2"),
    Model("ibm/slate-30m-english-rtrvr-v2"),
)

WATSONX = VendorSpec(
    name="watsonx",
    provider="watsonx",
    title="IBM watsonx.ai",
    sources=(
        "https://cloud.ibm.com/apidocs/watsonx-ai#text-rerank",
        "ibm-watsonx-ai 1.8.1 source (foundation_models/rerank.py, wml_client_error.py)",
    ),
    # The API documents no per-request maximum; 1,000 matches the other hosted rerank APIs.
    limits=Limits(max_documents=1000),
    score_scales=(("logit", "(kept raw, as the API returns them)"),),
    errors=ErrorRules(
        codes=(
            VendorCode("invalid_input_argument", (400,)),
            VendorCode("json_validation_error", (400,)),
            VendorCode("authentication_token_not_valid", (401,)),
            VendorCode("authorization_rejected", (403,)),
            VendorCode("model_not_supported", (404,), NotFoundError),
            VendorCode("does_not_exist", (404,)),
            VendorCode("request_entity_too_large", (413,)),
            VendorCode("too_many_requests", (429,)),
            VendorCode("internal_server_error", (500,)),
            VendorCode("bad_gateway", (502,)),
            VendorCode("service_unavailable", (503,)),
            VendorCode("gateway_timeout", (504,)),
        ),
        exceptions=(
            ExceptionRule(_WML + "ApiRequestFailure", handler="response"),
            # The IAM-integration attempt failed first; the classic flow's failure is the telling one.
            ExceptionRule(_WML + "CannotAutogenerateBedrockUrl", handler="last_reason"),
            ExceptionRule(_WML + "InvalidCredentialsError", handler="credentials"),
            ExceptionRule(_WML + "CannotSetProjectOrSpace", handler="scope"),
            ExceptionRule(
                _WML + "ExceededLimitOfAPICalls", ThrottledError, "watsonx.ai refused more calls for now"
            ),
            ExceptionRule(
                _WML + "MissingWMLComponent",
                NotFoundError,
                "watsonx.ai is not available at this URL (HTML 404)",
                status=404,
            ),
            # The SDK turns a refused connection to a Cloud Pak for Data URL into "The provided
            # URL is invalid", raised from the httpx error: that error is what happened.
            ExceptionRule(_WML + "WMLClientError", handler="transport_cause"),
            ExceptionRule(
                "httpx:TimeoutException", RerankTimeoutError, "watsonx.ai did not answer in time ({name})"
            ),
            # The SDK's transport raises an ExceptionGroup (3.11+) once every connection attempt failed.
            *(
                ExceptionRule(name, ProviderError, "watsonx.ai connection failed ({name})")
                for name in ("httpx:TransportError", "builtins:BaseExceptionGroup")
            ),
            ExceptionRule(_WML + "WMLClientError", handler="client_error"),
            ExceptionRule(
                "builtins:OSError",
                ConfigurationError,
                "watsonx.ai TLS certificate could not be verified: pass verify=<path of a CA bundle>",
                contains="cannot be verified",
            ),
            ExceptionRule(
                "builtins:BaseException", ProviderError, "watsonx.ai call failed ({name})", retryable=False
            ),
        ),
    ),
    # The SDK's transport retries 401/500/502/503/504/520/521/524 three times with back-off, and a
    # dropped keep-alive connection, but re-raises a read timeout or a refused connection at once
    # and leaves 429 alone: the engine retries those (ibm_watsonx_ai/_wrappers/httpx/retry_transport).
    retry=RetryPolicy(
        max_retries=2,
        sdk="HTTP 401, 500, 502, 503, 504, 520, 521, 524 (3 times) and dropped keep-alive connections",
        sdk_statuses=frozenset({401, 500, 502, 503, 504, 520, 521, 524}),
    ),
    env={
        "url": ("WATSONX_URL",),
        "api_key": ("WATSONX_APIKEY", "WATSONX_API_KEY"),
        "token": ("WATSONX_TOKEN",),
        "username": ("WATSONX_USERNAME",),
        "password": ("WATSONX_PASSWORD",),
        "instance_id": ("WATSONX_INSTANCE_ID",),
        "project_id": ("WATSONX_PROJECT_ID",),
        "space_id": ("WATSONX_SPACE_ID",),
    },
    needs_api_key=True,
    paths=("/ml/v1/text/rerank",),
    models=_WATSONX_MODELS,
    extra="watsonx",
    model_strings=("watsonx/<model_id>",),
    langchain_class="WatsonxRerank",
    llama_index_class="WatsonxRerank",
    billing="resource units of 1,000 tokens: the answer's input_token_count (read as total_tokens)",
    prices=tuple(
        Price(
            None,
            "1m_tokens",
            model=model.name,
            source='IBM watsonx.ai docs, "Billing details for generative AI assets"',
            read=PRICES_READ,
            note="a resource unit is 1,000 tokens at $0.0001 times a per-model multiplier; the rerankers' is not published",
        )
        for model in _WATSONX_MODELS
    ),
    limit_note="a default, `max_documents_per_request`: the API documents none",
)

# -- Alibaba DashScope -------------------------------------------------------------------------

_DASHSCOPE_TIMEOUT = "DashScope did not answer in time ({name})"
_DASHSCOPE_CONNECTION = "DashScope connection failed ({name})"

DASHSCOPE = VendorSpec(
    name="dashscope",
    provider="dashscope",
    title="Alibaba DashScope (TextReRank)",
    sources=(
        "https://www.alibabacloud.com/help/en/model-studio/text-rerank-api",
        "dashscope 2.0.2 source (TextReRank, AioTextReRank)",
    ),
    limits=Limits(max_documents=500),
    errors=ErrorRules(
        codes=(
            VendorCode("InvalidParameter", (400,), BadRequestError),
            VendorCode("InvalidApiKey", (401,), AuthenticationError, message="Invalid API-key provided."),
            VendorCode("AccessDenied", (403,), AuthenticationError),
            VendorCode("ModelNotFound", (404,), NotFoundError),
            VendorCode("RequestTimeOut", (408,), RerankTimeoutError),
            VendorCode("BadRequest.TooLarge", (413,), BadRequestError),
            VendorCode("Throttling", (429,), ThrottledError, message="Requests throttling triggered."),
            VendorCode(
                "Throttling.RateQuota",
                (429,),
                ThrottledError,
                message="Requests rate limit exceeded, please try again later.",
            ),
            # Waiting does not fix it: an exhausted allocated quota must be raised in the console.
            VendorCode(
                "Throttling.AllocationQuota",
                (429,),
                ThrottledError,
                permanent=True,
                message="Allocated quota exceeded, please increase your quota limit.",
            ),
            VendorCode("InternalError", (500,), ProviderError),
            VendorCode("ServiceUnavailable", (503,), ProviderError),
            VendorCode("GatewayTimeout", (504,), RerankTimeoutError),
            VendorCode("Model.NotExist", (400,), NotFoundError),
            VendorCode("BadRequest", (400,), BadRequestError),
            VendorCode("DataInspectionFailed", (400,), BadRequestError),
            # An account in arrears is refused whatever the request: the fix is the account, as for a bad key.
            VendorCode(
                "Arrearage",
                (400,),
                AuthenticationError,
                message="Access denied, please make sure your account is in good standing.",
            ),
        ),
        code_families=True,
        fallback_codes=("InternalError", "InternalError"),
        exceptions=(
            ExceptionRule("builtins:ImportError", handler="import"),
            ExceptionRule(
                "json:JSONDecodeError", MalformedResponseError, "DashScope answered with invalid JSON"
            ),
            *(
                ExceptionRule(name, RerankTimeoutError, _DASHSCOPE_TIMEOUT)
                for name in ("builtins:TimeoutError", "asyncio:TimeoutError", "requests:Timeout")
            ),
            ExceptionRule(
                "aiohttp:ContentTypeError",
                MalformedResponseError,
                "DashScope answered with a body that is not JSON",
            ),
            *(
                ExceptionRule(name, ProviderError, _DASHSCOPE_CONNECTION)
                for name in ("aiohttp:ClientError", "requests:RequestException")
            ),
            # The SDK unpacks a 200's output blindly; a body of the wrong shape fails inside it.
            *(
                ExceptionRule(f"builtins:{name}", handler="answer_shape")
                for name in ("TypeError", "KeyError", "AttributeError")
            ),
            ExceptionRule(
                "dashscope.common.error:DashScopeException",
                BadRequestError,
                "DashScope SDK refused the request: {error}",
            ),
            ExceptionRule(
                "builtins:BaseException", ProviderError, "DashScope call failed ({name})", retryable=False
            ),
        ),
    ),
    # The SDK retries nothing but a dropped pooled connection.
    retry=RetryPolicy(max_retries=2, sdk="nothing but a dropped pooled connection"),
    env={"api_key": ("DASHSCOPE_API_KEY",)},
    default_base_url="https://dashscope.aliyuncs.com/api/v1",
    paths=("/api/v1/services/rerank/text-rerank/text-rerank", "/compatible-api/v1/reranks"),
    # Counted as query tokens x documents + document tokens.
    cost_unit="tokens",
    # The service reads this much of one query or document; it truncates longer ones, it does not refuse them.
    max_text_tokens=4000,
    models=(
        Model("gte-rerank", token_budget=30_000, instruct=False),
        Model("gte-rerank-v2", token_budget=30_000, instruct=False),
        Model("qwen3-rerank", token_budget=120_000, instruct=True),
        # Listed by the SDK; no budget documented, so the smallest applies.
        Model("qwen3-vl-rerank"),
        Model("qwen3.7-text-rerank"),
    ),
    default_model="gte-rerank-v2",
    extra="dashscope",
    instruction="`instruct` (qwen3 rerankers)",
    model_strings=("dashscope/<model>",),
    langchain_class="DashScopeRerank",
    llama_index_class="DashScopeRerank",
    billing="tokens: the answer's usage.total_tokens (query tokens x documents + document tokens)",
    # Prices differ by region; the SDK's default URL (dashscope.aliyuncs.com) is Beijing's.
    regions=(("dashscope-intl.", "ap-southeast-1"), ("", "cn-beijing")),
    prices=(
        Price(
            0.10,
            "1m_tokens",
            model="qwen3-rerank",
            source="https://www.alibabacloud.com/help/en/model-studio/qwen3-rerank",
            read=PRICES_READ,
            region="ap-southeast-1",
            note="Singapore (international); 1M free tokens for 90 days there",
        ),
        Price(
            0.069,
            "1m_tokens",
            model="qwen3-rerank",
            source="https://www.alibabacloud.com/help/en/model-studio/qwen3-rerank",
            read=PRICES_READ,
            region="cn-beijing",
            note="China (Beijing)",
        ),
        Price(
            0.115,
            "1m_tokens",
            model="gte-rerank-v2",
            source="https://www.alibabacloud.com/help/en/model-studio/text-rerank-api (copies of Feb and Mar 2026)",
            read=PRICES_READ,
            region="cn-beijing",
            note="listed under the Beijing region only",
        ),
    ),
    limit_note="both split",
)

# -- Cohere-compatible HTTP APIs ---------------------------------------------------------------

_HTTPX = "httpx:"
_HTTP_FAILED = "POST {where} failed: {name}: {error}"
#: What httpx raises around one request; the context is ``where``, ``timeout``, ``connect_timeout``.
HTTP_EXCEPTIONS = (
    ExceptionRule(
        _HTTPX + "TimeoutException",
        RerankTimeoutError,
        "POST {where} got no answer in time ({name}; timeout={timeout}s, connect_timeout={connect_timeout}s)",
    ),
    *(
        ExceptionRule(_HTTPX + name, ProviderError, _HTTP_FAILED, retryable=True)
        for name in ("NetworkError", "RemoteProtocolError", "ProxyError")
    ),
    *(
        ExceptionRule(_HTTPX + name, ConfigurationError, "cannot send POST {where}: {error}")
        for name in ("UnsupportedProtocol", "LocalProtocolError", "InvalidURL")
    ),
    ExceptionRule(
        _HTTPX + "DecodingError",
        MalformedResponseError,
        "POST {where} answered with a body that cannot be decoded: {error}",
    ),
    ExceptionRule(_HTTPX + "HTTPError", ProviderError, _HTTP_FAILED),
)
#: No SDK in between: the engine retries throttling (honouring Retry-After), 5xx and dropped connections.
HTTP_RETRY = RetryPolicy(max_retries=2)


_HTTP_TEMPLATE = VendorSpec(
    name="",
    provider="",
    title="",
    sources=(),
    limits=Limits(),
    errors=ErrorRules(exceptions=HTTP_EXCEPTIONS),
    retry=HTTP_RETRY,
    extra="http",
    langchain_class="HTTPRerank",
    llama_index_class="HTTPRerank",
)


def _http(name: str, *, provider: str | None = None, **facts: Any) -> VendorSpec:
    """An HTTP API format's spec: served by ``HTTPRerank(api_format=name)`` in both frameworks."""
    return dataclasses.replace(_HTTP_TEMPLATE, name=name, provider=provider or name, api_format=name, **facts)


_COHERE_SOURCES = (
    "https://docs.cohere.com/reference/rerank",
    "https://docs.cohere.com/docs/reranking-best-practices",
)
_COHERE_ENV = {"api_key": ("COHERE_API_KEY", "CO_API_KEY")}
_COHERE_BILLING = (
    "search units: one query with up to 100 documents (a document over the model's context "
    "counts as several); the answer reports meta.billed_units.search_units"
)
_COHERE_PRICE_SOURCE = (
    "https://developer.puter.com/tutorials/cohere-api-pricing/ (sec., Jun 2026); "
    "https://vercel.com/ai-gateway/models/rerank-v3.5 (sec.); cohere.com/pricing not reached"
)
_COHERE_PRICES = (
    *(
        Price(2.00, "1k_searches", model=name, source=_COHERE_PRICE_SOURCE, read=PRICES_READ)
        for name in ("rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0", "rerank-v4.0-fast")
    ),
    Price(
        2.50,
        "1k_searches",
        model="rerank-v4.0-pro",
        source=_COHERE_PRICE_SOURCE,
        read=PRICES_READ,
        note="one guide (Dec 2025) gives $2 per 1,000 for both v4.0 models",
    ),
    *(
        Price(
            None,
            "1k_searches",
            model=name,
            source="https://docs.cohere.com/changelog (Rerank 5); cohere.com/pricing not reached",
            read=PRICES_READ,
            note=(
                f"gateway catalogues (Bifrost) list {price} per 1M tokens (sec.), but Cohere's own "
                "billing unit for Rerank 5 is unconfirmed and its answers report search units"
            ),
        )
        for name, price in (("rerank-v5.0-pro", "$0.05"), ("rerank-v5.0-fast", "$0.02"))
    ),
)

COHERE = _http(
    "cohere",
    title="Cohere `/v2/rerank` (and `/v1`)",
    sources=_COHERE_SOURCES,
    # The API takes 1 to 10,000 documents and a query of 1 to 2,048 tokens (best-practices page,
    # for v4.0, v3.5 and v3.0). Lists still go as requests of 1,000 by default, chosen by
    # benchmarks/bench_cohere_split.py: at the default concurrency, 10,000 documents in one
    # request took 2.9x (server model from Oracle's Rerank 3.5 figures) or 1.7x (a 7x faster
    # model) as long as in requests of 1,000, for the same search units (requests are sized in
    # whole units of 100); of the fixed sizes 500 to 10,000, 1,000 was never more than 1.74x
    # off the fastest size for lists of 1,000, 2,500 and 10,000 under either model (500: 2.1x;
    # 2,500: 2.5x). A search unit is a query with up to 100 documents.
    limits=Limits(max_documents=1000, billing_block=100, max_query_tokens=2048),
    max_documents_accepted=10_000,
    env=_COHERE_ENV,
    needs_api_key=True,
    default_base_url="https://api.cohere.com",
    paths=("/v2/rerank",),
    models=(
        *(
            Model(name)
            for name in (
                "rerank-v3.5",
                "rerank-english-v3.0",
                "rerank-multilingual-v3.0",
                "rerank-v4.0-pro",
                "rerank-v4.0-fast",
            )
        ),
        # The best-practices table covers v4.0, v3.5 and v3.0; no query limit is documented for
        # Rerank 5, so none is checked (the service decides).
        *(Model(name, max_query_tokens=0) for name in ("rerank-v5.0-pro", "rerank-v5.0-fast")),
    ),
    model_strings=("cohere/<model>",),
    billing=_COHERE_BILLING,
    prices=_COHERE_PRICES,
    limit_note=(
        "longer lists are split; a query provably over the token limit is refused unsent "
        "(not for v5, whose limit is not documented)"
    ),
)
COHERE_V1 = _http(
    "cohere-v1",
    provider="cohere",
    title="Cohere `/v1/rerank`",
    sources=("https://docs.cohere.com/v1/reference/rerank",),
    limits=COHERE.limits,
    max_documents_accepted=COHERE.max_documents_accepted,
    env=_COHERE_ENV,
    needs_api_key=True,
    default_base_url=COHERE.default_base_url,
    paths=("/v1/rerank",),
    models=COHERE.models,
    model_strings=("cohere/<model>",),
    # Reached as cohere/<model> with api_format="cohere-v1": the cohere row covers it.
    in_table=False,
    billing=_COHERE_BILLING,
    prices=_COHERE_PRICES,
)
BIFROST = _http(
    "bifrost",
    title="Bifrost gateway",
    sources=("https://github.com/maximhq/bifrost (core/schemas rerank request and errors)",),
    # The gateway forwards to vendors that mostly stop at 1,000.
    limits=Limits(max_documents=1000),
    paths=("/v1/rerank",),
    # Documents go as {text, id}, so results can be traced through the gateway.
    takes_ids=True,
    model_strings=("bifrost/<provider>/<model>",),
    billing="what the vendor behind the gateway bills; the answer's usage.total_tokens is read when given",
    prices=(
        Price(
            None,
            "1m_tokens",
            source="the vendor behind the gateway sets it",
            read=PRICES_READ,
            note="set prices={'bifrost/<provider>/<model>': ...}",
        ),
    ),
)
VLLM = _http(
    "vllm",
    title="vLLM",
    sources=("https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",),
    # vLLM sets no count limit; this keeps one request's memory and latency bounded.
    limits=Limits(max_documents=1000),
    errors=ErrorRules(
        codes=(
            VendorCode("BadRequestError", (400,)),
            VendorCode("AuthenticationError", (401,)),
            VendorCode("NotFoundError", (404,)),
            VendorCode("RateLimitError", (429,)),
        ),
        fallback_codes=("BadRequestError", "InternalServerError"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    # Servers without /v1/rerank answer one of these there; /rerank is then tried.
    paths=("/v1/rerank", "/rerank"),
    fallback_statuses=frozenset({404, 405, 501}),
    model_strings=("vllm/<model>",),
    # vLLM has no field: Qwen3-Reranker's own prompt carries it (see the vllm format).
    instruction="Qwen3-Reranker's prompt (query and documents wrapped by the client)",
    billing="a self-hosted server: its machine's hours, not calls; usage.total_tokens is read when given",
    prices=(Price(None, "instance_hours", note="self-hosted", read=PRICES_READ),),
)
TEI = _http(
    "tei",
    title="Hugging Face TEI",
    sources=("https://huggingface.github.io/text-embeddings-inference/", SAGEMAKER.sources[1]),
    limits=Limits(max_documents=SAGEMAKER.limit("max_documents")),
    errors=ErrorRules(
        codes=(
            VendorCode("Empty", (400,)),
            VendorCode("Validation", (413, 422)),
            VendorCode("Tokenizer", (422,)),
            VendorCode("Backend", (424,)),
            VendorCode("Overloaded", (429,)),
            VendorCode("Unhealthy", (503,)),
        ),
        fallback_codes=("Backend", "Backend"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    paths=("/rerank",),
    model_strings=("tei",),
    billing="a self-hosted server: its machine's hours, not calls; usage.total_tokens is read when given",
    prices=(Price(None, "instance_hours", note="self-hosted", read=PRICES_READ),),
    limit_note="TEI's default batch limit",
)
JINA = _http(
    "jina",
    title="Jina",
    sources=("https://jina.ai/reranker/",),
    limits=Limits(max_documents=1000),
    env={"api_key": ("JINA_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.jina.ai",
    paths=("/v1/rerank",),
    model_strings=("jina/<model>",),
    billing="tokens, from prepaid token packs: the answer's usage.total_tokens",
    prices=(
        Price(
            None, "1m_tokens", source="https://jina.ai/reranker/ (no per-token price found)", read=PRICES_READ
        ),
    ),
)

# -- Google Vertex AI Ranking API (Discovery Engine RankService.Rank) ----------------------------

#: Google's canonical error statuses (google.rpc.Code) as its JSON APIs answer them: ``status`` in
#: ``{"error": {"code", "message", "status", "details"}}`` with ``code`` the HTTP status.
GOOGLE_STATUSES = (
    VendorCode("INVALID_ARGUMENT", (400,), BadRequestError),
    VendorCode("FAILED_PRECONDITION", (400,), BadRequestError),
    VendorCode("OUT_OF_RANGE", (400,), BadRequestError),
    VendorCode("UNAUTHENTICATED", (401,), AuthenticationError),
    # Also an API not enabled on the project, or a caller without the role.
    VendorCode("PERMISSION_DENIED", (403,), AuthenticationError),
    VendorCode("NOT_FOUND", (404,), NotFoundError),
    VendorCode("ABORTED", (409,), ProviderError),
    VendorCode("ALREADY_EXISTS", (409,), BadRequestError),
    VendorCode("RESOURCE_EXHAUSTED", (429,), ThrottledError, message="Quota exceeded for quota metric."),
    VendorCode("CANCELLED", (499,), ProviderError),
    VendorCode("INTERNAL", (500,), ProviderError),
    VendorCode("UNIMPLEMENTED", (501,), ProviderError, permanent=True),
    VendorCode("UNAVAILABLE", (503,), ProviderError),
    VendorCode("DEADLINE_EXCEEDED", (504,), RerankTimeoutError),
)
#: The OAuth scope a Ranking API token needs.
GOOGLE_CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_GOOGLE_AUTH = "google.auth.exceptions:"

VERTEX = VendorSpec(
    name="vertex",
    provider="vertex",
    title="Google Vertex AI Ranking API",
    sources=(
        "https://cloud.google.com/generative-ai-app-builder/docs/ranking",
        "https://cloud.google.com/generative-ai-app-builder/docs/reference/rest/v1/projects.locations.rankingConfigs/rank",
        "googleapis/googleapis google/cloud/discoveryengine/v1/rank_service.proto",
        "google-cloud-discoveryengine 0.20.5 source (RankServiceClient), read for the wire only",
    ),
    # The proto's per-request maximum ("at most 200 records"); a billed query covers 100.
    limits=Limits(max_documents=200, billing_block=100),
    errors=ErrorRules(
        codes=GOOGLE_STATUSES,
        fallback_codes=("INVALID_ARGUMENT", "INTERNAL"),
        exceptions=(
            # Getting or refreshing the OAuth token failed: no credentials (ADC found none), a
            # refused refresh token or service account, or the token endpoint unreachable.
            ExceptionRule(
                _GOOGLE_AUTH + "DefaultCredentialsError",
                ConfigurationError,
                "Vertex AI found no Google credentials: pass credentials= or set up Application "
                "Default Credentials (gcloud auth application-default login): {error}",
            ),
            ExceptionRule(_GOOGLE_AUTH + "RefreshError", handler="refresh"),
            ExceptionRule(
                _GOOGLE_AUTH + "TransportError",
                ProviderError,
                "Google token endpoint unreachable: {error}",
                retryable=True,
            ),
            *HTTP_EXCEPTIONS,
        ),
    ),
    # No SDK in between: the engine retries RESOURCE_EXHAUSTED (429), 5xx and dropped connections.
    retry=RetryPolicy(max_retries=2),
    env={"project_id": ("GOOGLE_CLOUD_PROJECT",), "location": ("GOOGLE_CLOUD_LOCATION",)},
    default_base_url="https://discoveryengine.googleapis.com",
    paths=("/v1/projects/{project}/locations/{location}/rankingConfigs/{config}:rank",),
    models=tuple(
        Model(name, instruct=False)
        for name in (
            "semantic-ranker-default@latest",
            "semantic-ranker-fast@latest",
            "semantic-ranker-default-004",
            "semantic-ranker-fast-004",
            "semantic-ranker-default-003",
            "semantic-ranker-default-002",
            "semantic-ranker-512@latest",
        )
    ),
    default_model="semantic-ranker-default@latest",
    extra="vertex",
    model_strings=("vertex/<model>",),
    langchain_class="VertexAIRerank",
    llama_index_class="VertexAIRerank",
    billing=(
        "per query: one rank call of up to 100 records (a call of n records is ceil(n/100) "
        "queries). The answer reports no usage: the backend derives search_units by that rule "
        "(secondary: Google's pricing table was not reached)"
    ),
    prices=(
        Price(
            1.00,
            "1k_queries",
            source=(
                "https://cloud.google.com/generative-ai-app-builder/pricing not reached; "
                "$1 per 1,000 queries from secondary copies (sec.)"
            ),
            read=PRICES_READ,
        ),
    ),
    limit_note="longer lists are split",
)

# -- more hosted rerank APIs over HTTP (Voyage, Mixedbread, Pinecone, NVIDIA) -------------------

VOYAGE = _http(
    "voyage",
    title="Voyage AI",
    sources=(
        "https://docs.voyageai.com/reference/reranker-api",
        "https://www.mongodb.com/company/blog/product-release-announcements/rerank-2-5-and-rerank-2-5-lite-instruction-following-rerankers",
        # The request has no instruction field (the reference lists query, documents, model,
        # top_k, return_documents, truncation); MongoDB's $rerank page says query.text may carry
        # which fields matter and clarifying context. Where in the query an instruction goes
        # (before or after it, with what separator) is not documented: the format writes it on
        # a line before the query.
        "https://www.mongodb.com/docs/vector-search/query/aggregation-stages/rerank/",
        "https://docs.voyageai.com/docs/error-codes (400, 401, 403, 429, 500, 502-504)",
        "voyageai 0.5.0 source (errors need a detail field)",
    ),
    # Also 600K tokens per request for the rerank-2 family (query tokens x documents + document
    # tokens); the engine does not count tokens, the service refuses or truncates.
    limits=Limits(max_documents=1000),
    env={"api_key": ("VOYAGE_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.voyageai.com",
    paths=("/v1/rerank",),
    cost_unit="tokens",
    models=(
        Model("rerank-2.5", token_budget=600_000, instruct=True),
        Model("rerank-2.5-lite", token_budget=600_000, instruct=True),
        Model("rerank-2", token_budget=600_000, instruct=False),
        Model("rerank-2-lite", token_budget=600_000, instruct=False),
        Model("rerank-1", token_budget=300_000, instruct=False),
        Model("rerank-lite-1", token_budget=300_000, instruct=False),
    ),
    default_model="rerank-2.5",
    model_strings=("voyage/<model>",),
    langchain_class="VoyageRerank",
    llama_index_class="VoyageRerank",
    limit_note="tokens are counted by the service, which cuts long texts (`truncate=False`: refuses)",
    instruction="written into the query (rerank-2.5 family)",
    billing="tokens: the answer's usage.total_tokens (query tokens x documents + document tokens)",
    prices=(
        *(
            Price(
                usd,
                "1m_tokens",
                model=name,
                source=(
                    "https://docs.voyageai.com/docs/pricing not reached; the same figure on "
                    "usagepricing.com/blueprint/voyage-ai (citing it), vercel.com/ai-gateway and "
                    "openrouter.ai (sec.)"
                ),
                read=PRICES_READ,
                note="the first 200M tokens per account are free (secondary)",
            )
            for name, usd in (("rerank-2.5", 0.05), ("rerank-2.5-lite", 0.02))
        ),
        *(
            Price(
                usd,
                "1m_tokens",
                model=name,
                source="https://www.getmaxim.ai/bifrost/model-library/provider/voyage (sec.)",
                read=PRICES_READ,
            )
            for name, usd in (("rerank-2", 0.05), ("rerank-2-lite", 0.02))
        ),
        *(
            Price(
                None, "1m_tokens", model=name, source="no price found for this older model", read=PRICES_READ
            )
            for name in ("rerank-1", "rerank-lite-1")
        ),
    ),
)
MIXEDBREAD = _http(
    "mixedbread",
    title="Mixedbread",
    sources=(
        "https://www.mixedbread.com/api-reference/endpoints/reranking",
        "https://www.mixedbread.com/docs/rate-limits",
    ),
    limits=Limits(max_documents=1000, max_query_chars=32_000),
    # The body's "type"; the status decides the error (429 carries Retry-After).
    errors=ErrorRules(
        codes=(
            VendorCode("bad_request_error", (400,)),
            VendorCode("unauthorized_error", (401,)),
            VendorCode("forbidden_error", (403,)),
            VendorCode("not_found_error", (404,)),
            VendorCode("validation_error", (422,)),
            VendorCode("too_many_requests_error", (429,)),
        ),
        fallback_codes=("bad_request_error", "internal_server_error"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    env={"api_key": ("MXBAI_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.mixedbread.com",
    paths=("/v1/reranking",),
    models=(
        Model("mixedbread-ai/mxbai-rerank-large-v2"),
        Model("mixedbread-ai/mxbai-rerank-base-v2"),
        Model("mixedbread-ai/mxbai-rerank-large-v1"),
        Model("mixedbread-ai/mxbai-rerank-base-v1"),
        Model("mixedbread-ai/mxbai-rerank-xsmall-v1"),
    ),
    default_model="mixedbread-ai/mxbai-rerank-large-v2",
    model_strings=("mixedbread/<model>",),
    langchain_class="MixedbreadRerank",
    llama_index_class="MixedbreadRerank",
    billing="tokens: the answer's usage.total_tokens",
    prices=(
        Price(
            0.15,
            "1m_tokens",
            source=(
                "https://www.mixedbread.com/docs/models/reranking/mxbai-rerank-large-v2 "
                "(its model table, copy last updated 2025-06-26)"
            ),
            read=PRICES_READ,
            note=(
                "the same for every mxbai-rerank model; an older copy of the page's header showed "
                "$0.00: check the current page"
            ),
        ),
    ),
)
PINECONE = _http(
    "pinecone",
    title="Pinecone Inference",
    sources=(
        "https://docs.pinecone.io/guides/search/rerank-results",
        "https://docs.pinecone.io/reference/api/2025-10/inference/rerank",
        "pinecone 10.2.0 source (inference rerank)",
    ),
    # The smallest model limit; each model's own is in models (the backend uses it).
    limits=Limits(max_documents=100),
    # error.code of the body, gRPC style; the status decides the error.
    errors=ErrorRules(
        codes=(
            VendorCode("INVALID_ARGUMENT", (400,)),
            VendorCode("UNAUTHENTICATED", (401,)),
            VendorCode("FORBIDDEN", (403,)),
            VendorCode("NOT_FOUND", (404,)),
            VendorCode("RESOURCE_EXHAUSTED", (429,)),
            VendorCode("UNAVAILABLE", (503,)),
        ),
        fallback_codes=("INVALID_ARGUMENT", "INTERNAL"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    env={"api_key": ("PINECONE_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.pinecone.io",
    paths=("/rerank",),
    models=(
        Model("bge-reranker-v2-m3", max_documents=100),
        Model("pinecone-rerank-v0", max_documents=100),
        Model("cohere-rerank-3.5", max_documents=200),
        Model("cohere-rerank-4-fast", max_documents=250),
    ),
    default_model="bge-reranker-v2-m3",
    model_strings=("pinecone/<model>",),
    langchain_class="PineconeRerank",
    llama_index_class="PineconeRerank",
    limit_note="by model: 100 (bge, pinecone-rerank-v0), 200 (cohere-rerank-3.5), 250 (cohere-rerank-4-fast); split",
    billing="rerank units: the answer's usage.rerank_units (read as search_units)",
    prices=(
        Price(
            2.00,
            "1k_searches",
            model="bge-reranker-v2-m3",
            source="about $0.002 per rerank unit in community code comments (sec.); pinecone.io/pricing not reached",
            read=PRICES_READ,
            note="per 1,000 rerank units; what one rerank unit covers is not documented",
        ),
        Price(
            None,
            "1k_searches",
            source="https://docs.pinecone.io/guides/inference/understanding-inference (no price)",
            read=PRICES_READ,
        ),
    ),
)
NVIDIA = _http(
    "nvidia",
    title="NVIDIA NIM / API catalog",
    sources=(
        "https://docs.nvidia.com/nim/nemo-retriever/text-reranking/latest/using-reranking.html",
        "https://docs.nvidia.com/nim/nemo-retriever/text-reranking/latest/support-matrix.html",
        "https://docs.api.nvidia.com/nim/reference/nvidia-llama-3_2-nv-rerankqa-1b-v2-infer",
    ),
    # Neither API documents a passage limit; 512 is what NIM 2.4 takes for its largest model.
    limits=Limits(max_documents=512),
    score_scales=(("logit", "(raw, unbounded)"),),
    env={"api_key": ("NVIDIA_API_KEY",), "base_url": ("NVIDIA_BASE_URL",)},
    # The hosted catalog needs a key; a self-hosted NIM (base_url given) needs none.
    default_base_url="https://ai.api.nvidia.com",
    # A self-hosted NIM's path; the hosted catalog's is per model (see the nvidia format).
    paths=("/v1/ranking",),
    models=(
        Model("nvidia/llama-nemotron-rerank-1b-v2"),
        Model("nvidia/llama-nemotron-rerank-500m-v2"),
        Model("nvidia/llama-3.2-nv-rerankqa-1b-v2"),
        Model("nvidia/llama-nemotron-rerank-vl-1b-v2"),
        Model("nvidia/nv-rerankqa-mistral-4b-v3"),
    ),
    default_model="nvidia/llama-nemotron-rerank-1b-v2",
    model_strings=("nvidia/<model>",),
    langchain_class="NVIDIARerank",
    llama_index_class="NVIDIARerank",
    limit_note="a default, `max_documents_per_request`: the APIs document none",
    billing="the API catalog's credits, or a self-hosted NIM's machine hours; the answer reports no usage",
    prices=(
        Price(
            None,
            "instance_hours",
            source="https://build.nvidia.com (catalog credits; no per-call price found)",
            read=PRICES_READ,
            note="a self-hosted NIM bills its machine's hours; set prices= to count the catalog's",
        ),
    ),
)

# -- Cohere-style hosts ------------------------------------------------------------------------

TOGETHER = _http(
    "together",
    title="Together AI",
    sources=(
        "https://docs.together.ai/reference/rerank",
        "togethercomputer/openapi openapi.yaml (/rerank: ErrorData on 400, 401, 404, 429, 503, 504)",
    ),
    limits=Limits(max_documents=1000),
    env={"api_key": ("TOGETHER_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.together.xyz",
    paths=("/v1/rerank",),
    models=(Model("Salesforce/Llama-Rank-V1"),),
    model_strings=("together/<model>",),
    limit_note="a default: the API documents none",
    billing="tokens: the answer's usage.total_tokens when given",
    prices=(
        Price(
            None,
            "1m_tokens",
            source="https://www.together.ai/pricing (no rerank price found)",
            read=PRICES_READ,
        ),
    ),
)
FIREWORKS = _http(
    "fireworks",
    title="Fireworks AI",
    sources=(
        "https://docs.fireworks.ai/api-reference/rerank-documents",
        "https://docs.fireworks.ai/guides/inference-error-codes",
    ),
    limits=Limits(max_documents=1000),
    # A flat body, {"message", "param", "code", "type": "error"} (seen for a 404 of
    # api.fireworks.ai/inference/v1 in a public bug report, Aug 2026; the error-codes page lists
    # statuses only). Only NOT_FOUND was seen; the status decides the error.
    errors=ErrorRules(
        codes=(
            VendorCode("NOT_FOUND", (404,), message="Model not found, inaccessible, and/or not deployed"),
        ),
        fallback_codes=("INVALID_ARGUMENT", "INTERNAL"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    env={"api_key": ("FIREWORKS_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://api.fireworks.ai",
    paths=("/inference/v1/rerank",),
    models=(Model("fireworks/qwen3-reranker-8b", instruct=True),),
    model_strings=("fireworks/<model>",),
    instruction="the `task` field",
    limit_note="a default: the API documents none",
    billing="tokens: the answer's usage.total_tokens",
    prices=(
        Price(
            None,
            "1m_tokens",
            source="https://fireworks.ai/pricing (no reranker row found)",
            read=PRICES_READ,
            note="the page prices text models by size ($0.20 per 1M tokens up to 16B), not rerankers",
        ),
    ),
)
DEEPINFRA = _http(
    "deepinfra",
    title="DeepInfra",
    sources=(
        "https://deepinfra.com/Qwen/Qwen3-Reranker-8B/api",
        "https://deepinfra.com/docs/inference",
    ),
    limits=Limits(max_documents=1000),
    env={"api_key": ("DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN")},
    needs_api_key=True,
    default_base_url="https://api.deepinfra.com",
    paths=("/v1/inference/{model}",),
    models=(
        Model("Qwen/Qwen3-Reranker-8B", instruct=True),
        Model("Qwen/Qwen3-Reranker-4B", instruct=True),
        Model("Qwen/Qwen3-Reranker-0.6B", instruct=True),
    ),
    model_strings=("deepinfra/<model>",),
    instruction="the `instruction` field",
    limit_note="a default: the API documents none",
    billing="tokens: the answer's input_tokens (read as total_tokens)",
    prices=(
        *(
            Price(
                usd,
                "1m_tokens",
                model=name,
                source=f"https://deepinfra.com/{name} (model page)",
                read=PRICES_READ,
            )
            for name, usd in (("Qwen/Qwen3-Reranker-8B", 0.05), ("Qwen/Qwen3-Reranker-0.6B", 0.01))
        ),
        Price(None, "1m_tokens", model="Qwen/Qwen3-Reranker-4B", source="no price found", read=PRICES_READ),
    ),
)
INFINITY = _http(
    "infinity",
    title="Infinity (michaelfeil/infinity)",
    sources=("https://github.com/michaelfeil/infinity (fastapi_schemas/pymodels.py, errors.py)",),
    limits=Limits(max_documents=2048, max_document_chars=122_880),
    errors=ErrorRules(
        codes=(VendorCode("ModelNotDeployedError", (400,)), VendorCode("OverloadedError", (429,))),
        fallback_codes=("BadRequestError", "InternalServerError"),
        exceptions=HTTP_EXCEPTIONS,
    ),
    paths=("/rerank",),
    model_strings=("infinity/<model>",),
    billing="a self-hosted server: its machine's hours, not calls; usage.total_tokens is read when given",
    prices=(Price(None, "instance_hours", note="self-hosted", read=PRICES_READ),),
)
LLAMACPP = _http(
    "llamacpp",
    title="llama.cpp server",
    sources=("https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md",),
    # The server caps nothing but its context and batch size; this bounds one request.
    limits=Limits(max_documents=256),
    score_scales=(("logit", "(raw rank-pooling output)"),),
    paths=("/v1/rerank", "/rerank", "/reranking"),
    fallback_statuses=frozenset({404, 405, 501}),
    model_strings=("llamacpp/<model>", "llamacpp"),
    limit_note="a default, `max_documents_per_request`: the server's context decides",
    billing="a self-hosted server: its machine's hours, not calls; usage.total_tokens is read when given",
    prices=(Price(None, "instance_hours", note="self-hosted", read=PRICES_READ),),
)
OPENROUTER = _http(
    "openrouter",
    title="OpenRouter",
    sources=(
        "https://openrouter.ai/docs/api-reference/rerank",
        "https://openrouter.ai/docs/api-reference/errors",
    ),
    # Cohere's models behind it bill searches of up to 100 documents: split lists go in whole
    # hundreds (no dearer for token-billed models).
    limits=Limits(max_documents=1000, billing_block=100),
    env={"api_key": ("OPENROUTER_API_KEY",)},
    needs_api_key=True,
    default_base_url="https://openrouter.ai",
    paths=("/api/v1/rerank",),
    model_strings=("openrouter/<provider>/<model>",),
    limit_note="a default: the upstream's limit applies",
    billing="what the upstream model bills: the answer's usage.search_units or usage.total_tokens",
    prices=(
        Price(
            1.00,
            "1k_searches",
            model="cohere/rerank-v3.5",
            source="https://openrouter.ai/cohere/rerank-v3.5 ($0.001 per search; a mirror copy)",
            read=PRICES_READ,
        ),
        *(
            Price(
                usd,
                "1m_tokens",
                model=f"voyageai/{name}",
                source="https://openrouter.ai/voyageai (model list)",
                read=PRICES_READ,
            )
            for name, usd in (("rerank-2.5", 0.05), ("rerank-2.5-lite", 0.02))
        ),
        Price(None, "1k_searches", source="per upstream model: set prices= for others", read=PRICES_READ),
    ),
)
AZURE_COHERE = _http(
    "azure-cohere",
    provider="azure",
    title="Azure AI Foundry (Cohere rerank)",
    sources=(
        "https://learn.microsoft.com/azure/ai-foundry/how-to/deploy-models-cohere-rerank",
        "https://docs.cohere.com/docs/reranking-best-practices",
        "cohere-ai/cohere-developer-experience notebooks/guides/cohere-on-azure/v2/azure-ai-reranking.ipynb",
    ),
    # Microsoft's page gives Rerank v3.5 a 4,096-token query (v3: 2,048; Cohere's own page says
    # 2,048 for v3.5 too): the larger bounds the unsent refusal, so no query Azure may take is
    # refused here; a deployment that takes less answers 400.
    limits=dataclasses.replace(COHERE.limits, max_query_tokens=4096),
    max_documents_accepted=COHERE.max_documents_accepted,
    # Neither Microsoft nor Cohere names a variable: their samples pass the key explicitly, under
    # placeholder names (AZURE_INFERENCE_CREDENTIAL in Cohere's Azure guide, Azure AI Inference's
    # samples); AZURE_AI_API_KEY is LiteLLM's name for Azure AI keys.
    env={"api_key": ("AZURE_AI_API_KEY", "AZURE_INFERENCE_CREDENTIAL")},
    needs_api_key=True,
    # A Foundry resource (*.services.ai.azure.com) serves the first, a serverless deployment's
    # target URL the second; the backend picks by host. Both take `Authorization: Bearer <key>`
    # (Microsoft's page for serverless; the Cohere SDK's header, which Cohere's Azure notebook
    # uses); public Azure SQL samples send `api-key: <key>` to the Foundry route instead, and an
    # Entra ID token goes as `Authorization: Bearer <token>` (pass either in headers=). A public
    # report says the Foundry route refuses a chunked body (400 no_content_length_header): httpx
    # sends JSON with a Content-Length.
    paths=("/providers/cohere/v2/rerank", "/v2/rerank"),
    models=(Model("Cohere-rerank-v4.0-pro"), Model("Cohere-rerank-v4.0-fast"), Model("Cohere-rerank-v3.5")),
    model_strings=("azure/<deployment>",),
    billing="search units as Cohere's (one query with up to 100 documents): meta.billed_units.search_units",
    prices=(
        Price(
            None,
            "1k_searches",
            source=(
                "https://learn.microsoft.com/azure/ai-foundry/how-to/deploy-models-cohere-rerank "
                "(prices shown in the Azure Marketplace offer, not reached)"
            ),
            read=PRICES_READ,
            note="a deployment is named by its owner: set prices={'azure/<deployment>': ...}",
        ),
    ),
)

#: Every spec by name, in the README table's order.
VENDORS: dict[str, VendorSpec] = {
    spec.name: spec
    for spec in (
        LOCAL,
        BEDROCK,
        SAGEMAKER,
        WATSONX,
        DASHSCOPE,
        VERTEX,
        COHERE,
        COHERE_V1,
        BIFROST,
        VLLM,
        TEI,
        JINA,
        VOYAGE,
        MIXEDBREAD,
        PINECONE,
        NVIDIA,
        TOGETHER,
        FIREWORKS,
        DEEPINFRA,
        INFINITY,
        LLAMACPP,
        OPENROUTER,
        AZURE_COHERE,
    )
}


if __name__ == "__main__":
    from multirerank.vendor_table import main

    raise SystemExit(main())
