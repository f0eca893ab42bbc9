"""Amazon Bedrock Rerank through boto3's ``bedrock-agent-runtime`` client, and its user options."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field, field_validator

from multirerank.backends.aws import (
    AWSBackend,
    AWSClientOptions,
    call_errors,
    client_region,
    close_client,
    translate_aws_error,
)
from multirerank.backends.base import Backend
from multirerank.errors import (
    ConfigurationError,
    MalformedResponseError,
    RerankInputError,
)
from multirerank.options import options_from
from multirerank.types import BatchResult, DocumentInput, Usage, json_value
from multirerank.vendors import BEDROCK

if TYPE_CHECKING:
    from multirerank.backends.aws_async import AioClients

SPEC = BEDROCK
PROVIDER = SPEC.provider
SERVICE = "bedrock-agent-runtime"

#: Documents one billed query covers ("Pricing and search units", Bedrock user guide).
QUERY_DOCUMENTS = 100

#: Where each rerank model is served (Bedrock model catalogue); other model ids are not checked.
RERANK_MODEL_REGIONS: Mapping[str, frozenset[str]] = {model.name: model.regions for model in SPEC.models}

#: The only ARN form the Rerank API accepts (its model's pattern, with the parts named).
FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:(?P<partition>aws(-[^:]+)?):bedrock:(?P<region>[a-z0-9-]{1,20})::foundation-model/(?P<model>.+)$"
)

#: Rerank's error codes (its API model) and botocore's exceptions onto the project's error types.
ERROR_CODES = SPEC.errors


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _check_offered(model_id: str, region: str, partition: str) -> None:
    regions = RERANK_MODEL_REGIONS.get(model_id)
    if regions is not None and partition == "aws" and region not in regions:
        raise ConfigurationError(
            f"model {model_id} is not offered in {region}; it is served in {', '.join(sorted(regions))}"
        )


def model_arn_for(model: str, region: str | None) -> str:
    """The foundation-model ARN for ``model`` (an ARN or a model id) called from ``region``.

    Everything the Rerank API would reject for the model's region is a ConfigurationError here,
    before any request: a malformed ARN, an ARN of another region, a model the region lacks.
    """
    if model.startswith("arn:"):
        match = FOUNDATION_MODEL_ARN.match(model)
        if match is None:
            raise ConfigurationError(
                f"model_arn {model!r} is not a foundation-model ARN such as "
                "'arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0' "
                "(Rerank accepts no inference-profile or custom-model ARNs)"
            )
        arn_region = match["region"]
        if region is not None and region != arn_region:
            raise ConfigurationError(
                f"model_arn is in {arn_region} but the {SERVICE} client is in {region}; Rerank refuses "
                f"cross-region calls: set region_name={arn_region!r} or use the model's ARN in {region}"
            )
        _check_offered(match["model"], arn_region, match["partition"])
        return model
    if region is None:
        raise ConfigurationError(
            f"model id {model!r} needs a region to build its ARN: set region_name or AWS_REGION"
        )
    partition = _partition(region)
    _check_offered(model, region, partition)
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model}"


def _sources(documents: Sequence[DocumentInput]) -> list[dict[str, Any]]:
    """The request's ``sources``: a list of texts, the usual call, in one comprehension (a call
    of :func:`_source` per document was a tenth of the project's own time per request)."""
    if set(map(type, documents)) <= {str}:
        return [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": document}}}
            for document in documents
        ]
    return [_source(document) for document in documents]


def _source(document: DocumentInput) -> dict[str, Any]:
    if isinstance(document, str):
        inline: dict[str, Any] = {"type": "TEXT", "textDocument": {"text": str(document)}}
    else:
        # botocore accepts only JSON values in a document; dates and the like become strings.
        inline = {"type": "JSON", "jsonDocument": json.loads(json.dumps(document, default=json_value))}
    return {"type": "INLINE", "inlineDocumentSource": inline}


