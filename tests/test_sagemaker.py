"""SageMaker reranker endpoints through real boto3 clients pointed at the wire emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from langchain_multirerank import MultiRerank, SageMakerRerank
from llama_index_multirerank import SageMakerRerank as LlamaSageMakerRerank
from multirerank.backends.sagemaker import (
    MAX_BODY_BYTES,
    PAYLOAD_FORMATS,
    PayloadFormat,
    SageMakerOptions,
    register_payload_format,
)
from multirerank.engine import Reranker
from multirerank.errors import (
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankInputError,
    ThrottledError,
)
from multirerank.testing import Emulator
from multirerank.testing.sagemaker import hf_text_classification, tei
from tests.aws_support import (
    QUERY,
    client_settings,
    corpus,
    expected_order,
    isolated_aws_env,  # noqa: F401 (autouse)
    plain_client,
    pointwise_scorer,
)
from tests.emulator_support import emulator_fixtures

ENDPOINT = "bge-reranker"

server, emu = emulator_fixtures("emu", scorer=pointwise_scorer)


def settings(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    return {**client_settings(endpoint_name=ENDPOINT, base_url=emu.url), **overrides}


def reranker(emu: Emulator, *, max_retries: int | None = None, **overrides: Any) -> Reranker:
    """``max_retries=None`` keeps the backend's own engine retries."""
    return Reranker(SageMakerOptions(**settings(emu, **overrides)).build_backend(), max_retries=max_retries)


def invocations(emu: Emulator, endpoint: str = ENDPOINT) -> list[Any]:
    return emu.requests_to(rf"^/endpoints/{endpoint}/invocations$")


# -- payload formats -----------------------------------------------------------------------------

FORMAT_BODIES: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "tei": lambda body: (body["query"], body["texts"], body["raw_scores"], body["return_text"]),
    "hf-text-classification": lambda body: (
        body["inputs"][0]["text"],
        [pair["text_pair"] for pair in body["inputs"]],
    ),
    "hf-sentence-ranking": lambda body: (body["inputs"]["query"], body["inputs"]["texts"]),
}


@pytest.mark.parametrize("payload_format", sorted(FORMAT_BODIES))
def test_each_stock_format_over_the_32_document_limit(emu: Emulator, payload_format: str) -> None:
    texts = corpus(70)
    documents = [Document(page_content=text, id=f"d{i}", metadata={"n": i}) for i, text in enumerate(texts)]
    compressor = SageMakerRerank(**settings(emu, payload_format=payload_format), top_n=5)
    result = compressor.compress_documents(documents, QUERY)
    assert [document.metadata["n"] for document in result] == expected_order(emu, texts, 5)
    requests = invocations(emu)
    assert len(requests) == 3
    # Requests run concurrently: put them back in list order by their first text.
    unpacked = sorted(
        (FORMAT_BODIES[payload_format](request.json()) for request in requests),
        key=lambda parts: texts.index(parts[1][0]),
    )
    assert all(parts[0] == QUERY for parts in unpacked)
    assert [len(parts[1]) for parts in unpacked] == [24, 23, 23]
    assert [text for parts in unpacked for text in parts[1]] == texts
    assert all(request.header("Content-Type") == "application/json" for request in requests)


def test_tei_body_asks_for_probabilities_without_texts(emu: Emulator) -> None:
    reranker(emu).rerank(QUERY, ["solar panel", "wind"])
    assert invocations(emu)[0].json() == {
        "query": QUERY,
        "texts": ["solar panel", "wind"],
        "raw_scores": False,
        "return_text": False,
    }


def test_raw_scores_are_logits(emu: Emulator) -> None:
    engine = reranker(emu, raw_scores=True, truncate=True)
    response = engine.rerank(QUERY, ["solar battery storage", "wind"])
    assert response.score_scale == "logit"
    assert response.results[0].relevance_score > 1.0
    body = invocations(emu)[0].json()
    assert body["raw_scores"] is True and body["truncate"] is True


def test_truncate_for_the_text_classification_task(emu: Emulator) -> None:
    reranker(emu, payload_format="hf-text-classification", truncate=True).rerank(QUERY, ["solar"])
    assert invocations(emu)[0].json()["parameters"] == {"truncation": True}


# -- text classification with several labels ----------------------------------------------------

TWO_LABELS = ["LABEL_0", "LABEL_1"]


