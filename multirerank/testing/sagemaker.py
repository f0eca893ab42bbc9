"""SageMaker Runtime ``InvokeEndpoint`` with reranker containers behind it, as boto3 sees it.

The service wraps a container's 4xx/5xx as ``ModelError`` (424) carrying the container's status
and body, answers unknown endpoints with ``ValidationError`` and bodies over 6 MiB with a bare 413.

Settings in ``emulator.state``:

- ``"sagemaker.endpoints"``: names that exist (every name exists when unset);
- ``"sagemaker.formats"``: ``{endpoint: "tei" | "hf-text-classification" | "hf-sentence-ranking"
  | handler}``; unlisted endpoints are served by the request's shape. A handler is
  ``handler(emulator, request) -> (status, answer)``, the container of a custom format: it gets
  the decoded JSON body (the raw bytes when it is not JSON) and answers a JSON value or bytes;
- ``"sagemaker.max_batch_size"``: TEI's ``--max-client-batch-size`` (32);
- ``"sagemaker.labels"``: the text-classification model's labels (``["LABEL_0"]``, a one-output
  cross-encoder). With several, the last is "relevant" and scores the relevance, the others share
  the rest; each pair is answered with its top label only, or with its ``top_k`` best labels
  (all for ``"parameters": {"top_k": null}``), best first, as the toolkit's pipeline does;
- ``"sagemaker.account"``: the account id in messages.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

from multirerank.testing.server import Emulator, Request, Response, Route
from multirerank.vendors import SAGEMAKER, TEI

VENDOR = "sagemaker"
MAX_BODY_BYTES = SAGEMAKER.limit("max_request_cost")
TEI_MAX_BATCH_SIZE = TEI.limit("max_documents")
ACCOUNT = "123456789012"

#: A container: decoded request in, ``(status, JSON body)`` out.
Container = Callable[[Emulator, Any], "tuple[int, Any]"]


def error(status: int, code: str | None, message: str) -> Response:
    """A rest-json error as SageMaker Runtime sends it: code header, ``Message`` body."""
    if status == 413 and code is None:
        return _too_large(message)
    code = code or SAGEMAKER.errors.code_for_status(status)
    body: dict[str, Any] = {"Message": message}
    if code == "ModelError":
        body.update(OriginalStatusCode=500, OriginalMessage=message)
    return Response(
        status, body, headers={"x-amzn-ErrorType": f"{code}:", "x-amzn-RequestId": str(uuid.uuid4())}
    )


def _too_large(message: str) -> Response:
    # The service answers an oversized body without an error type, so boto3 reports code "413".
    return Response(413, {"message": message}, headers={"x-amzn-RequestId": str(uuid.uuid4())})


def _model_error(emulator: Emulator, endpoint: str, status: int, container_body: Any) -> Response:
    original = (
        container_body.decode("utf-8", "replace")
        if isinstance(container_body, bytes)
        else json.dumps(container_body, separators=(",", ":"))
    )
    kind = "client" if status < 500 else "server"
    account = emulator.state.get("sagemaker.account", ACCOUNT)
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f'Received {kind} error ({status}) from primary with message "{original}". See '
        f"https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#logEventViewer:group={log_group} "
        f"in account {account} for more information."
    )
    return Response(
        424,
        {
            "Message": message,
            "OriginalStatusCode": status,
            "OriginalMessage": original,
            "LogStreamArn": f"arn:aws:logs:us-west-2:{account}:log-group:{log_group}",
        },
        headers={"x-amzn-ErrorType": "ModelError:", "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _tei_error(status: int, message: str, kind: str) -> tuple[int, Any]:
    return status, {"error": message, "error_type": kind}


def tei(emulator: Emulator, body: Any) -> tuple[int, Any]:
    """Hugging Face TEI's ``/rerank``: sorted ``[{index, score}]``; logits with ``raw_scores``."""
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("query"), str)
        or not isinstance(body.get("texts"), list)
    ):
        return _tei_error(422, "Failed to deserialize the JSON body into the target type", "Validation")
    texts = body["texts"]
    if not texts:
        return _tei_error(400, "`texts` cannot be empty", "Empty")
    limit = emulator.state.get("sagemaker.max_batch_size", TEI_MAX_BATCH_SIZE)
    if len(texts) > limit:
        return _tei_error(422, f"batch size {len(texts)} > maximum allowed batch size {limit}", "Validation")
    ranked = emulator.ranked(body["query"], [str(text) for text in texts])
    raw = bool(body.get("raw_scores"))
    return 200, [{"index": index, "score": _logit(score) if raw else score} for index, score in ranked]


