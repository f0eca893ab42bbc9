"""Rerankers deployed on SageMaker endpoints, through boto3's ``sagemaker-runtime`` client.

A SageMaker endpoint runs whatever container its owner deployed, so the request and answer
shapes are a :class:`PayloadFormat`: the stock ones (Hugging Face TEI, the Hugging Face inference
toolkit's text-classification and sentence-ranking tasks) are registered by name, and users can
register their own.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, InstanceOf, field_serializer, field_validator

from multirerank.backends.aws import (
    AWSBackend,
    AWSClientOptions,
    aws_error,
    call_errors,
    close_client,
    translate_aws_error,
)
from multirerank.errors import (
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    error_for_status,
)
from multirerank.options import options_from
from multirerank.types import BatchResult, DocumentInput, Limits, ScoreScale, Usage, document_text
from multirerank.vendors import SAGEMAKER

if TYPE_CHECKING:
    from multirerank.backends.aws_async import AioClients

SPEC = SAGEMAKER
PROVIDER = SPEC.provider
SERVICE = "sagemaker-runtime"
#: InvokeEndpoint's largest request body, in bytes.
MAX_BODY_BYTES = SPEC.limit("max_request_cost")
#: Room left for the query and the JSON around the texts when the engine sizes a request.
BODY_HEADROOM = 64 * 1024
#: TEI's default ``--max-client-batch-size``.
DEFAULT_DOCUMENTS_PER_REQUEST = SPEC.limit("max_documents")

_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_ENDPOINT_NOT_FOUND = re.compile(r"^Endpoint .* not found", re.IGNORECASE)

#: InvokeEndpoint's error codes and botocore's exceptions onto the project's error types.
ERROR_CODES = SPEC.errors

#: ``(index, score)`` pairs, indices being positions in the texts sent.
ScoredPairs = Iterable[tuple[int, float]]


@dataclass(frozen=True)
class PayloadFormat:
    """How a container wants a rerank request, and how to read its answer.

    ``build(query, texts)`` returns the body: bytes, a str, or a JSON value (encoded compactly as
    UTF-8). ``parse(answer, count)`` gets the decoded JSON answer (the raw bytes when
    ``decode_json`` is False) and the number of texts sent, and yields ``(index, score)`` pairs.
    ``truncate_fields`` / ``raw_score_fields`` are merged into a JSON object body when the user
    asks the container to truncate long inputs / to return raw logits; None means unsupported.
    """

    name: str
    build: Callable[[str, list[str]], Any]
    parse: Callable[[Any, int], ScoredPairs]
    content_type: str = "application/json"
    accept: str = "application/json"
    decode_json: bool = True
    truncate_fields: Mapping[str, Any] | None = None
    raw_score_fields: Mapping[str, Any] | None = None


def _malformed(message: str) -> MalformedResponseError:
    return MalformedResponseError(message, provider=PROVIDER)


def _pair(item: object, position: int) -> tuple[int, float]:
    if not isinstance(item, Mapping) or "index" not in item or "score" not in item:
        raise _malformed(f"answer item {position} is not an object with index and score")
    return item["index"], item["score"]


def _tei_request(query: str, texts: list[str]) -> dict[str, Any]:
    return {"query": query, "texts": texts, "raw_scores": False, "return_text": False}


def _tei_answer(answer: Any, count: int) -> ScoredPairs:
    if not isinstance(answer, list):
        raise _malformed("TEI answer is not a list of {index, score}")
    return [_pair(item, position) for position, item in enumerate(answer)]


def _classification_request(query: str, texts: list[str]) -> dict[str, Any]:
    return {"inputs": [{"text": query, "text_pair": text} for text in texts]}


def _classification_answer(answer: Any, count: int) -> ScoredPairs:
    if not isinstance(answer, list) or len(answer) != count:
        raise _malformed(f"text-classification answer is not a list of {count} labels")
    pairs = []
    for position, item in enumerate(answer):
        # With top_k set, the toolkit wraps each input's labels in a list, best first.
        label = item[0] if isinstance(item, list) and item else item
        if not isinstance(label, Mapping) or "score" not in label:
            raise _malformed(f"text-classification answer item {position} has no score")
        pairs.append((position, label["score"]))
    return pairs


def _all_labels_request(query: str, texts: list[str]) -> dict[str, Any]:
    # top_k null reaches the pipeline as top_k=None: every label's score, not just the top one.
    return {**_classification_request(query, texts), "parameters": {"top_k": None}}


def _positive_label_answer(positive_label: str, answer: Any, count: int) -> ScoredPairs:
    if not isinstance(answer, list) or len(answer) != count:
        raise _malformed(f"text-classification answer is not a list of {count} label lists")
    return [(position, _label_score(item, positive_label, position)) for position, item in enumerate(answer)]


def _label_score(item: object, positive_label: str, position: int) -> Any:
    labels = item if isinstance(item, list) else [item]
    for label in labels:
        if isinstance(label, Mapping) and label.get("label") == positive_label and "score" in label:
            return label["score"]
    answered = ", ".join(str(label.get("label")) for label in labels if isinstance(label, Mapping))
    raise _malformed(
        f"text-classification answer item {position} has no score for positive_label {positive_label!r} "
        f"(labels answered: {answered or 'none'}); positive_label must be one of the model's labels, "
        "and the container must honour parameters.top_k=null"
    )


def text_classification_format(positive_label: str | None = None) -> PayloadFormat:
    """The HF inference toolkit's text-classification task.

    Without ``positive_label`` the model is a single-output cross-encoder (one label, such as
    ``LABEL_0``) whose only score is the relevance. A model with several labels needs
    ``positive_label``: every label's score is then asked for and that label's is taken, since the
    toolkit otherwise answers each pair's top label only and a confident "not relevant" would rank
    first.
    """
    truncate_fields = {"parameters": {"truncation": True}}
    if positive_label is None:
        return PayloadFormat(
            "hf-text-classification",
            _classification_request,
            _classification_answer,
            truncate_fields=truncate_fields,
            raw_score_fields={"parameters": {"function_to_apply": "none"}},
        )
    # No raw_scores: one label's raw logit does not rank like its probability under softmax.
    return PayloadFormat(
        "hf-text-classification",
        _all_labels_request,
        functools.partial(_positive_label_answer, positive_label),
        truncate_fields=truncate_fields,
    )


def _parse_identity(parse: Callable[..., Any]) -> str:
    """What distinguishes one answer reader from another: its function and bound arguments."""
    if isinstance(parse, functools.partial):
        return f"{getattr(parse.func, '__qualname__', parse.func)!s}{parse.args!r}{sorted(parse.keywords.items())!r}"
    return str(getattr(parse, "__qualname__", type(parse).__qualname__))


def _ranking_request(query: str, texts: list[str]) -> dict[str, Any]:
    return {"inputs": {"query": query, "texts": texts}}


def _ranking_answer(answer: Any, count: int) -> ScoredPairs:
    scores = answer.get("scores") if isinstance(answer, Mapping) else None
    if not isinstance(scores, list):
        raise _malformed("sentence-ranking answer has no scores list")
    if all(isinstance(score, (int, float)) and not isinstance(score, bool) for score in scores):
        # The pairs form of the task answers bare scores in input order.
        return list(enumerate(scores))
    return [_pair(item, position) for position, item in enumerate(scores)]


#: Formats by name; :func:`register_payload_format` adds more.
PAYLOAD_FORMATS: dict[str, PayloadFormat] = {
    fmt.name: fmt
    for fmt in (
        PayloadFormat(
            "tei",
            _tei_request,
            _tei_answer,
            truncate_fields={"truncate": True},
            raw_score_fields={"raw_scores": True},
        ),
        text_classification_format(),
        PayloadFormat("hf-sentence-ranking", _ranking_request, _ranking_answer),
    )
}


def register_payload_format(payload_format: PayloadFormat) -> PayloadFormat:
    """Make ``payload_format`` available by name (model strings, config files)."""
    PAYLOAD_FORMATS[payload_format.name] = payload_format
    return payload_format


@dataclass(frozen=True)
class _Piece:
    """One InvokeEndpoint request of a batch: its body, and the texts it carries (``count`` of
    them, from position ``offset`` of the batch)."""

    offset: int
    count: int
    body: bytes


def _merged(body: Any, fields: Mapping[str, Any]) -> Any:
    merged = dict(body)
    for key, value in fields.items():
        current = merged.get(key)
        merged[key] = (
            _merged(current, value) if isinstance(current, Mapping) and isinstance(value, Mapping) else value
        )
    return merged


def _encoded(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    # Compact and unescaped, as the engine's size estimate assumes.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class SageMakerBackend(AWSBackend):
    """``InvokeEndpoint`` on a reranker endpoint.

    The engine splits lists over ``max_documents_per_request`` and over the body limit; a body
    that still comes out too large (a long query repeated per text, a custom format) is halved
    here, so nothing over 6 MiB is ever sent. botocore retries throttling and 5xx answers itself;
    the engine retries what it leaves (the codes of ``SPEC.retry``, and :meth:`should_retry`).
    """

    provider = PROVIDER
    max_concurrency = 4
    max_retries = SPEC.retry.max_retries
    per_document_scores = SPEC.per_document_scores

    def __init__(
        self,
        client: Any,
        endpoint_name: str,
        payload_format: PayloadFormat,
        *,
        max_documents_per_request: int = DEFAULT_DOCUMENTS_PER_REQUEST,
        truncate: bool = False,
        raw_scores: bool = False,
        score_scale: ScoreScale | None = None,
        headers: Mapping[str, str] | None = None,
        owns_client: bool = False,
        async_clients: AioClients | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        for wanted, fields, option in (
            (truncate, payload_format.truncate_fields, "truncate"),
            (raw_scores, payload_format.raw_score_fields, "raw_scores"),
        ):
            if wanted and fields is None:
                raise ConfigurationError(f"payload format {payload_format.name!r} does not support {option}")
            if wanted and fields is not None:
                extra = _merged(extra, fields)
        super().__init__(client, owns_client=owns_client, async_clients=async_clients)
        self.model = endpoint_name
        self.payload_format = payload_format
        self.score_scale = score_scale or ("logit" if raw_scores else "probability")
        self.limits = Limits(
            max_documents=max_documents_per_request, max_request_cost=MAX_BODY_BYTES - BODY_HEADROOM
        )
        self.headers = dict(headers or {})
        self._extra_fields = extra

    def should_retry(self, error: RerankError) -> bool:
        """The retryable errors botocore does not retry: an endpoint still loading its model, a
        container that answered 429 or 5xx (inside ModelError), an internal dependency failure."""
        if not SPEC.retry.engine_retries(error):
            return False
        # botocore's legacy mode already retries every 429; more attempts would multiply its own.
        return error.code != "ModelNotReadyException" or not _retries_every_429(self.client)

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        pieces = self._pieces(str(query), [str(document_text(document)) for document in documents], 0)
        scores: list[tuple[int, float]] = []
        for piece in pieces:
            scores.extend(self._scored(piece, self._invoke(piece.body)))
        # Every half of a body that had to be split was a request of its own.
        return BatchResult(scores, Usage(requests=len(pieces)))

    async def arerank_on_io_loop(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        """:meth:`rerank_batch` through the aiobotocore client (on the AWS I/O loop)."""
        client = await self.async_client()
        pieces = self._pieces(str(query), [str(document_text(document)) for document in documents], 0)
        scores: list[tuple[int, float]] = []
        for piece in pieces:
            scores.extend(self._scored(piece, await self._ainvoke(client, piece.body)))
        return BatchResult(scores, Usage(requests=len(pieces)))

    def _pieces(self, query: str, texts: list[str], offset: int) -> list[_Piece]:
        """The requests for ``texts``: one body, or its halves (halved again while still over the
        limit), all built before any is sent."""
        body = self._body(query, texts)
        if len(body) <= MAX_BODY_BYTES:
            return [_Piece(offset, len(texts), body)]
        if len(texts) == 1:
            raise BadRequestError(
                f"the request for the document at position {offset} of this batch is {len(body)} bytes; "
                f"InvokeEndpoint accepts at most {MAX_BODY_BYTES}: shorten the query or the document",
                provider=PROVIDER,
            )
        middle = len(texts) // 2
        return self._pieces(query, texts[:middle], offset) + self._pieces(
            query, texts[middle:], offset + middle
        )

    def _scored(self, piece: _Piece, answer: bytes) -> list[tuple[int, float]]:
        return [(index + piece.offset, score) for index, score in self._parse(answer, piece.count)]

    def _body(self, query: str, texts: list[str]) -> bytes:
        try:
            body = self.payload_format.build(query, texts)
        except Exception as error:
            raise ConfigurationError(
                f"payload format {self.payload_format.name!r} could not build a request: {type(error).__name__}: {error}"
            ) from error
        if self._extra_fields:
            if not isinstance(body, Mapping):
                raise ConfigurationError(
                    f"payload format {self.payload_format.name!r} builds no JSON object to add truncate/raw_scores to"
                )
            body = _merged(body, self._extra_fields)
        return _encoded(body)

    def _parse(self, answer: bytes, count: int) -> list[tuple[int, float]]:
        name = self.payload_format.name
        decoded: Any = answer
        if self.payload_format.decode_json:
            try:
                decoded = json.loads(answer)
            except ValueError:
                raise _malformed(f"endpoint {self.model} answered invalid JSON ({name} format)") from None
        try:
            return list(self.payload_format.parse(decoded, count))
        except RerankError:
            raise
        except Exception as error:
            raise _malformed(
                f"the {name} format could not read the answer: {type(error).__name__}: {error}"
            ) from error

    def _invoke_arguments(self, body: bytes) -> dict[str, Any]:
        return {
            "EndpointName": self.model,
            "Body": body,
            "ContentType": self.payload_format.content_type,
            "Accept": self.payload_format.accept,
            **self.headers,
        }

    def _invoke(self, body: bytes) -> bytes:
        try:
            response = self.client.invoke_endpoint(**self._invoke_arguments(body))
            answer: bytes = response["Body"].read()
        except call_errors() as error:
            raise self._failure(error) from error
        return answer

    async def _ainvoke(self, client: Any, body: bytes) -> bytes:
        from multirerank.backends.aws_async import aio_call_errors

        try:
            response = await client.invoke_endpoint(**self._invoke_arguments(body))
            # Leaving the block releases the connection, also when reading fails halfway.
            async with response["Body"] as stream:
                answer: bytes = await stream.read()
        except aio_call_errors() as error:
            raise self._failure(error) from error
        return answer

    def _failure(self, error: Exception) -> RerankError:
        """The project's error for what a call raised, through either client."""
        from botocore.exceptions import ClientError

        if isinstance(error, ClientError):
            return self._client_error(error)
        return translate_aws_error(error, provider=PROVIDER, codes=ERROR_CODES)

    def _client_error(self, error: Any) -> RerankError:
        response = error.response
        details = response.get("Error", {})
        code = details.get("Code")
        message = str(details.get("Message") or code or "request failed")
        if code == "ModelError":
            return self._model_error(response, message)
        if code == "ValidationError" and _ENDPOINT_NOT_FOUND.match(message):
            return NotFoundError(message, provider=PROVIDER, status=400, code=code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return aws_error(message, provider=PROVIDER, code=code, status=status, codes=ERROR_CODES)

    def _model_error(self, response: Mapping[str, Any], message: str) -> RerankError:
        # The container's own status says what went wrong: a 413/422 is the request's fault.
        original = response.get("OriginalStatusCode")
        if not isinstance(original, int) or original < 400:
            return ProviderError(message, provider=PROVIDER, status=424, code="ModelError", retryable=False)
        detail = response.get("OriginalMessage") or message
        return error_for_status(
            original,
            f"the model container of endpoint {self.model} answered {original}: {detail}",
            provider=PROVIDER,
            code="ModelError",
        )

    def score_identity(self) -> Mapping[str, Any]:
        # Headers pick a variant or an inference component: another model behind the endpoint.
        return {
            **super().score_identity(),
            "payload_format": self.payload_format.name,
            # The label read as "relevant" (text classification): another label, other scores.
            "parse": _parse_identity(self.payload_format.parse),
            "extra_fields": self._extra_fields,
            "headers": self.headers,
        }

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "endpoint_name": self.model, "payload_format": self.payload_format.name}