def _scored(result: object, position: int) -> tuple[int, float]:
    if not isinstance(result, Mapping) or "index" not in result or "relevanceScore" not in result:
        raise MalformedResponseError(f"result {position} lacks index or relevanceScore", provider=PROVIDER)
    return result["index"], result["relevanceScore"]


class _Pages:
    """One batch's Rerank pages: the request for the next one, and the scores read so far."""

    def __init__(self, request: dict[str, Any], count: int) -> None:
        self._request = request
        self._count = count
        self._scores: list[tuple[int, float]] = []
        self._token: str | None = None
        self._seen_tokens: set[str] = set()
        self._done = False

    def next_request(self) -> dict[str, Any] | None:
        """The request for the next page, or None once the last one was read."""
        if self._done:
            return None
        return self._request if self._token is None else {**self._request, "nextToken": self._token}

    def read(self, response: Mapping[str, Any]) -> None:
        results = response.get("results")
        if not isinstance(results, list):
            raise MalformedResponseError("Rerank answer has no results list", provider=PROVIDER)
        try:  # the usual page, read in one comprehension
            self._scores.extend([(result["index"], result["relevanceScore"]) for result in results])
        except (KeyError, TypeError, IndexError):
            for result in results:  # again one by one, to name the result at fault
                self._scores.append(_scored(result, len(self._scores)))
        token = response.get("nextToken")
        if not token:
            self._done = True
            return
        if token in self._seen_tokens or len(self._seen_tokens) > self._count:
            raise MalformedResponseError("Rerank kept answering with nextToken pages", provider=PROVIDER)
        self._seen_tokens.add(token)
        self._token = token

    def result(self) -> BatchResult:
        # Every page was a request of its own: the first plus one per token followed. Rerank
        # reports no usage; it bills a query per 100 documents of each call (SPEC.billing).
        requests = 1 + len(self._seen_tokens)
        return BatchResult(
            self._scores,
            Usage(requests=requests, search_units=requests * math.ceil(self._count / QUERY_DOCUMENTS)),
        )