def classify(emu: Emulator, body: dict[str, Any]) -> Any:
    client = plain_client("sagemaker-runtime", emu)
    answer = client.invoke_endpoint(EndpointName=ENDPOINT, Body=json.dumps(body))
    return json.loads(answer["Body"].read())


def test_emulator_answers_the_top_label_or_every_label(emu: Emulator) -> None:
    emu.state["sagemaker.labels"] = TWO_LABELS
    pairs = [{"text": QUERY, "text_pair": "solar battery storage"}, {"text": QUERY, "text_pair": "wind"}]
    relevant, irrelevant = pointwise_scorer(QUERY, ["solar battery storage", "wind"])
    top = classify(emu, {"inputs": pairs})
    assert top == [
        {"label": "LABEL_1", "score": relevant},
        {"label": "LABEL_0", "score": pytest.approx(1 - irrelevant)},
    ]
    every = classify(emu, {"inputs": pairs, "parameters": {"top_k": None}})
    assert [[label["label"] for label in labels] for labels in every] == [
        ["LABEL_1", "LABEL_0"],
        ["LABEL_0", "LABEL_1"],
    ]
    assert classify(emu, {"inputs": pairs[:1], "parameters": {"top_k": 1}}) == [[top[0]]]


def test_positive_label_ranks_by_that_labels_score(emu: Emulator) -> None:
    emu.state["sagemaker.labels"] = TWO_LABELS
    texts = corpus(40)
    compressor = SageMakerRerank(
        **settings(emu, payload_format="hf-text-classification", positive_label="LABEL_1", truncate=True),
        top_n=None,
    )
    result = compressor.rerank(texts, QUERY)
    assert [item["index"] for item in result] == expected_order(emu, texts, None)
    assert [item["relevance_score"] for item in result] == [score for _, score in emu.ranked(QUERY, texts)]
    bodies = [request.json() for request in invocations(emu)]
    assert all(body["parameters"] == {"top_k": None, "truncation": True} for body in bodies)


def test_without_positive_label_a_single_output_model_is_read_as_before(emu: Emulator) -> None:
    texts = corpus(10)
    result = reranker(emu, payload_format="hf-text-classification").rerank(QUERY, texts)
    assert [item.index for item in result] == expected_order(emu, texts, None)
    assert "parameters" not in invocations(emu)[0].json()


def test_a_positive_label_the_model_lacks_is_malformed(emu: Emulator) -> None:
    emu.state["sagemaker.labels"] = TWO_LABELS
    engine = reranker(emu, payload_format="hf-text-classification", positive_label="relevant")
    with pytest.raises(
        MalformedResponseError, match=r"no score for positive_label 'relevant' \(labels answered: LABEL_"
    ):
        engine.rerank(QUERY, ["solar", "wind"])


def test_a_container_answering_only_the_top_label_is_malformed(emu: Emulator) -> None:
    """A container that ignores top_k answers "not relevant" alone for an irrelevant text."""
    emu.state["sagemaker.labels"] = TWO_LABELS
    emu.state["sagemaker.formats"] = {
        ENDPOINT: lambda emulator, body: hf_text_classification(emulator, {"inputs": body["inputs"]})
    }
    engine = reranker(emu, payload_format="hf-text-classification", positive_label="LABEL_1")
    with pytest.raises(MalformedResponseError, match=r"item 1 has no score for .*labels answered: LABEL_0\)"):
        engine.rerank(QUERY, ["solar battery storage", "wind"])


