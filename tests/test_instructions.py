"""Task instructions, one option for every backend: passed each model's own way, refused at
construction by a model that takes none, and part of what a backend says it is (``describe()``,
``backend.instruction``), so a score cache can tell scores under different instructions apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from multirerank import ConfigurationError, Reranker
from multirerank.backends.http_api import HTTPBackend
from multirerank.testing import Emulator
from tests.emulator_support import emulator_fixtures
from tests.http_support import EMULATOR_ROUTES, QUERY, SETUPS, TEXTS, http_options

server, emulator = emulator_fixtures(routes=EMULATOR_ROUTES)

INSTRUCTION = "Prefer passages about rooftop installations."


def only_body(emulator: Emulator, api_format: str) -> dict[str, Any]:
    (request,) = emulator.requests_to(f"^{SETUPS[api_format]['path']}$")
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_voyage_writes_the_instruction_into_the_query(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "voyage", instruction=INSTRUCTION))
    with Reranker(backend) as rr:
        response = rr.rerank(QUERY, TEXTS)
    assert only_body(emulator, "voyage")["query"] == f"{INSTRUCTION}\n{QUERY}"
    assert backend.instruction == INSTRUCTION
    assert response.metadata["instruction"] == INSTRUCTION


def test_fireworks_sends_it_as_task(emulator: Emulator) -> None:
    with Reranker(HTTPBackend(**http_options(emulator, "fireworks", instruction=INSTRUCTION))) as rr:
        rr.rerank(QUERY, TEXTS)
    body = only_body(emulator, "fireworks")
    assert body["task"] == INSTRUCTION and body["query"] == QUERY


async def test_deepinfra_sends_it_as_instruction(emulator: Emulator) -> None:
    async with Reranker(HTTPBackend(**http_options(emulator, "deepinfra", instruction=INSTRUCTION))) as rr:
        await rr.arerank(QUERY, TEXTS)
    body = only_body(emulator, "deepinfra")
    assert body["instruction"] == INSTRUCTION and body["queries"] == [QUERY] * len(TEXTS)


def test_qwen3_reranker_on_vllm_gets_its_prompt(emulator: Emulator) -> None:
    model = "Qwen/Qwen3-Reranker-0.6B"
    emulator.state["vllm.model"] = model
    with Reranker(HTTPBackend(**http_options(emulator, "vllm", model=model, instruction=INSTRUCTION))) as rr:
        response = rr.rerank(QUERY, TEXTS)
    (request,) = emulator.requests
    body = json.loads(request.body)
    assert f"<Instruct>: {INSTRUCTION}\n<Query>: {QUERY}\n" in body["query"]
    assert body["query"].startswith("<|im_start|>system\n")
    assert [text.startswith("<Document>: ") for text in body["documents"]] == [True] * len(TEXTS)
    assert all(TEXTS[n] in text and text.endswith("</think>\n\n") for n, text in enumerate(body["documents"]))
    # Indices still point into the caller's list.
    assert sorted(result.index for result in response) == list(range(len(TEXTS)))


@pytest.mark.parametrize(
    ("api_format", "extra", "named"),
    [
        ("cohere", {}, "rerank-v3.5"),
        ("jina", {}, "jina-reranker-v2-base-multilingual"),
        ("tei", {}, "tei"),
        ("mixedbread", {}, "mxbai-rerank-large-v2"),
        ("pinecone", {}, "bge-reranker-v2-m3"),
        ("nvidia", {}, "llama-nemotron-rerank-1b-v2"),
        ("together", {}, "Llama-Rank-V1"),
        ("openrouter", {}, "cohere/rerank-v3.5"),
        ("azure-cohere", {}, "Cohere-rerank-v4.0-pro"),
        ("voyage", {"model": "rerank-2"}, "rerank-2"),
        ("vllm", {"model": "BAAI/bge-reranker-v2-m3"}, "bge-reranker-v2-m3"),
        # Hosts of instruction-following models also serve ones that read none.
        ("fireworks", {"model": "accounts/fireworks/models/bge-reranker-v2-m3"}, "bge-reranker-v2-m3"),
        ("deepinfra", {"model": "BAAI/bge-reranker-v2-m3"}, "bge-reranker-v2-m3"),
    ],
)
def test_a_model_without_instructions_refuses_one_at_construction(
    emulator: Emulator, api_format: str, extra: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match="takes no instruction") as caught:
        HTTPBackend(**http_options(emulator, api_format, instruction=INSTRUCTION, **extra))
    assert named in str(caught.value) or api_format in str(caught.value)
    assert emulator.requests == []


@pytest.mark.parametrize(
    "model", ["bedrock/cohere.rerank-v3-5:0", "sagemaker/my-endpoint", "watsonx/ibm/slate"]
)
def test_model_strings_of_vendors_without_instructions_refuse_one(model: str) -> None:
    with pytest.raises(ConfigurationError, match="takes no instruction"):
        Reranker(model, instruction=INSTRUCTION)


def test_reranker_takes_instruction_with_a_model_string(emulator: Emulator) -> None:
    with Reranker(
        "voyage/rerank-2.5-lite", base_url=emulator.url + "/voyage", api_key="k", instruction=INSTRUCTION
    ) as rr:
        rr.rerank(QUERY, TEXTS)
        assert rr.backend.instruction == INSTRUCTION
    assert only_body(emulator, "voyage")["query"].startswith(INSTRUCTION)


def test_no_instruction_reads_as_none_and_is_not_described(emulator: Emulator) -> None:
    backend = HTTPBackend(**http_options(emulator, "cohere"))
    assert backend.instruction is None and "instruction" not in backend.describe()
    assert (
        Reranker(
            "bedrock/cohere.rerank-v3-5:0", instruction=None, region_name="us-west-2"
        ).backend.instruction
        is None
    )


def test_the_instruction_tells_two_backends_apart(emulator: Emulator) -> None:
    first = HTTPBackend(**http_options(emulator, "voyage", instruction="one"))
    second = HTTPBackend(**http_options(emulator, "voyage", instruction="two"))
    assert first.describe() != second.describe()


# -- framework classes -------------------------------------------------------------------------


def test_every_framework_class_has_the_field() -> None:
    from multirerank.settings import VENDOR_CLASSES, RerankSettings

    assert "instruction" in RerankSettings.model_fields
    from langchain_multirerank import rerankers

    for name in VENDOR_CLASSES:
        assert "instruction" in getattr(rerankers, name).model_fields, name


def test_framework_classes_pass_it_on_or_refuse_it(emulator: Emulator) -> None:
    from langchain_multirerank import MultiRerank, VoyageRerank

    voyage = VoyageRerank(api_key="k", base_url=emulator.url + "/voyage", instruction=INSTRUCTION)
    assert voyage.reranker.backend.instruction == INSTRUCTION
    routed = MultiRerank(
        model="voyage/rerank-2.5",
        instruction=INSTRUCTION,
        backend_options={"api_key": "k", "base_url": emulator.url + "/voyage"},
    )
    assert routed.reranker.backend.instruction == INSTRUCTION
    with pytest.raises(ConfigurationError, match="takes no instruction"):
        MultiRerank(model="cohere/rerank-v3.5", instruction=INSTRUCTION, backend_options={"api_key": "k"})
    with pytest.raises(ConfigurationError, match="takes no instruction"):
        VoyageRerank(api_key="k", model="rerank-2", instruction=INSTRUCTION)


def test_a_framework_class_of_a_vendor_without_instructions_refuses_one() -> None:
    from llama_index_multirerank import BedrockRerank

    with pytest.raises(ConfigurationError, match="BedrockRerank takes no instruction"):
        BedrockRerank(model_id="cohere.rerank-v3-5:0", region_name="us-west-2", instruction=INSTRUCTION)


def test_dashscope_takes_instruction_and_its_older_name() -> None:
    from langchain_multirerank import DashScopeRerank

    for given in ({"instruction": INSTRUCTION}, {"instruct": INSTRUCTION}):
        reranker = DashScopeRerank(api_key="k", model="qwen3-rerank", **given)
        backend = reranker.reranker.backend
        assert backend.instruction == INSTRUCTION == backend.instruct  # type: ignore[attr-defined]
        assert backend.describe()["instruction"] == INSTRUCTION
        assert reranker.instruction == INSTRUCTION
    with pytest.raises(ConfigurationError, match="takes no instruct"):
        DashScopeRerank(api_key="k", model="gte-rerank-v2", instruction=INSTRUCTION)
    assert (
        Reranker("dashscope/qwen3-rerank", api_key="k", instruction=INSTRUCTION).backend.instruction
        == INSTRUCTION
    )


def test_the_instruction_is_part_of_the_score_identity(emulator: Emulator) -> None:
    from langchain_multirerank import DashScopeRerank

    plain = HTTPBackend(**http_options(emulator, "voyage"))
    first = HTTPBackend(**http_options(emulator, "voyage", instruction="one"))
    second = HTTPBackend(**http_options(emulator, "voyage", instruction="two"))
    assert "instruction" not in plain.score_identity()
    assert first.score_identity()["instruction"] == "one"
    assert first.score_identity() != second.score_identity()
    dashscope = DashScopeRerank(api_key="k", model="qwen3-rerank", instruct="three").reranker.backend
    assert dashscope.score_identity()["instruction"] == "three"


@pytest.mark.parametrize(
    "model", ["fireworks/accounts/fireworks/models/qwen3-reranker-4b", "deepinfra/Qwen/Qwen3-Reranker-4B"]
)
def test_qwen3_rerankers_the_data_does_not_list_take_an_instruction(model: str) -> None:
    with Reranker(model, api_key="k", instruction=INSTRUCTION) as rr:
        assert rr.backend.instruction == INSTRUCTION


@pytest.mark.parametrize(
    "fallback",
    [
        {"model": "cohere/rerank-v3.5", "api_key": "k"},  # takes none
        {"model": "voyage/rerank-2.5-lite", "api_key": "k"},  # takes one, not given it
        {"model": "voyage/rerank-2.5-lite", "api_key": "k", "instruction": "another"},
    ],
)
def test_a_fallback_that_would_drop_the_instruction_is_refused(
    emulator: Emulator, fallback: dict[str, Any]
) -> None:
    """A fallback taking over scored without the first model's instruction, silently."""
    fallback = {**fallback, "base_url": emulator.url + "/" + fallback["model"].split("/")[0]}
    with pytest.raises(ConfigurationError, match=r"^fallbacks\[0\] \((cohere|voyage)/rerank-.*instruction"):
        Reranker(
            "voyage/rerank-2.5",
            api_key="k",
            base_url=emulator.url + "/voyage",
            instruction=INSTRUCTION,
            fallbacks=[fallback],
        )
    same = {"model": "voyage/rerank-2.5-lite", "api_key": "k", "base_url": emulator.url + "/voyage"}
    same["instruction"] = INSTRUCTION
    with Reranker(
        "voyage/rerank-2.5",
        api_key="k",
        base_url=emulator.url + "/voyage",
        instruction=INSTRUCTION,
        fallbacks=[same],
    ) as rr:
        assert len(rr.rerank(QUERY, TEXTS)) == len(TEXTS)
    assert emulator.requests_to("/voyage/v1/rerank")
