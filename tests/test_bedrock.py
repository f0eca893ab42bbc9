"""Bedrock Rerank through real boto3 clients pointed at the wire emulator."""

from __future__ import annotations

import copy
import socket
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from langchain_multirerank import BedrockRerank, MultiRerank
from llama_index_multirerank import BedrockRerank as LlamaBedrockRerank
from llama_index_multirerank import MultiRerank as LlamaMultiRerank
from multirerank.backends.bedrock import BedrockOptions
from multirerank.engine import Reranker
from multirerank.errors import (
    AuthenticationError,
    ProviderError,
    RerankInputError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.testing import Emulator
from tests.aws_support import (
    QUERY,
    REGION,
    client_settings,
    corpus,
    expected_order,
    isolated_aws_env,  # noqa: F401 (autouse)
    plain_client,
    pointwise_scorer,
)
from tests.emulator_support import emulator_fixtures

MODEL_ID = "cohere.rerank-v3-5:0"
MODEL_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL_ID}"

server, emu = emulator_fixtures("emu", scorer=pointwise_scorer)


def settings(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=2, connect_timeout=2)
    return {**client_settings(model_arn=MODEL_ID, endpoint_url=emu.url, config=config), **overrides}


def reranker(emu: Emulator, **overrides: Any) -> Reranker:
    return Reranker(BedrockOptions(**settings(emu, **overrides)).build_backend())


def rerank_requests(emu: Emulator) -> list[dict[str, Any]]:
    return [request.json() for request in emu.requests_to(r"^/rerank$")]


def number_of_results(body: dict[str, Any]) -> int:
    return int(body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["numberOfResults"])


# -- 2,500 documents in one call of each adapter -------------------------------------------------


def check_split(emu: Emulator, count: int) -> None:
    bodies = rerank_requests(emu)
    assert len(bodies) == 3
    assert sorted(len(body["sources"]) for body in bodies) == [800, 800, 900]  # whole search units: 25, not 27
    assert sum(len(body["sources"]) for body in bodies) == count
    assert all(number_of_results(body) == 10 for body in bodies)


def test_langchain_compress_2500_documents(emu: Emulator) -> None:
    texts = corpus(2500)
    documents = [
        Document(page_content=text, id=f"doc-{i}", metadata={"n": i}) for i, text in enumerate(texts)
    ]
    before = copy.deepcopy(documents)
    compressor = BedrockRerank(**settings(emu), top_n=10)
    result = compressor.compress_documents(documents, QUERY)
    assert [document.metadata["n"] for document in result] == expected_order(emu, texts, 10)
    assert [document.id for document in result] == [f"doc-{i}" for i in expected_order(emu, texts, 10)]
    assert documents == before
    check_split(emu, 2500)


async def test_langchain_acompress_2500_documents(emu: Emulator) -> None:
    texts = corpus(2500)
    documents = [
        Document(page_content=text, id=f"doc-{i}", metadata={"n": i}) for i, text in enumerate(texts)
    ]
    compressor = BedrockRerank(**settings(emu), top_n=10)
    result = await compressor.acompress_documents(documents, QUERY)
    assert [document.metadata["n"] for document in result] == expected_order(emu, texts, 10)
    scores = [document.metadata["relevance_score"] for document in result]
    assert scores == sorted(scores, reverse=True)
    check_split(emu, 2500)


def nodes_for(texts: list[str]) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{i}"), score=0.5) for i, text in enumerate(texts)
    ]


def test_llama_index_postprocess_2500_nodes(emu: Emulator) -> None:
    texts = corpus(2500)
    nodes = nodes_for(texts)
    postprocessor = LlamaBedrockRerank(**settings(emu), top_n=10, metadata_mode="none")
    result = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    assert [item.node.node_id for item in result] == [f"node-{i}" for i in expected_order(emu, texts, 10)]
    assert all(item.score == 0.5 for item in nodes)
    check_split(emu, 2500)


async def test_llama_index_apostprocess_2500_nodes(emu: Emulator) -> None:
    texts = corpus(2500)
    postprocessor = LlamaBedrockRerank(**settings(emu), top_n=10, metadata_mode="none")
    result = await postprocessor.apostprocess_nodes(nodes_for(texts), query_str=QUERY)
    assert [item.node.node_id for item in result] == [f"node-{i}" for i in expected_order(emu, texts, 10)]
    check_split(emu, 2500)


# -- numberOfResults, all results, pages ---------------------------------------------------------


def test_top_n_none_returns_every_document(emu: Emulator) -> None:
    texts = corpus(1500)
    compressor = BedrockRerank(**settings(emu), top_n=None)
    result = compressor.rerank(texts, QUERY)
    assert [item["index"] for item in result] == expected_order(emu, texts, None)
    bodies = rerank_requests(emu)
    assert [number_of_results(body) for body in bodies] == [len(body["sources"]) for body in bodies]