def test_a_blank_positive_label_is_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="positive_label must name one of the model's labels"):
        SageMakerRerank(**settings(emu, payload_format="hf-text-classification", positive_label=" "))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"positive_label": "LABEL_1"},
            "positive_label works with payload_format='hf-text-classification' only",
        ),
        (
            {"payload_format": "hf-text-classification", "positive_label": "LABEL_1", "raw_scores": True},
            "positive_label cannot be combined with raw_scores",
        ),
    ],
)
def test_positive_label_with_the_wrong_options_is_refused(
    emu: Emulator, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SageMakerRerank(**settings(emu, **options))
    model_options = settings(emu, **options)
    model_options.pop("endpoint_name")
    with pytest.raises(ConfigurationError, match=message):
        MultiRerank(model=f"sagemaker/{ENDPOINT}", backend_options=model_options)


def test_an_option_the_format_lacks_is_a_configuration_error(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="'hf-sentence-ranking' does not support raw_scores"):
        SageMakerOptions(
            **settings(emu, payload_format="hf-sentence-ranking", raw_scores=True)
        ).build_backend()
    with pytest.raises(ValueError, match="unknown payload_format 'nope'"):
        SageMakerRerank(**settings(emu, payload_format="nope"))


def pairs_container(emulator: Emulator, body: Any) -> tuple[int, Any]:
    """A custom inference script: ``{"text_pairs": [[q, d], ...]}`` -> ``{"scores": [...]}``."""
    return 200, {"scores": [emulator.score(query, [text])[0] for query, text in body["text_pairs"]]}


TEXT_PAIRS = PayloadFormat(
    name="text-pairs",
    build=lambda query, texts: {"text_pairs": [[query, text] for text in texts]},
    parse=lambda answer, count: enumerate(answer["scores"]),
)


def test_custom_format_functions(emu: Emulator) -> None:
    emu.state["sagemaker.formats"] = {"custom-ep": pairs_container}
    texts = corpus(40)
    compressor = SageMakerRerank(
        **settings(emu, endpoint_name="custom-ep", payload_format=TEXT_PAIRS), top_n=None
    )
    result = compressor.rerank(texts, QUERY)
    assert [item["index"] for item in result] == expected_order(emu, texts, None)
    assert [len(request.json()["text_pairs"]) for request in invocations(emu, "custom-ep")] == [20, 20]


def test_custom_format_of_plain_text(emu: Emulator) -> None:
    """A container speaking tab-separated text: bytes out, raw bytes back."""

    def tsv_container(emulator: Emulator, body: Any) -> tuple[int, Any]:
        query, *texts = body.decode().split("\n")
        return 200, "\n".join(str(score) for score in emulator.score(query, texts)).encode()

    emu.state["sagemaker.formats"] = {"tsv-ep": tsv_container}
    tsv = PayloadFormat(
        name="tsv",
        build=lambda query, texts: "\n".join([query, *texts]),
        parse=lambda answer, count: enumerate(float(line) for line in answer.decode().split("\n")),
        content_type="text/plain",
        accept="text/plain",
        decode_json=False,
    )
    result = reranker(emu, endpoint_name="tsv-ep", payload_format=tsv).rerank(
        QUERY, ["wind", "solar battery"]
    )
    assert [item.index for item in result] == [1, 0]
    assert invocations(emu, "tsv-ep")[0].header("Content-Type") == "text/plain"


def test_registered_format_by_name_in_a_model_string(emu: Emulator) -> None:
    emu.state["sagemaker.formats"] = {"custom-ep": pairs_container}
    register_payload_format(TEXT_PAIRS)
    try:
        options = settings(emu, payload_format="text-pairs")
        options.pop("endpoint_name")
        compressor = MultiRerank(model="sagemaker/custom-ep", backend_options=options, top_n=1)
        assert compressor.rerank(["wind", "solar battery"], QUERY) == [
            {"index": 1, "relevance_score": pointwise_scorer(QUERY, ["solar battery"])[0]}
        ]
    finally:
        PAYLOAD_FORMATS.pop("text-pairs")


def test_a_custom_parser_that_breaks_is_a_malformed_answer(emu: Emulator) -> None:
    emu.state["sagemaker.formats"] = {"custom-ep": pairs_container}
    broken = PayloadFormat(name="broken", build=TEXT_PAIRS.build, parse=lambda answer, count: answer["nope"])
    with pytest.raises(MalformedResponseError, match="KeyError"):
        reranker(emu, endpoint_name="custom-ep", payload_format=broken).rerank(QUERY, ["solar"])


# -- limits --------------------------------------------------------------------------------------


def test_over_the_container_batch_limit_is_a_bad_request(emu: Emulator) -> None:
    with pytest.raises(BadRequestError) as caught:
        reranker(emu, max_documents_per_request=100).rerank(QUERY, corpus(70))
    error = caught.value
    assert (error.status, error.code, error.retryable) == (422, "ModelError", False)
    assert "batch size 70 > maximum allowed batch size 32" in str(error)


def test_a_larger_container_limit_can_be_used(emu: Emulator) -> None:
    emu.state["sagemaker.max_batch_size"] = 64
    result = reranker(emu, max_documents_per_request=64).rerank(QUERY, corpus(70), top_n=3)
    assert len(result) == 3
    assert [len(request.json()["texts"]) for request in invocations(emu)] == [35, 35]


def test_bodies_are_split_under_the_6_mib_limit(emu: Emulator) -> None:
    texts = [f"doc{i} " + ("solar " if i % 3 == 0 else "wind ") * 170_000 for i in range(10)]
    result = reranker(emu).rerank(QUERY, texts)
    assert sorted(item.index for item in result) == list(range(10))
    sizes = [len(request.body) for request in invocations(emu)]
    assert len(sizes) >= 2
    assert all(size <= MAX_BODY_BYTES for size in sizes)


def test_a_query_repeated_per_text_is_split_by_the_backend(emu: Emulator) -> None:
    query = "solar " * 17_000
    texts = [f"doc{i} " + "battery " * 12_750 for i in range(64)]
    result = reranker(emu, payload_format="hf-text-classification").rerank(query, texts)
    assert sorted(item.index for item in result) == list(range(64))
    sizes = [len(request.body) for request in invocations(emu)]
    assert len(sizes) == 4
    assert all(size <= MAX_BODY_BYTES for size in sizes)
    # The engine planned two requests; each was halved, and the usage counts what was sent.
    assert result.usage is not None and result.usage.requests == 4


def test_a_request_that_cannot_fit_is_refused_before_sending(emu: Emulator) -> None:
    with pytest.raises(RerankInputError, match="the query alone costs 6400258 bytes"):
        reranker(emu).rerank("q " * 3_200_000, ["solar"])
    padded = PayloadFormat(
        name="padded",
        build=lambda query, texts: {"query": query, "texts": texts, "padding": "x" * MAX_BODY_BYTES},
        parse=TEXT_PAIRS.parse,
    )
    with pytest.raises(BadRequestError, match="accepts at most 6291456"):
        reranker(emu, payload_format=padded).rerank(QUERY, ["solar"])
    assert invocations(emu) == []


def test_emulator_answers_an_oversized_body_like_the_service(emu: Emulator) -> None:
    client = plain_client("sagemaker-runtime", emu)
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"x" * (MAX_BODY_BYTES + 1))
    assert caught.value.response["Error"] == {
        "Code": "413",
        "Message": "HTTP content length exceeded 6291456 bytes.",
    }