def _retries_every_429(client: Any) -> bool:
    """Whether the client runs botocore's legacy retry mode, which retries any 429 answer."""
    config = getattr(getattr(client, "meta", None), "config", None)
    retries = getattr(config, "retries", None)
    return isinstance(retries, Mapping) and retries.get("mode") == "legacy"


class SageMakerOptions(AWSClientOptions):
    """What a user sets for a SageMaker reranker endpoint; both frameworks' classes share it."""

    endpoint_name: str = Field(description="The SageMaker endpoint's name.")
    payload_format: str | InstanceOf[PayloadFormat] = Field(
        default="tei",
        description="'tei', 'hf-text-classification', 'hf-sentence-ranking', a registered name, or a PayloadFormat.",
    )
    max_documents_per_request: int = Field(
        default=DEFAULT_DOCUMENTS_PER_REQUEST,
        ge=1,
        strict=True,
        description="Texts per request (TEI's default limit is 32).",
    )
    truncate: bool = Field(
        default=False, description="Ask the container to truncate inputs over the model's window."
    )
    raw_scores: bool = Field(default=False, description="Ask for raw logits instead of probabilities.")
    positive_label: str | None = Field(
        default=None,
        description="hf-text-classification with a multi-label model: the label whose score is the "
        "relevance, e.g. 'LABEL_1'; unset for single-output cross-encoders.",
    )
    score_scale: ScoreScale | None = Field(
        default=None,
        description="What the endpoint's scores mean; 'logit' with raw_scores, else 'probability'.",
    )
    target_model: str | None = Field(default=None, description="Multi-model endpoints: the model to invoke.")
    target_variant: str | None = Field(default=None, description="The production variant to invoke.")
    inference_component_name: str | None = Field(
        default=None, description="The inference component to invoke."
    )
    custom_attributes: str | None = Field(default=None, description="Passed verbatim to the container.")

    @field_validator("endpoint_name")
    @classmethod
    def _check_endpoint_name(cls, value: str) -> str:
        if not _ENDPOINT_NAME.match(value) or len(value) > 63:
            raise ValueError(
                "endpoint_name must be 1-63 letters, digits and hyphens, not starting or ending with '-'"
            )
        return value

    @field_validator("payload_format")
    @classmethod
    def _check_payload_format(cls, value: str | PayloadFormat) -> str | PayloadFormat:
        if isinstance(value, str) and value not in PAYLOAD_FORMATS:
            raise ValueError(f"unknown payload_format {value!r}; known: {', '.join(sorted(PAYLOAD_FORMATS))}")
        return value

    @field_validator("positive_label")
    @classmethod
    def _check_positive_label(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("positive_label must name one of the model's labels, e.g. 'LABEL_1'")
        return value

    @field_serializer("payload_format")
    def _payload_format_name(self, value: str | PayloadFormat) -> str:
        # Dumps (LlamaIndex's to_json) carry the name; functions are not data.
        return value if isinstance(value, str) else value.name

    def resolved_payload_format(self) -> PayloadFormat:
        if self.positive_label is not None:
            return self._positive_label_format(self.positive_label)
        fmt = self.payload_format
        return PAYLOAD_FORMATS[fmt] if isinstance(fmt, str) else fmt

    def _positive_label_format(self, positive_label: str) -> PayloadFormat:
        # Checked when the backend is built: the adapters build it before pydantic's model validators run.
        if self.payload_format != "hf-text-classification":
            raise ConfigurationError(
                "positive_label works with payload_format='hf-text-classification' only; "
                "a custom PayloadFormat reads labels in its own parse",
                provider=PROVIDER,
            )
        if self.raw_scores:
            raise ConfigurationError(
                "positive_label cannot be combined with raw_scores: one label's raw logit does not "
                "rank like its probability",
                provider=PROVIDER,
            )
        return text_classification_format(positive_label)

    def invoke_headers(self) -> dict[str, str]:
        """The optional InvokeEndpoint parameters that are set."""
        headers = {
            "TargetModel": self.target_model,
            "TargetVariant": self.target_variant,
            "InferenceComponentName": self.inference_component_name,
            "CustomAttributes": self.custom_attributes,
        }
        return {name: value for name, value in headers.items() if value}

    def build_backend(self) -> SageMakerBackend:
        payload_format = self.resolved_payload_format()
        client = self.build_client(SERVICE)
        try:
            return SageMakerBackend(
                client,
                self.endpoint_name,
                payload_format,
                max_documents_per_request=self.max_documents_per_request,
                truncate=self.truncate,
                raw_scores=self.raw_scores,
                score_scale=self.score_scale,
                headers=self.invoke_headers(),
                owns_client=self.client is None,
                async_clients=self.build_async_clients(SERVICE, client),
            )
        except ConfigurationError:
            if self.client is None:
                close_client(client)
            raise


def from_model_string(rest: str | None, **options: Any) -> SageMakerBackend:
    """``sagemaker/<endpoint name>``; ``options`` are :class:`SageMakerOptions` fields."""
    if rest is not None:
        if "endpoint_name" in options:
            raise ConfigurationError(
                "give the SageMaker endpoint in the model string or in endpoint_name, not both"
            )
        options = {**options, "endpoint_name": rest}
    return options_from(SageMakerOptions, options, provider=PROVIDER).build_backend()