def test_number_of_results_never_above_the_request_size(emu: Emulator) -> None:
    compressor = BedrockRerank(**settings(emu), top_n=50)
    result = compressor.rerank(["solar panel", "wind turbine", "battery storage"], QUERY)
    assert len(result) == 3
    assert number_of_results(rerank_requests(emu)[0]) == 3


def test_next_token_pages_are_followed(emu: Emulator) -> None:
    emu.state["bedrock.page_size"] = 4
    texts = corpus(10)
    result = reranker(emu).rerank(QUERY, texts)
    assert [item.index for item in result] == expected_order(emu, texts, None)
    bodies = rerank_requests(emu)
    assert len(bodies) == 3
    assert "nextToken" not in bodies[0]
    assert bodies[1]["nextToken"] and bodies[2]["nextToken"] != bodies[1]["nextToken"]
    assert result.usage is not None and result.usage.requests == 3


def test_usage_counts_every_page_of_every_split_request(emu: Emulator) -> None:
    emu.state["bedrock.page_size"] = 7
    texts = corpus(2500)
    result = reranker(emu).rerank(QUERY, texts, top_n=10)
    assert [item.index for item in result] == expected_order(emu, texts, 10)
    # Three requests of 800-900 documents, each answering its 10 results in pages of 7 and 3.
    assert len(rerank_requests(emu)) == 6
    assert result.usage is not None and result.usage.requests == 6


def test_emulator_refuses_a_forged_next_token(emu: Emulator) -> None:
    client = plain_client("bedrock-agent-runtime", emu)
    with pytest.raises(ClientError) as caught:
        client.rerank(**request_body(["a solar panel"]), nextToken="forged")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


# -- documents: JSON sources, long texts ---------------------------------------------------------


def test_dicts_become_json_sources_and_strings_text_sources(emu: Emulator) -> None:
    compressor = BedrockRerank(**settings(emu), top_n=None)
    documents: list[Any] = [
        "solar power",
        Document(page_content="battery storage"),
        {"title": "solar battery"},
    ]
    result = compressor.rerank(documents, QUERY)
    assert sorted(item["index"] for item in result) == [0, 1, 2]
    sources = [source["inlineDocumentSource"] for source in rerank_requests(emu)[0]["sources"]]
    assert sources == [
        {"type": "TEXT", "textDocument": {"text": "solar power"}},
        {"type": "TEXT", "textDocument": {"text": "battery storage"}},
        {"type": "JSON", "jsonDocument": {"title": "solar battery"}},
    ]


def test_a_document_over_32000_characters_is_rejected_naming_its_index(emu: Emulator) -> None:
    documents = ["solar panel", "x" * 32_001]
    with pytest.raises(RerankInputError, match=r"document at index 1 is 32001 characters.*truncate=True"):
        reranker(emu).rerank(QUERY, documents)
    assert emu.requests == []


def test_truncate_cuts_long_documents_to_the_limit(emu: Emulator) -> None:
    documents = ["solar panel", "battery " * 5000]
    original = list(documents)
    compressor = BedrockRerank(**settings(emu), truncate=True, top_n=None)
    result = compressor.rerank(documents, QUERY)
    assert sorted(item["index"] for item in result) == [0, 1]
    sent = rerank_requests(emu)[0]["sources"][1]["inlineDocumentSource"]["textDocument"]["text"]
    assert len(sent) == 32_000
    assert documents == original


def test_a_query_over_32000_characters_is_rejected(emu: Emulator) -> None:
    with pytest.raises(RerankInputError, match=r"query is 32001 characters"):
        reranker(emu).rerank("q" * 32_001, ["solar panel"])
    assert emu.requests == []


# -- additional model request fields -------------------------------------------------------------


def model_configuration(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["modelConfiguration"])


def test_additional_model_request_fields_reach_the_wire(emu: Emulator) -> None:
    compressor = BedrockRerank(**settings(emu), additional_model_request_fields={"max_tokens_per_doc": 512})
    compressor.rerank(["solar panel"], QUERY)
    compressor.rerank(["solar panel"], QUERY, additional_model_request_fields={"max_tokens_per_doc": 64})
    compressor.rerank(["solar panel"], QUERY)
    fields = [model_configuration(body).get("additionalModelRequestFields") for body in rerank_requests(emu)]
    assert fields == [{"max_tokens_per_doc": 512}, {"max_tokens_per_doc": 64}, {"max_tokens_per_doc": 512}]
    assert all(model_configuration(body)["modelArn"] == MODEL_ARN for body in rerank_requests(emu))


async def test_per_call_fields_work_async_and_unknown_options_fail(emu: Emulator) -> None:
    compressor = BedrockRerank(**settings(emu))
    await compressor.arerank(["solar panel"], QUERY, additional_model_request_fields={"priority": "high"})
    assert model_configuration(rerank_requests(emu)[0])["additionalModelRequestFields"] == {
        "priority": "high"
    }
    with pytest.raises(RerankInputError, match="unexpected options"):
        compressor.rerank(["solar panel"], QUERY, temperature=0.5)
    with pytest.raises(RerankInputError, match="additional_model_request_fields must be a dict"):
        compressor.rerank(["solar panel"], QUERY, additional_model_request_fields=["x"])