# -- headers -------------------------------------------------------------------------------------


def test_target_headers_reach_the_wire(emu: Emulator) -> None:
    compressor = SageMakerRerank(
        **settings(emu),
        target_model="model-a.tar.gz",
        target_variant="variant-b",
        inference_component_name="reranker-ic",
        custom_attributes="trace=42",
    )
    compressor.rerank(["solar"], QUERY)
    request = invocations(emu)[0]
    assert request.header("X-Amzn-SageMaker-Target-Model") == "model-a.tar.gz"
    assert request.header("X-Amzn-SageMaker-Target-Variant") == "variant-b"
    assert request.header("X-Amzn-SageMaker-Inference-Component") == "reranker-ic"
    assert request.header("X-Amzn-SageMaker-Custom-Attributes") == "trace=42"
    assert request.header("Accept") == "application/json"


def test_unset_target_headers_are_not_sent(emu: Emulator) -> None:
    reranker(emu).rerank(QUERY, ["solar"])
    headers = {name.lower() for name in invocations(emu)[0].headers}
    assert not any(name.startswith("x-amzn-sagemaker-") for name in headers)


# -- errors (what every backend owes is in test_backend_contract.py) ------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (413, BadRequestError, False),
        (422, BadRequestError, False),
        (429, ThrottledError, True),
        (500, ProviderError, True),
        (503, ProviderError, True),
    ],
)
def test_container_errors_keep_the_container_status(
    emu: Emulator, status: int, kind: type[RerankError], retryable: bool
) -> None:
    emu.state["sagemaker.formats"] = {
        ENDPOINT: lambda emulator, body: (status, {"error": "boom", "error_type": "X"})
    }
    # The mapping alone: the engine's retries of these are tested below.
    with pytest.raises(kind) as caught:
        reranker(emu, max_retries=0).rerank(QUERY, ["solar"])
    error = caught.value
    assert type(error) is kind
    assert (error.provider, error.status, error.code, error.retryable) == (
        "sagemaker",
        status,
        "ModelError",
        retryable,
    )
    assert "boom" in str(error)


