"""Voyage, Mixedbread, Pinecone, NVIDIA and the Cohere-style hosts through the HTTP backend.

What each vendor sends and reads that the shared contract (tests/test_backend_contract.py) does not
check: exact bodies and headers, usage, per-model limits, paths chosen by host, instructions, model
strings and environment variables. Everything runs against the emulator on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from multirerank import ConfigurationError, MalformedResponseError, Reranker
from multirerank.backends.http_api import HTTPBackend
from multirerank.backends.http_formats import API_FORMATS
from multirerank.testing import Emulator
from multirerank.testing.server import CORRUPTIONS
from tests.emulator_support import emulator_fixtures
from tests.http_support import (
    API_KEY,
    EMULATOR_ROUTES,
    FORMATS,
    MORE_FORMATS,
    QUERY,
    SETUPS,
    TEXTS,
    http_options,
)

server, emulator = emulator_fixtures(routes=EMULATOR_ROUTES)

#: What the emulator counts as tokens for QUERY and TEXTS (the query once per text, and the texts).
TOKENS = sum(len(QUERY.split()) + len(text.split()) for text in TEXTS)

KEY_VARIABLES = (
    "VOYAGE_API_KEY",
    "MXBAI_API_KEY",
    "PINECONE_API_KEY",
    "NVIDIA_API_KEY",
    "NVIDIA_BASE_URL",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "DEEPINFRA_API_KEY",
    "DEEPINFRA_TOKEN",
    "OPENROUTER_API_KEY",
    "AZURE_AI_API_KEY",
    "AZURE_INFERENCE_CREDENTIAL",
)


@pytest.fixture(autouse=True)
def no_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def backend(emulator: Emulator, api_format: str, **extra: Any) -> HTTPBackend:
    return HTTPBackend(**http_options(emulator, api_format, **extra))


def sent(emulator: Emulator, api_format: str) -> list[dict[str, Any]]:
    path = SETUPS[api_format]["path"]
    return [json.loads(request.body) for request in emulator.requests if request.path == path]


def headers(emulator: Emulator) -> dict[str, str]:
    return {key.lower(): value for key, value in emulator.requests[-1].headers.items()}


# -- bodies, headers and usage, vendor by vendor ---------------------------------------------------

#: What each format sends for QUERY, TEXTS and top_n=2 (beyond the model), and the usage it reports.
BODIES: dict[str, tuple[dict[str, Any], dict[str, int | None]]] = {
    "voyage": (
        {"query": QUERY, "documents": TEXTS, "model": "rerank-2.5", "top_k": 2},
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "mixedbread": (
        {"model": "mixedbread-ai/mxbai-rerank-large-v2", "query": QUERY, "input": TEXTS, "top_k": 2},
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "pinecone": (
        {
            "model": "bge-reranker-v2-m3",
            "query": QUERY,
            "documents": [{"text": text} for text in TEXTS],
            "rank_fields": ["text"],
            "return_documents": False,
            "top_n": 2,
        },
        {"total_tokens": None, "search_units": 1},
    ),
    "nvidia": (
        {
            "model": "nvidia/llama-nemotron-rerank-1b-v2",
            "query": {"text": QUERY},
            "passages": [{"text": text} for text in TEXTS],
            "truncate": "END",
        },
        {"total_tokens": None, "search_units": None},
    ),
    "together": (
        {
            "model": "Salesforce/Llama-Rank-V1",
            "query": QUERY,
            "documents": TEXTS,
            "return_documents": False,
            "top_n": 2,
        },
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "fireworks": (
        {
            "model": "fireworks/qwen3-reranker-8b",
            "query": QUERY,
            "documents": TEXTS,
            "return_documents": False,
            "top_n": 2,
        },
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "deepinfra": (
        {"queries": [QUERY] * len(TEXTS), "documents": TEXTS},
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "infinity": (
        {"query": QUERY, "documents": TEXTS, "return_documents": False, "raw_scores": False, "top_n": 2},
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "llamacpp": (
        {"query": QUERY, "documents": TEXTS, "top_n": 2},
        {"total_tokens": TOKENS, "search_units": None},
    ),
    "openrouter": (
        {"model": "cohere/rerank-v3.5", "query": QUERY, "documents": TEXTS, "top_n": 2},
        {"total_tokens": None, "search_units": 1},
    ),
    "azure-cohere": (
        {"model": "Cohere-rerank-v4.0-pro", "query": QUERY, "documents": TEXTS, "top_n": 2},
        {"total_tokens": None, "search_units": 1},
    ),
}


def test_every_new_format_has_its_body_checked() -> None:
    assert sorted(BODIES) == sorted(MORE_FORMATS)


@pytest.mark.parametrize("api_format", MORE_FORMATS)
async def test_each_vendor_gets_its_own_body_and_reports_its_usage(
    emulator: Emulator, api_format: str
) -> None:
    body, usage = BODIES[api_format]
    async with Reranker(backend(emulator, api_format)) as rr:
        response = rr.rerank(QUERY, TEXTS, top_n=2)
        again = await rr.arerank(QUERY, TEXTS, top_n=2)
    assert sent(emulator, api_format) == [body, body]
    assert [result.index for result in response] == [result.index for result in again]
    assert response.usage is not None
    assert {"total_tokens": response.usage.total_tokens, "search_units": response.usage.search_units} == usage
    assert response.usage.requests == 1


@pytest.mark.parametrize(
    "api_format", [name for name in MORE_FORMATS if "api_key" in SETUPS[name]["options"]]
)
def test_the_key_goes_in_the_vendors_header(emulator: Emulator, api_format: str) -> None:
    with Reranker(backend(emulator, api_format)) as rr:
        rr.rerank(QUERY, TEXTS)
    seen = headers(emulator)
    if api_format == "pinecone":
        assert seen["api-key"] == API_KEY and "authorization" not in seen
        assert seen["x-pinecone-api-version"] == "2025-10"
    else:
        assert seen["authorization"] == f"Bearer {API_KEY}"


def test_a_wrong_key_is_refused_by_each_emulated_vendor(emulator: Emulator) -> None:
    from multirerank import AuthenticationError

    for api_format in ("voyage", "pinecone", "nvidia", "deepinfra"):
        emulator.state[f"{api_format}.api_key"] = "the-right-one"
        with Reranker(backend(emulator, api_format)) as rr, pytest.raises(AuthenticationError) as caught:
            rr.rerank(QUERY, TEXTS)
        assert API_KEY not in str(caught.value)


# -- Pinecone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("bge-reranker-v2-m3", 100),
        ("pinecone-rerank-v0", 100),
        ("cohere-rerank-3.5", 200),
        ("cohere-rerank-4-fast", 250),
    ],
)
def test_pinecone_splits_at_each_models_own_limit(emulator: Emulator, model: str, limit: int) -> None:
    texts = [f"text {number} solar" for number in range(limit + 1)]
    with Reranker(backend(emulator, "pinecone", model=model)) as rr:
        response = rr.rerank(QUERY, texts, top_n=3)
    sizes = [len(body["documents"]) for body in sent(emulator, "pinecone")]
    assert len(sizes) == 2 and max(sizes) <= limit and sum(sizes) == limit + 1
    # The emulator bills a rerank unit per 100 documents of a request.
    assert response.usage is not None
    assert response.usage.search_units == sum(-(-size // 100) for size in sizes)


def test_pinecone_ranks_mapping_documents_on_rank_fields(emulator: Emulator) -> None:
    documents = [{"title": text, "body": "unrelated words"} for text in TEXTS]
    with Reranker(backend(emulator, "pinecone", rank_fields=["title"], truncate=False)) as rr:
        response = rr.rerank(QUERY, documents, top_n=2)
    (body,) = sent(emulator, "pinecone")
    assert body["documents"] == documents and body["rank_fields"] == ["title"]
    assert body["parameters"] == {"truncate": "NONE"}
    assert [result.index for result in response] == [index for index, _ in emulator.ranked(QUERY, TEXTS)[:2]]


def test_rank_fields_are_refused_where_the_vendor_has_none() -> None:
    with pytest.raises(ConfigurationError, match="rank_fields does not apply"):
        HTTPBackend(api_format="voyage", api_key="k", rank_fields=["title"])


# -- NVIDIA ----------------------------------------------------------------------------------------


def test_nvidia_catalog_path_is_the_models_own_and_needs_a_key() -> None:
    hosted = HTTPBackend(api_format="nvidia", model="nvidia/llama-3.2-nv-rerankqa-1b-v2", api_key="nvapi-x")
    assert hosted.describe()["path"] == "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"
    assert hosted.base_url == "https://ai.api.nvidia.com"
    assert hosted.score_scale == "logit"
    with pytest.raises(ConfigurationError, match="NVIDIA_API_KEY"):
        HTTPBackend(api_format="nvidia")


def test_a_self_hosted_nim_needs_no_key_and_answers_logits(emulator: Emulator) -> None:
    nim = HTTPBackend(api_format="nvidia", base_url=emulator.url + "/nvidia")
    assert nim.describe()["path"] == "/v1/ranking"
    with Reranker(nim) as rr:
        response = rr.rerank(QUERY, TEXTS, top_n=2)
    with Reranker(nim, normalize_scores=True) as rr:
        normalized = rr.rerank(QUERY, TEXTS, top_n=2)
    assert response.score_scale == "logit" and response.results[0].relevance_score > 1
    assert "authorization" not in headers(emulator)
    assert [result.relevance_score for result in normalized] == pytest.approx(
        [score for _, score in emulator.ranked(QUERY, TEXTS)[:2]], abs=1e-6
    )


def test_nvidia_base_url_comes_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NVIDIA_BASE_URL", emulator.url + "/nvidia")
    with Reranker("nvidia/llama-nemotron-rerank-1b-v2") as rr:
        rr.rerank(QUERY, TEXTS)
        assert rr.backend.model == "nvidia/llama-nemotron-rerank-1b-v2"
    assert emulator.requests[-1].path == "/nvidia/v1/ranking"
    monkeypatch.setenv("NVIDIA_BASE_URL", "ftp://nowhere")
    with pytest.raises(ConfigurationError, match="NVIDIA_BASE_URL"):
        Reranker("nvidia/llama-nemotron-rerank-1b-v2")


# -- DeepInfra, Infinity, Azure ----------------------------------------------------------------


def test_deepinfra_scores_in_input_order_are_ranked(emulator: Emulator) -> None:
    with Reranker(backend(emulator, "deepinfra")) as rr:
        response = rr.rerank(QUERY, TEXTS)
    assert [(r.index, r.relevance_score) for r in response] == emulator.ranked(QUERY, TEXTS)


def test_deepinfra_answer_with_the_wrong_count_is_malformed() -> None:
    parse = API_FORMATS["deepinfra"].parse_body
    from multirerank.backends.http_formats import WireRequest

    request = WireRequest(model="m", query="q", documents=["a", "b"], top_n=None)
    with pytest.raises(MalformedResponseError, match="1 values for 2 documents"):
        parse({"scores": [0.5]}, request)
    with pytest.raises(MalformedResponseError, match=r"scores\[1\] must be a number"):
        parse({"scores": [0.5, "x"]}, request)


def test_infinity_older_data_answers_are_read() -> None:
    from multirerank.backends.http_formats import WireRequest

    request = WireRequest(model=None, query="q", documents=["a", "b"], top_n=None)
    result = API_FORMATS["infinity"].parse_body(
        {"data": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]}, request
    )
    assert result.scores == [(1, 0.9), (0, 0.1)]


@pytest.mark.parametrize(
    ("base_url", "path"),
    [
        ("https://my-resource.services.ai.azure.com", "/providers/cohere/v2/rerank"),
        ("https://Cohere-rerank-v3-5-abc.eastus.models.ai.azure.com", "/v2/rerank"),
    ],
)
def test_azure_path_follows_the_kind_of_host(base_url: str, path: str) -> None:
    azure = Reranker("azure/Cohere-rerank-v4.0-pro", base_url=base_url, api_key="k").backend
    assert azure.describe()["path"] == path
    assert azure.provider == "azure"


def test_azure_needs_a_base_url() -> None:
    with pytest.raises(ConfigurationError, match="base_url is required"):
        Reranker("azure/Cohere-rerank-v4.0-pro", api_key="k")


# -- model strings and environment -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_string", "api_format", "model"),
    [
        ("voyage", "voyage", "rerank-2.5"),
        ("voyage/rerank-2.5-lite", "voyage", "rerank-2.5-lite"),
        ("mixedbread/mixedbread-ai/mxbai-rerank-base-v2", "mixedbread", "mixedbread-ai/mxbai-rerank-base-v2"),
        ("pinecone/cohere-rerank-3.5", "pinecone", "cohere-rerank-3.5"),
        ("nvidia/nvidia/llama-nemotron-rerank-1b-v2", "nvidia", "nvidia/llama-nemotron-rerank-1b-v2"),
        ("nvidia/llama-nemotron-rerank-1b-v2", "nvidia", "nvidia/llama-nemotron-rerank-1b-v2"),
        ("together/Salesforce/Llama-Rank-V1", "together", "Salesforce/Llama-Rank-V1"),
        ("fireworks/fireworks/qwen3-reranker-8b", "fireworks", "fireworks/qwen3-reranker-8b"),
        ("deepinfra/Qwen/Qwen3-Reranker-8B", "deepinfra", "Qwen/Qwen3-Reranker-8B"),
        ("openrouter/cohere/rerank-v3.5", "openrouter", "cohere/rerank-v3.5"),
    ],
)
def test_model_strings_name_each_vendor(model_string: str, api_format: str, model: str) -> None:
    built = Reranker(model_string, api_key="k").backend
    assert isinstance(built, HTTPBackend)
    assert (built.api_format.name, built.model) == (api_format, model)


@pytest.mark.parametrize(("model_string", "name"), [("infinity", "infinity"), ("llamacpp", "llamacpp")])
def test_self_hosted_servers_need_a_base_url(model_string: str, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"base_url is required for api_format {name!r}"):
        Reranker(model_string)
    assert Reranker(model_string, base_url="http://localhost:7997").backend.model == ""


@pytest.mark.parametrize(
    ("api_format", "variable"),
    [
        ("voyage", "VOYAGE_API_KEY"),
        ("mixedbread", "MXBAI_API_KEY"),
        ("pinecone", "PINECONE_API_KEY"),
        ("together", "TOGETHER_API_KEY"),
        ("fireworks", "FIREWORKS_API_KEY"),
        ("deepinfra", "DEEPINFRA_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
    ],
)
def test_keys_come_from_each_vendors_variable(
    monkeypatch: pytest.MonkeyPatch, api_format: str, variable: str
) -> None:
    model = {"openrouter": "cohere/rerank-v3.5"}.get(api_format, "m")
    with pytest.raises(ConfigurationError, match=variable):
        HTTPBackend(api_format=api_format, model=model)
    monkeypatch.setenv(variable, "from-env")
    assert "from-env" in [str(secret) for secret in HTTPBackend(api_format=api_format, model=model).secrets()]


def test_framework_classes_carry_the_vendor_defaults() -> None:
    from langchain_multirerank import MixedbreadRerank, NVIDIARerank, PineconeRerank, VoyageRerank

    voyage = VoyageRerank(api_key="voyage-secret", top_n=2)
    assert (voyage.api_format, voyage.model) == ("voyage", "rerank-2.5")
    assert MixedbreadRerank(api_key="k").model == "mixedbread-ai/mxbai-rerank-large-v2"
    assert PineconeRerank(api_key="k", model="cohere-rerank-3.5").reranker.backend.limits.max_documents == 200
    nim = NVIDIARerank(base_url="http://localhost:8000")
    assert nim.reranker.backend.score_scale == "logit"
    assert "voyage-secret" not in repr(voyage)
    with pytest.raises(ValueError):
        VoyageRerank(api_key="k", api_format="cohere")


@pytest.mark.parametrize(
    ("api_format", "truncate", "key", "value"),
    [
        ("voyage", False, "truncation", False),
        ("voyage", True, "truncation", True),
        ("nvidia", False, "truncate", "NONE"),
        ("nvidia", True, "truncate", "END"),
    ],
)
def test_truncate_is_sent_in_each_vendors_words(
    emulator: Emulator, api_format: str, truncate: bool, key: str, value: object
) -> None:
    with Reranker(backend(emulator, api_format, truncate=truncate)) as rr:
        rr.rerank(QUERY, TEXTS)
    (body,) = sent(emulator, api_format)
    assert body[key] == value


def test_mixedbread_ranks_mapping_documents_on_rank_fields(emulator: Emulator) -> None:
    documents = [{"title": text, "id": n} for n, text in enumerate(TEXTS)]
    with Reranker(backend(emulator, "mixedbread", rank_fields=["title"])) as rr:
        response = rr.rerank(QUERY, documents, top_n=2)
    (body,) = sent(emulator, "mixedbread")
    assert body["input"] == documents and body["rank_fields"] == ["title"]
    assert [result.index for result in response] == [index for index, _ in emulator.ranked(QUERY, TEXTS)[:2]]


# -- Cohere's limits: 10,000 documents, 2,048-token queries, v4/v5 models -------------------------

COHERE_FORMATS = ["cohere", "azure-cohere"]


@pytest.mark.parametrize("api_format", COHERE_FORMATS)
def test_cohere_requests_default_to_1000_and_go_up_to_10000(emulator: Emulator, api_format: str) -> None:
    assert backend(emulator, api_format).limits.max_documents == 1000
    documents = [f"{TEXTS[number % len(TEXTS)]} {number}" for number in range(2500)]
    with Reranker(backend(emulator, api_format, max_documents_per_request=10_000)) as reranker:
        response = reranker.rerank(QUERY, documents, top_n=3)
    assert [len(body["documents"]) for body in sent(emulator, api_format)] == [2500]
    assert response.usage is not None and response.usage.search_units == 25


@pytest.mark.parametrize("api_format", COHERE_FORMATS)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_cohere_sends_a_long_list_as_one_request_per_slot(
    emulator: Emulator, api_format: str, mode: str
) -> None:
    """Past max_concurrency requests of 1,000, larger requests in one round (whole search units)."""
    documents = [f"{TEXTS[number % len(TEXTS)]} {number}" for number in range(5001)]
    with Reranker(backend(emulator, api_format), max_concurrency=4) as reranker:
        if mode == "sync":
            response = reranker.rerank(QUERY, documents, top_n=3)
        else:
            response = await reranker.arerank(QUERY, documents, top_n=3)
    assert sorted(len(body["documents"]) for body in sent(emulator, api_format)) == [1101, 1300, 1300, 1300]
    assert response.usage is not None and response.usage.search_units == 51  # as one request would
    assert [result.index for result in response] == [
        index for index, _ in emulator.ranked(QUERY, documents)[:3]
    ]


@pytest.mark.parametrize("api_format", COHERE_FORMATS)
def test_a_request_size_set_by_the_user_is_kept_for_long_lists(emulator: Emulator, api_format: str) -> None:
    documents = [f"{TEXTS[number % len(TEXTS)]} {number}" for number in range(5000)]
    with Reranker(
        backend(emulator, api_format, max_documents_per_request=1000), max_concurrency=4
    ) as reranker:
        assert reranker.count_requests(QUERY, documents) == 5
    with Reranker(backend(emulator, api_format), max_concurrency=4) as reranker:
        assert reranker.count_requests(QUERY, documents) == 4
    with Reranker(backend(emulator, api_format), max_concurrency=8) as reranker:
        assert reranker.count_requests(QUERY, documents) == 5  # 5 requests of 1,000 fit 8 slots


@pytest.mark.parametrize("api_format", COHERE_FORMATS)
def test_cohere_refuses_a_request_size_over_its_ceiling(emulator: Emulator, api_format: str) -> None:
    with pytest.raises(ConfigurationError, match=r"max_documents_per_request=10001 .*10,000"):
        backend(emulator, api_format, max_documents_per_request=10_001)


def test_other_formats_take_a_request_size_above_their_default(emulator: Emulator) -> None:
    # NVIDIA's 512 is a project default, not the vendor's ceiling.
    assert backend(emulator, "nvidia", max_documents_per_request=2000).limits.max_documents == 2000


@pytest.mark.parametrize("path", ["/cohere/v2/rerank", "/azure/v2/rerank"])
def test_the_emulated_cohere_takes_10000_documents_and_refuses_more(emulator: Emulator, path: str) -> None:
    import httpx

    def post(count: int) -> httpx.Response:
        body = {"model": "rerank-v3.5", "query": "q", "documents": ["a text"] * count}
        return httpx.post(emulator.url + path, json=body, timeout=30)

    assert post(10_000).status_code == 200
    refused = post(10_001)
    assert refused.status_code == 400
    assert "10001" in refused.json()["message"] and "10000" in refused.json()["message"]


@pytest.mark.parametrize(("api_format", "limit"), [("cohere", 2048), ("azure-cohere", 4096)])
def test_a_query_provably_over_the_token_limit_is_refused_before_sending(
    emulator: Emulator, api_format: str, limit: int
) -> None:
    from multirerank import RerankInputError

    with Reranker(backend(emulator, api_format)) as reranker:
        reranker.rerank(" ".join(["solar"] * limit), TEXTS)  # at the limit: sent
        assert len(sent(emulator, api_format)) == 1
        over = " ".join(f"term{number}" for number in range(limit + 52))  # distinct words, plainly too many
        with pytest.raises(
            RerankInputError, match=rf"^query is at least {limit + 52} tokens.* at most {limit} tokens"
        ):
            reranker.rerank(over, TEXTS)
    assert len(sent(emulator, api_format)) == 1


@pytest.mark.parametrize("api_format", COHERE_FORMATS)
@pytest.mark.parametrize("query", ["don't " * 700, "https://example.com/a/b " * 300, "e.g. " * 600])
def test_a_query_within_the_token_limit_is_sent_whatever_its_punctuation(
    emulator: Emulator, api_format: str, query: str
) -> None:
    """Byte-level BPE counts "don't " * 700 as about 1,400 tokens: a count of punctuation runs
    (2,100) overcounted it and refused it unsent."""
    with Reranker(backend(emulator, api_format)) as reranker:
        assert len(reranker.rerank(query, TEXTS)) == len(TEXTS)
    assert len(sent(emulator, api_format)) == 1


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/cohere/v2/rerank", 2048), ("/cohere/v1/rerank", 2048), ("/azure/v2/rerank", 4096)],
)
def test_the_emulated_cohere_refuses_a_query_over_its_token_limit(
    emulator: Emulator, path: str, limit: int
) -> None:
    import httpx

    from multirerank.errors import BadRequestError

    def post(words: int) -> httpx.Response:
        body = {"model": "rerank-v3.5", "query": "word " * words, "documents": ["a text"]}
        return httpx.post(emulator.url + path, json=body, timeout=30)

    assert post(limit).status_code == 200
    answer = post(limit + 1)
    assert answer.status_code == 400 and f"query is {limit + 1} tokens" in answer.json()["message"]
    # What the backend makes of it, should a query slip past the engine's count.
    error = API_FORMATS["cohere"].spec.errors.error(answer.json()["message"], provider="cohere", status=400)
    assert isinstance(error, BadRequestError)


def test_azure_takes_the_key_as_bearer_or_api_key_header(emulator: Emulator) -> None:
    from multirerank import AuthenticationError

    emulator.state["azure.api_key"] = API_KEY
    with Reranker(backend(emulator, "azure-cohere")) as reranker:  # Bearer, the default
        assert len(reranker.rerank(QUERY, TEXTS)) == len(TEXTS)
    options = http_options(emulator, "azure-cohere")
    options.pop("api_key")
    with Reranker(HTTPBackend(**options, headers={"api-key": API_KEY})) as reranker:
        assert len(reranker.rerank(QUERY, TEXTS)) == len(TEXTS)
    assert headers(emulator)["api-key"] == API_KEY and "authorization" not in headers(emulator)
    wrong = Reranker(HTTPBackend(**options, headers={"api-key": "wrong"}))
    with wrong, pytest.raises(AuthenticationError):
        wrong.rerank(QUERY, TEXTS)


def test_the_emulated_azure_refuses_a_chunked_body(emulator: Emulator) -> None:
    import httpx

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model": "m", "query": "q", "documents": ["a"]}'

    answer = httpx.post(emulator.url + "/azure/v2/rerank", content=chunks(), timeout=30)
    assert answer.status_code == 400 and answer.json()["message"] == "no_content_length_header"


@pytest.mark.parametrize(
    "model", ["rerank-v4.0-pro", "rerank-v4.0-fast", "rerank-v5.0-pro", "rerank-v5.0-fast"]
)
def test_cohere_v4_and_v5_models_take_max_tokens_per_doc(emulator: Emulator, model: str) -> None:
    with Reranker(backend(emulator, "cohere", model=model, max_tokens_per_doc=8192)) as reranker:
        reranker.rerank(QUERY, TEXTS)
    assert sent(emulator, "cohere")[-1] == {
        "model": model,
        "query": QUERY,
        "documents": TEXTS,
        "max_tokens_per_doc": 8192,
    }
    assert API_FORMATS["cohere"].spec.model(model) is not None


def test_the_emulated_cohere_refuses_a_max_tokens_per_doc_that_is_no_count(emulator: Emulator) -> None:
    import httpx

    body = {"model": "rerank-v4.0-pro", "query": "q", "documents": ["a"], "max_tokens_per_doc": 0}
    answer = httpx.post(emulator.url + "/cohere/v2/rerank", json=body, timeout=30)
    assert answer.status_code == 400 and "max_tokens_per_doc" in answer.json()["message"]


@pytest.mark.parametrize(
    ("text", "at_least"),
    [
        ("", 0),
        ("capital of America?", 3),
        ("grid, grid", 2),
        ("state-of-the-art", 1),  # an undercount, never an overcount
        ("don't stop", 2),
        ("https://example.com/a/b e.g.", 2),
        ("北京是中国的首都", 1),  # no spaces: one word
        ("   \n\t", 0),
    ],
)
def test_min_tokens_counts_whitespace_separated_words(text: str, at_least: int) -> None:
    from multirerank.tokens import min_tokens

    assert min_tokens(text) == at_least


# -- error bodies checked against the vendors' own descriptions ------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        # Fireworks, flat (a 404 of api.fireworks.ai/inference/v1 as reported publicly).
        (
            {
                "message": "Model not found, inaccessible, and/or not deployed",
                "param": "model",
                "code": "NOT_FOUND",
                "type": "error",
            },
            "Model not found, inaccessible, and/or not deployed",
            "NOT_FOUND",
        ),
        # Fireworks, nested (a deployment that does not exist).
        (
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "DeploymentNotFound",
                    "message": "no deployment",
                }
            },
            "no deployment",
            "DeploymentNotFound",
        ),
        # Together's ErrorData (togethercomputer/openapi): code may be null.
        (
            {
                "error": {
                    "message": "rate limited",
                    "type": "rate_limit_exceeded",
                    "param": None,
                    "code": None,
                }
            },
            "rate limited",
            "rate_limit_exceeded",
        ),
        # Mixedbread keeps reading its type.
        ({"type": "too_many_requests_error", "message": "slow down"}, "slow down", "too_many_requests_error"),
    ],
)
def test_vendor_error_bodies_are_read(body: dict[str, Any], message: str, code: str) -> None:
    from multirerank.backends.http_formats import error_details

    assert error_details(body) == (message, code)


def test_the_emulated_fireworks_answers_its_flat_error_body(emulator: Emulator) -> None:
    import httpx

    emulator.inject(status=404, vendor="fireworks")
    answer = httpx.post(
        emulator.url + "/fireworks/inference/v1/rerank",
        json={"model": "m", "query": "q", "documents": ["a"]},
        timeout=30,
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND" and answer.json()["type"] == "error"


def test_the_emulated_together_answers_as_its_openapi_says(emulator: Emulator) -> None:
    with Reranker(backend(emulator, "together")) as reranker:
        reranker.rerank(QUERY, TEXTS)
    import httpx

    answer = httpx.post(
        emulator.url + "/together/v1/rerank",
        json={"model": "Salesforce/Llama-Rank-V1", "query": QUERY, "documents": TEXTS},
        timeout=30,
    ).json()
    assert answer["object"] == "rerank" and answer["id"]
    assert all(result["document"]["text"] == TEXTS[result["index"]] for result in answer["results"])


def test_rerank_5_queries_are_left_to_the_service(emulator: Emulator) -> None:
    """No query limit is documented for Rerank 5: nothing is refused unsent."""
    assert backend(emulator, "cohere", model="rerank-v5.0-pro").limits.max_query_tokens is None
    assert backend(emulator, "cohere", model="rerank-v4.0-pro").limits.max_query_tokens == 2048
    assert backend(emulator, "cohere", model="my-fine-tune").limits.max_query_tokens == 2048


# -- the emulator's corrupt= faults, in every vendor's own answer shape -----------------------------

#: Corruptions a list of scores in input order (DeepInfra) cannot carry: it has no index.
NO_INDEX = {("deepinfra", "negative-index"), ("deepinfra", "duplicate-index")}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("api_format", FORMATS)
def test_every_corruption_reaches_the_client_as_a_malformed_answer(
    emulator: Emulator, api_format: str, corruption: str
) -> None:
    """Each vendor's results live in its own place (``data``, ``rankings``, ``scores``...): the
    corrupter found only a top-level ``results`` and answered the others with a 500."""
    if (api_format, corruption) in NO_INDEX:
        pytest.skip("scores in input order carry no index")
    emulator.inject(corrupt=corruption)
    with Reranker(backend(emulator, api_format)) as reranker, pytest.raises(MalformedResponseError):
        reranker.rerank(QUERY, TEXTS)
    assert len(emulator.requests_to(SETUPS[api_format]["path"])) == 1


# -- keys read from the environment are checked like given ones ------------------------------------


@pytest.mark.parametrize("value", ["sk-abc-\u00e9", "sk-abc\r\nX-Injected: 1", "sk\nabc"])
def test_an_unsendable_key_from_the_environment_fails_at_construction(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """It failed at call time with httpx's raw UnicodeEncodeError (an api_key= argument already
    gave a ConfigurationError at construction)."""
    from langchain_multirerank import VoyageRerank

    monkeypatch.setenv("VOYAGE_API_KEY", value)
    base_url = emulator.url + "/voyage"
    for build in (
        lambda: Reranker("voyage/rerank-2.5", base_url=base_url),
        lambda: VoyageRerank(base_url=base_url),
    ):
        with pytest.raises(ConfigurationError, match="VOYAGE_API_KEY must be ASCII text") as caught:
            build()
        assert value.strip() not in str(caught.value)
    assert not emulator.requests


# -- a too-long text's error suggests truncate only where the format takes it ----------------------


@pytest.mark.parametrize(
    ("api_format", "query", "documents", "message"),
    [
        (
            "mixedbread",
            "q " * 16_001,
            TEXTS,
            r"^query is 32002 characters; mixedbread accepts at most 32000$",
        ),
        (
            "infinity",
            QUERY,
            ["x" * 122_881],
            r"^document at index 0 is 122881 characters; infinity accepts at most 122880$",
        ),
    ],
)
def test_a_too_long_text_suggests_truncate_only_where_the_format_takes_it(
    emulator: Emulator, api_format: str, query: str, documents: list[str], message: str
) -> None:
    from multirerank import RerankInputError

    assert "truncate" not in API_FORMATS[api_format].options  # so the hint would be a dead end
    with Reranker(backend(emulator, api_format)) as reranker, pytest.raises(RerankInputError, match=message):
        reranker.rerank(query, documents)
    assert not emulator.requests


# -- a base URL given with the version the vendor documents it with --------------------------------


@pytest.mark.parametrize(
    ("api_format", "suffix"),
    [("voyage", "/v1"), ("together", "/v1"), ("fireworks", "/inference/v1"), ("openrouter", "/api/v1")],
)
def test_a_base_url_ending_in_the_vendors_version_is_not_doubled(
    emulator: Emulator, api_format: str, suffix: str
) -> None:
    """Voyage documents https://api.voyageai.com/v1: it reached /v1/v1/rerank, a 404."""
    options = http_options(emulator, api_format)
    options["base_url"] += suffix + "/"
    with Reranker(HTTPBackend(**options)) as reranker:
        assert len(reranker.rerank(QUERY, TEXTS)) == len(TEXTS)
    assert [request.path for request in emulator.requests] == [SETUPS[api_format]["path"]]