class BedrockBackend(AWSBackend):
    """One Rerank request per call, following ``nextToken`` pages (each counted in the usage).

    ``numberOfResults`` is always sent and never above the request's document count, so "all
    results" works. botocore retries throttling and 5xx itself (Rerank's ThrottlingException is
    one of its throttling codes), so the engine does not.
    """

    provider = PROVIDER
    score_scale = SPEC.score_scale
    limits = SPEC.limits
    cuts_when_told = True
    per_document_scores = SPEC.per_document_scores
    max_retries = SPEC.retry.max_retries
    max_concurrency = 4

    def __init__(
        self,
        client: Any,
        model_arn: str,
        *,
        truncate: bool = False,
        additional_model_request_fields: Mapping[str, Any] | None = None,
        owns_client: bool = False,
        async_clients: AioClients | None = None,
    ) -> None:
        super().__init__(client, owns_client=owns_client, async_clients=async_clients)
        self.model = model_arn
        self.truncate = truncate
        self.additional_model_request_fields = dict(additional_model_request_fields or {})

    def with_request_fields(self, fields: Mapping[str, Any]) -> BedrockBackend:
        """A twin sharing this backend's clients (sync and async; closing them stays this
        backend's job) whose requests also carry ``fields`` (they win on clashes)."""
        return BedrockBackend(
            self.client,
            self.model,
            truncate=self.truncate,
            additional_model_request_fields={**self.additional_model_request_fields, **fields},
            async_clients=self.async_clients,
        )

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        pages = _Pages(self._request(query, documents, top_n), len(documents))
        while (request := pages.next_request()) is not None:
            pages.read(self._call(request))
        return pages.result()

    async def arerank_on_io_loop(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        """:meth:`rerank_batch` through the aiobotocore client (on the AWS I/O loop)."""
        client = await self.async_client()
        pages = _Pages(self._request(query, documents, top_n), len(documents))
        while (request := pages.next_request()) is not None:
            pages.read(await self._acall(client, request))
        return pages.result()

    def _request(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> dict[str, Any]:
        model_configuration: dict[str, Any] = {"modelArn": self.model}
        if self.additional_model_request_fields:
            model_configuration["additionalModelRequestFields"] = self.additional_model_request_fields
        wanted = len(documents) if top_n is None else min(top_n, len(documents))
        return {
            "queries": [{"type": "TEXT", "textQuery": {"text": str(query)}}],
            "sources": _sources(documents),
            "rerankingConfiguration": {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "numberOfResults": wanted,
                    "modelConfiguration": model_configuration,
                },
            },
        }

    def _call(self, request: dict[str, Any]) -> Mapping[str, Any]:
        try:
            response: Mapping[str, Any] = self.client.rerank(**request)
        except call_errors() as error:
            raise translate_aws_error(error, provider=PROVIDER, codes=ERROR_CODES) from error
        return response

    async def _acall(self, client: Any, request: dict[str, Any]) -> Mapping[str, Any]:
        from multirerank.backends.aws_async import aio_call_errors

        try:
            response: Mapping[str, Any] = await client.rerank(**request)
        except aio_call_errors() as error:
            raise translate_aws_error(error, provider=PROVIDER, codes=ERROR_CODES) from error
        return response

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model_arn": self.model}

    def score_identity(self) -> Mapping[str, Any]:
        return {
            **super().score_identity(),
            "additional_model_request_fields": self.additional_model_request_fields,
        }


class BedrockOptions(AWSClientOptions):
    """What a user sets for Bedrock Rerank; the LangChain and LlamaIndex classes share it."""

    model_arn: str = Field(
        validation_alias=AliasChoices("model_arn", "model_id"),
        description="A foundation-model ARN, or a model id such as 'cohere.rerank-v3-5:0' plus a region.",
    )
    truncate: bool = Field(
        default=False,
        description=f"Cut texts over Bedrock's {SPEC.limit('max_document_chars'):,}-character limit instead of rejecting them.",
    )
    additional_model_request_fields: dict[str, Any] | None = Field(
        default=None,
        description="Model-specific request fields, e.g. {'max_tokens_per_doc': 4096} for Cohere.",
    )

    @field_validator("model_arn")
    @classmethod
    def _check_model(cls, value: str) -> str:
        value = value.strip()
        if not value or any(character.isspace() for character in value):
            raise ValueError("model_arn must be a model ARN or id without spaces")
        return value

    def backend_for_call(self, backend: Backend, options: Mapping[str, Any]) -> Backend:
        """``backend`` whose requests also carry ``additional_model_request_fields`` for one call,
        as langchain-aws's ``rerank`` takes them; any other option is a RerankInputError."""
        options = dict(options)
        fields = options.pop("additional_model_request_fields", None)
        if options:
            raise RerankInputError(f"{type(self).__name__}.rerank got unexpected options {sorted(options)}")
        if fields is not None and not isinstance(fields, Mapping):
            raise RerankInputError("additional_model_request_fields must be a dict")
        if not fields or not isinstance(backend, BedrockBackend):
            return backend
        # A twin sharing the client: the object's own settings stay as they were.
        return backend.with_request_fields(fields)

    def build_backend(self) -> BedrockBackend:
        match = FOUNDATION_MODEL_ARN.match(self.model_arn)
        client = self.build_client(SERVICE, region_hint=match["region"] if match else None)
        try:
            arn = model_arn_for(self.model_arn, client_region(client))
        except ConfigurationError:
            if self.client is None:
                close_client(client)
            raise
        return BedrockBackend(
            client,
            arn,
            truncate=self.truncate,
            additional_model_request_fields=self.additional_model_request_fields,
            owns_client=self.client is None,
            async_clients=self.build_async_clients(SERVICE, client),
        )


def from_model_string(rest: str | None, **options: Any) -> BedrockBackend:
    """``bedrock/<model id or ARN>``; ``options`` are :class:`BedrockOptions` fields."""
    if rest is not None:
        if {"model_arn", "model_id"} & options.keys():
            raise ConfigurationError("give the Bedrock model in the model string or in model_arn, not both")
        options = {**options, "model_arn": rest}
    return options_from(BedrockOptions, options, provider=PROVIDER).build_backend()