# -- retries: botocore's, and the engine's of what botocore leaves --------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_container_is_retried_by_the_engine(emu: Emulator, status: int) -> None:
    busy = iter([(status, {"error": "Model is overloaded", "error_type": "Overloaded"})])
    emu.state["sagemaker.formats"] = {
        ENDPOINT: lambda emulator, body: next(busy, None) or tei(emulator, body)
    }
    assert len(reranker(emu).rerank(QUERY, ["solar", "wind"])) == 2
    assert len(invocations(emu)) == 2


def test_a_container_rejecting_the_request_is_not_retried(emu: Emulator) -> None:
    emu.state["sagemaker.formats"] = {
        ENDPOINT: lambda emulator, body: (422, {"error": "bad", "error_type": "X"})
    }
    with pytest.raises(BadRequestError):
        reranker(emu).rerank(QUERY, ["solar"])
    assert len(invocations(emu)) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "ValidationError", BadRequestError),
        # botocore's to retry; the tests' client is told to make one attempt.
        (400, "ThrottlingException", ThrottledError),
        (500, "InternalFailure", ProviderError),
    ],
)
def test_what_the_engine_leaves_to_botocore_is_sent_once(
    emu: Emulator, status: int, code: str, kind: type[RerankError]
) -> None:
    emu.inject(status=status, code=code, message="it failed", vendor="sagemaker")
    with pytest.raises(kind):
        reranker(emu).rerank(QUERY, ["solar"])
    assert len(invocations(emu)) == 1


def test_legacy_retry_mode_keeps_model_not_ready_to_botocore(emu: Emulator) -> None:
    """Legacy mode retries any 429 itself; the engine must not multiply its attempts."""
    emu.inject(status=429, code="ModelNotReadyException", message="loading", vendor="sagemaker", times=2)
    config = Config(retries={"mode": "legacy", "total_max_attempts": 2})
    with pytest.raises(ThrottledError):
        reranker(emu, config=config).rerank(QUERY, ["solar"])
    assert len(invocations(emu)) == 2
    emu.inject(status=429, code="ModelNotReadyException", message="loading", vendor="sagemaker")
    assert len(reranker(emu, config=config).rerank(QUERY, ["solar"])) == 1
    assert len(invocations(emu)) == 4


def test_an_unknown_endpoint_is_not_found(emu: Emulator) -> None:
    emu.state["sagemaker.endpoints"] = {"other-endpoint"}
    with pytest.raises(NotFoundError, match=f"Endpoint {ENDPOINT} of account 123456789012 not found"):
        reranker(emu).rerank(QUERY, ["solar"])


def test_a_wrong_answer_shape_is_malformed(emu: Emulator) -> None:
    emu.state["sagemaker.formats"] = {ENDPOINT: lambda emulator, body: (200, {"scores": "none"})}
    with pytest.raises(MalformedResponseError, match="TEI answer is not a list"):
        reranker(emu).rerank(QUERY, ["solar"])


# -- LlamaIndex ----------------------------------------------------------------------------------


def nodes_for(texts: list[str]) -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(text=text, id_=f"node-{i}")) for i, text in enumerate(texts)]


def test_llama_index_postprocess(emu: Emulator) -> None:
    texts = corpus(70)
    postprocessor = LlamaSageMakerRerank(**settings(emu), top_n=4, metadata_mode="none")
    result = postprocessor.postprocess_nodes(nodes_for(texts), query_str=QUERY)
    assert [item.node.node_id for item in result] == [f"node-{i}" for i in expected_order(emu, texts, 4)]
    assert len(invocations(emu)) == 3


async def test_llama_index_apostprocess(emu: Emulator) -> None:
    texts = corpus(70)
    postprocessor = LlamaSageMakerRerank(
        **settings(emu, payload_format="hf-sentence-ranking"), top_n=4, metadata_mode="none"
    )
    result = await postprocessor.apostprocess_nodes(nodes_for(texts), query_str=QUERY)
    assert [item.node.node_id for item in result] == [f"node-{i}" for i in expected_order(emu, texts, 4)]
    assert postprocessor.class_name() == "MultirerankSageMakerRerank"


async def test_langchain_async(emu: Emulator) -> None:
    texts = corpus(70)
    compressor = SageMakerRerank(**settings(emu), top_n=None)
    result = await compressor.arerank(texts, QUERY)
    assert [item["index"] for item in result] == expected_order(emu, texts, None)
    assert compressor.reranker.backend.describe()["payload_format"] == "tei"