def _toolkit_error(message: str) -> tuple[int, Any]:
    # The toolkit answers every failure of the pipeline with 400.
    return 400, {"code": 400, "type": "InternalServerException", "message": message}


def hf_text_classification(emulator: Emulator, body: Any) -> tuple[int, Any]:
    """The HF inference toolkit's text-classification task: labels per pair, input order."""
    pairs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(pairs, list) or not all(isinstance(pair, dict) and "text" in pair for pair in pairs):
        return _toolkit_error("inputs must be a list of text pairs")
    if not pairs:
        return _toolkit_error("inputs cannot be empty")
    parameters = body.get("parameters")
    listed = isinstance(parameters, dict) and "top_k" in parameters
    top_k = parameters.get("top_k") if isinstance(parameters, dict) else None
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
        return _toolkit_error("top_k must be an integer or null")
    labels = emulator.state.get("sagemaker.labels", ["LABEL_0"])
    answer: list[Any] = []
    for pair in pairs:
        # A reranker scores each pair on its own, so score pair by pair with its own query.
        relevance = emulator.score(str(pair["text"]), [str(pair.get("text_pair", ""))])[0]
        ranked = _label_scores(labels, relevance)
        # Without top_k the pipeline answers each input's top label alone, not in a list.
        answer.append(ranked[:top_k] if listed else ranked[0])
    return 200, answer


def _label_scores(labels: list[str], relevance: float) -> list[dict[str, Any]]:
    """Each label's score for a pair, best first: the last label is "relevant"."""
    if len(labels) == 1:
        return [{"label": labels[0], "score": relevance}]
    rest = (1.0 - relevance) / (len(labels) - 1)
    scores = [{"label": label, "score": rest} for label in labels[:-1]]
    scores.append({"label": labels[-1], "score": relevance})
    return sorted(scores, key=lambda item: -item["score"])


def hf_sentence_ranking(emulator: Emulator, body: Any) -> tuple[int, Any]:
    """The HF inference toolkit's sentence-ranking task, query form and pairs form."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if isinstance(inputs, dict) and isinstance(inputs.get("texts"), list) and inputs["texts"]:
        ranked = emulator.ranked(str(inputs.get("query", "")), [str(text) for text in inputs["texts"]])
        return 200, {"scores": [{"index": index, "score": score} for index, score in ranked]}
    if (
        isinstance(inputs, list)
        and inputs
        and all(isinstance(pair, list) and len(pair) == 2 for pair in inputs)
    ):
        return 200, {"scores": [emulator.score(str(query), [str(text)])[0] for query, text in inputs]}
    return _toolkit_error("inputs must hold a query and texts")


CONTAINERS: dict[str, Container] = {
    "tei": tei,
    "hf-text-classification": hf_text_classification,
    "hf-sentence-ranking": hf_sentence_ranking,
}


def _by_shape(body: Any) -> Container:
    if isinstance(body, dict) and "texts" in body:
        return tei
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
        return hf_text_classification
    return hf_sentence_ranking


def _logit(probability: float) -> float:
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    return round(math.log(clipped / (1 - clipped)), 6)


def handle_invocation(emulator: Emulator, request: Request) -> Response:
    endpoint = request.match["name"] if request.match else ""
    account = emulator.state.get("sagemaker.account", ACCOUNT)
    known = emulator.state.get("sagemaker.endpoints")
    if known is not None and endpoint not in known:
        return error(400, "ValidationError", f"Endpoint {endpoint} of account {account} not found.")
    if len(request.body) > MAX_BODY_BYTES:
        return _too_large(f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.")
    chosen = emulator.state.get("sagemaker.formats", {}).get(endpoint)
    try:
        body: Any = json.loads(request.body)
    except ValueError:
        if not callable(chosen):
            return _model_error(
                emulator, endpoint, 400, {"error": "invalid JSON body", "error_type": "Validation"}
            )
        body = request.body  # a custom container may speak something other than JSON
    container: Container = CONTAINERS[chosen] if isinstance(chosen, str) else chosen or _by_shape(body)
    status, answer = container(emulator, body)
    if status >= 400:
        return _model_error(emulator, endpoint, status, answer)
    headers = {
        "x-Amzn-Invoked-Production-Variant": request.header("X-Amzn-SageMaker-Target-Variant") or "AllTraffic"
    }
    if isinstance(answer, bytes):
        return Response(200, raw=answer, headers={**headers, "Content-Type": "text/plain"})
    return Response(200, answer, headers=headers)


ROUTES = [
    Route(VENDOR, "POST", SAGEMAKER.paths[0].replace("{name}", "(?P<name>[^/]+)"), handle_invocation, error)
]