def test_a_base_url_is_kept_where_the_paths_differ_in_the_version(emulator: Emulator) -> None:
    assert backend(emulator, "vllm", base_url="http://host:8000/v1").base_url == "http://host:8000/v1"
    assert backend(emulator, "voyage", base_url="http://host/v1", path="/v1/rerank").base_url == "http://host/v1"


# -- the emulator serves the models of the vendor data ---------------------------------------------


def test_the_emulated_vendors_serve_the_models_of_the_data(emulator: Emulator) -> None:
    """An unknown Cohere model was answered 200; real DeepInfra and vLLM models got a 404."""
    from multirerank import NotFoundError, RerankInputError

    cohere = {"base_url": emulator.url + "/cohere", "api_key": "k"}
    with Reranker("cohere/rerank-v35", **cohere) as rr, pytest.raises(NotFoundError, match="rerank-v35"):
        rr.rerank(QUERY, TEXTS)
    for model in ("cohere/rerank-v3.5", "cohere/rerank-v5.0-fast", "cohere/0a1b2c3d-ft"):
        with Reranker(model, base_url=emulator.url + "/cohere", api_key="k") as rr:
            assert len(rr.rerank(QUERY, TEXTS)) == len(TEXTS)
    for model in ("Qwen/Qwen3-Reranker-0.6B", "Qwen/Qwen3-Reranker-4B"):
        with Reranker(f"deepinfra/{model}", base_url=emulator.url + "/deepinfra", api_key="k") as rr:
            assert len(rr.rerank(QUERY, TEXTS)) == len(TEXTS)
    with Reranker("vllm/Qwen/Qwen3-Reranker-0.6B", base_url=emulator.url + "/vllm", instruction="Find it.") as rr:
        assert len(rr.rerank(QUERY, TEXTS)) == len(TEXTS)
    # Rerank 5 has no documented query limit: the emulator leaves long queries to it too.
    long_query = " ".join(f"term{number}" for number in range(3000))
    with Reranker("cohere/rerank-v5.0-pro", base_url=emulator.url + "/cohere", api_key="k") as rr:
        assert len(rr.rerank(long_query, TEXTS)) == len(TEXTS)
    with Reranker("cohere/rerank-v3.5", **cohere) as rr, pytest.raises(RerankInputError, match="at least 3000"):
        rr.rerank(long_query, TEXTS)