# -- errors (what every backend owes is in test_backend_contract.py) ------------------------------


def test_errors_surface_through_the_adapters(emu: Emulator) -> None:
    emu.inject(status=429, code="ThrottlingException", vendor="bedrock")
    with pytest.raises(ThrottledError):
        BedrockRerank(**settings(emu)).compress_documents([Document(page_content="solar")], QUERY)
    emu.inject(status=403, code="AccessDeniedException", vendor="bedrock")
    with pytest.raises(AuthenticationError):
        LlamaBedrockRerank(**settings(emu)).postprocess_nodes(nodes_for(["solar"]), query_str=QUERY)


def test_a_slow_answer_is_a_timeout(emu: Emulator) -> None:
    emu.inject(latency=1.5, vendor="bedrock")
    config = Config(retries={"total_max_attempts": 1}, read_timeout=0.5)
    with pytest.raises(RerankTimeoutError):
        reranker(emu, config=config).rerank(QUERY, ["solar panel"])


def test_an_unreachable_endpoint_is_a_provider_error(emu: Emulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ProviderError, match="connection to bedrock failed"):
        reranker(emu, endpoint_url=url).rerank(QUERY, ["solar panel"])


# -- the emulator's own limits (what the real service refuses) -----------------------------------


def request_body(texts: list[str], number: int | None = None, arn: str = MODEL_ARN) -> dict[str, Any]:
    configuration: dict[str, Any] = {"modelConfiguration": {"modelArn": arn}}
    if number is not None:
        configuration["numberOfResults"] = number
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": QUERY}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}}
            for t in texts
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": configuration,
        },
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (request_body(["doc"] * 1001), "less than or equal to 1000"),
        (request_body(["doc", "x" * 32_001]), "sources.2.member.inlineDocumentSource.textDocument.text"),
        (request_body(["doc", "doc"], number=3), "must not exceed the number of sources"),
        (request_body(["doc"], arn="arn:aws:bedrock:us-west-2:123456789012:inference-profile/x"), "modelArn"),
        (request_body(["doc"], arn="arn:aws:bedrock:us-east-1::foundation-model/x"), "does not match"),
    ],
)
def test_emulator_enforces_the_service_limits(emu: Emulator, body: dict[str, Any], message: str) -> None:
    client = plain_client("bedrock-agent-runtime", emu, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        client.rerank(**body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in caught.value.response["Error"]["Message"]


# -- model strings -------------------------------------------------------------------------------


def test_model_strings_reach_the_backend_in_both_frameworks(emu: Emulator) -> None:
    options = settings(emu)
    options.pop("model_arn")
    langchain = MultiRerank(model=f"bedrock/{MODEL_ID}", backend_options=options, top_n=2)
    assert [item["index"] for item in langchain.rerank(["wind", "solar battery storage"], QUERY)] == [1, 0]
    llama = LlamaMultiRerank(model=f"bedrock/{MODEL_ARN}", backend_options=options, top_n=1)
    assert (
        llama.postprocess_nodes(nodes_for(["wind", "solar battery"]), query_str=QUERY)[0].node.node_id
        == "node-1"
    )
    assert [model_configuration(body)["modelArn"] for body in rerank_requests(emu)] == [MODEL_ARN, MODEL_ARN]


# -- drop-in for langchain-aws -------------------------------------------------------------------


def test_same_answers_as_langchain_aws(emu: Emulator) -> None:
    from langchain_aws import BedrockRerank as LangchainAwsBedrockRerank

    client = plain_client("bedrock-agent-runtime", emu)
    theirs = LangchainAwsBedrockRerank(model_arn=MODEL_ARN, client=client)
    ours = BedrockRerank(
        model_arn=MODEL_ARN,
        region_name=REGION,
        base_url=emu.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    texts = corpus(40)
    mixed: list[Any] = [
        *texts[:20],
        *(Document(page_content=t) for t in texts[20:30]),
        {"title": "solar", "body": "battery"},
    ]
    assert ours.rerank(mixed, QUERY) == theirs.rerank(mixed, QUERY)
    assert ours.rerank(mixed, QUERY, top_n=7) == theirs.rerank(mixed, QUERY, top_n=7)
    documents = [
        Document(page_content=text, id=f"id-{i}", metadata={"source": f"s{i}", "tags": ["a", i]})
        for i, text in enumerate(texts)
    ]
    ours_documents = ours.compress_documents(documents, QUERY)
    theirs_documents = theirs.compress_documents(documents, QUERY)
    assert [(d.page_content, d.metadata, d.id) for d in ours_documents] == [
        (d.page_content, d.metadata, d.id) for d in theirs_documents
    ]
    assert len(ours_documents) == 3
