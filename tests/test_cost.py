"""Usage and cost on every response: per vendor on the emulator, 2,500 documents, the reported
``cost_usd`` equals the hand computation; unknown prices stay ``None``; ``prices=`` overrides;
fallbacks sum what every route billed; both frameworks and the CLI pass it on."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from multirerank import Reranker, Usage
from multirerank.backends.base import Backend
from multirerank.cli import main
from multirerank.errors import ConfigurationError, MalformedResponseError, ProviderError
from multirerank.prices import Price, check_prices, cost_of, price_for, table
from multirerank.testing import Emulator
from multirerank.types import BatchResult, Limits
from multirerank.vendors import VENDORS
from tests.cost_support import CASES, QUERY, WATSONX_ENV, CostCase, texts

DOCUMENTS = texts(2500)
COHERE = next(case for case in CASES if case.name == "cohere")
DASHSCOPE = next(case for case in CASES if case.name == "dashscope")


@pytest.fixture(scope="module")
def emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator() as plain, Emulator(tls=True) as secure:
        yield plain, secure


@pytest.fixture
def plain(emulators: tuple[Emulator, Emulator]) -> Iterator[Emulator]:
    emulators[0].clear()
    yield emulators[0]
    emulators[0].clear()


@pytest.fixture(autouse=True)
def no_watsonx_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WATSONX_ENV:
        monkeypatch.setenv(name, "")  # so that teardown removes what the SDK wrote meanwhile
        monkeypatch.delenv(name)


def _emulator(case: CostCase, emulators: tuple[Emulator, Emulator]) -> Emulator:
    emulator = emulators[1] if case.tls else emulators[0]
    emulator.clear()
    return emulator


# -- per vendor, 2,500 documents ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reported_cost_equals_the_hand_computation(
    case: CostCase, emulators: tuple[Emulator, Emulator]
) -> None:
    emulator = _emulator(case, emulators)
    with case.reranker(emulator) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS, top_n=5)
        count, cost = case.by_hand(reranker, emulator)
    usage = response.usage
    assert usage is not None
    assert usage.requests == len(case.requests(emulator)) > 1  # split, every request counted
    assert usage.documents == len(DOCUMENTS)
    counted = case.unit in ("search units", "queries", "rerank units")
    reported = usage.search_units if counted else usage.total_tokens
    assert reported == count
    if cost is None:
        assert usage.cost_usd is None
    else:
        assert usage.cost_usd == pytest.approx(cost, rel=1e-12)


def test_the_hand_figures_for_cohere_and_bedrock(emulators: tuple[Emulator, Emulator]) -> None:
    """2,500 documents go in three requests of 900, 800 and 800 (whole search units): 25 units, $2 per 1,000."""
    for case in CASES[:2]:
        emulator = _emulator(case, emulators)
        with case.reranker(emulator) as reranker:
            usage = reranker.rerank(QUERY, DOCUMENTS).usage
        assert usage is not None and (usage.requests, usage.search_units) == (3, 25)
        assert usage.cost_usd == pytest.approx(25 * 2.00 / 1000)


def test_async_calls_count_the_same(plain: Emulator) -> None:
    async def run() -> Usage | None:
        async with COHERE.reranker(plain) as reranker:
            return (await reranker.arerank(QUERY, DOCUMENTS)).usage

    usage = asyncio.run(run())
    assert usage is not None and (usage.requests, usage.search_units, usage.documents) == (3, 25, 2500)
    assert usage.cost_usd == pytest.approx(0.050)


def test_bedrock_pages_are_billed_as_calls() -> None:
    from multirerank.backends.bedrock import _Pages

    pages = _Pages({}, 250)
    pages.read({"results": [], "nextToken": "t1"})
    pages.read({"results": []})
    usage = pages.result().usage
    assert (usage.requests, usage.search_units) == (2, 2 * math.ceil(250 / 100))


def test_local_costs_nothing() -> None:
    with Reranker("local") as reranker:
        usage = reranker.rerank(QUERY, DOCUMENTS[:40]).usage
    assert usage is not None and usage.cost_usd == 0.0 and usage.documents == 40


def test_a_call_that_sends_nothing_costs_nothing(plain: Emulator) -> None:
    with Reranker(
        "jina/jina-reranker-v2-base-multilingual", base_url=f"{plain.url}/jina", api_key="k"
    ) as reranker:
        usage = reranker.rerank(QUERY, ["  "], skip_blank=True).usage
    assert usage is not None and (usage.requests, usage.cost_usd) == (0, 0.0)  # price unknown, nothing sent


# -- the price table ---------------------------------------------------------------------------


def test_every_table_entry_names_its_unit_source_and_date() -> None:
    assert table(), "the price table is empty"
    for key, price in table().items():
        assert price.per and price.read, key
        assert price.source or price.note, key
        assert price.usd is None or price.usd >= 0, key


def test_unknown_prices_are_none_never_zero() -> None:
    used = Usage(requests=2, documents=150, search_units=2, total_tokens=900)
    assert cost_of(used, price_for("bedrock", "amazon.rerank-v1:0")) is None  # listed, price not found
    assert cost_of(used, price_for("cohere", "rerank-v9")) is None  # not listed
    assert cost_of(used, price_for("sagemaker", "endpoint")) is None  # instance-hours
    assert cost_of(used, Price(1.0, "1m_tokens")) == pytest.approx(900 / 1e6)
    assert cost_of(Usage(requests=1), Price(1.0, "1m_tokens")) is None  # vendor reported no tokens


def test_dashscope_prices_follow_the_region_of_its_url() -> None:
    from multirerank.prices import region_of

    assert (
        region_of("dashscope", {"base_url": "https://dashscope-intl.aliyuncs.com/api/v1"}) == "ap-southeast-1"
    )
    assert region_of("dashscope", {}) == "cn-beijing"  # the SDK's default URL
    singapore = price_for("dashscope", "qwen3-rerank", region="ap-southeast-1")
    beijing = price_for("dashscope", "qwen3-rerank", region="cn-beijing")
    assert singapore is not None and beijing is not None and (singapore.usd, beijing.usd) == (0.10, 0.069)
    assert price_for("dashscope", "gte-rerank-v2", region="ap-southeast-1") is None  # listed for Beijing only
    with Reranker(
        "dashscope/qwen3-rerank", api_key="k", base_url="https://dashscope-intl.aliyuncs.com"
    ) as reranker:
        assert reranker.price == singapore


def test_a_bedrock_arn_finds_its_model_price() -> None:
    arn = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"
    assert price_for("bedrock", arn) is price_for("bedrock", "cohere.rerank-v3-5:0")
    assert price_for("bedrock", arn) is not None


def test_usage_sums_keep_an_unknown_cost_unknown() -> None:
    known = Usage(requests=1, cost_usd=0.002)
    unknown = Usage(requests=1)
    nothing = Usage(cache_hits=4)
    assert (known + known).cost_usd == pytest.approx(0.004)
    assert (known + unknown).cost_usd is None and (unknown + known).cost_usd is None
    assert (nothing + known).cost_usd == 0.002 and (known + nothing).cost_usd == 0.002
    assert (known + nothing).cache_hits == 4


# -- prices= -----------------------------------------------------------------------------------


def test_prices_override_and_add(plain: Emulator) -> None:
    per_request = {"cohere/rerank-v3.5": {"usd": 1.0, "per": "1k_requests", "source": "our contract"}}
    with Reranker(
        "cohere/rerank-v3.5", base_url=f"{plain.url}/cohere", api_key="k", prices=per_request
    ) as reranker:
        usage = reranker.rerank(QUERY, DOCUMENTS).usage
        assert reranker.price is not None and reranker.price.source == "our contract"
    assert usage is not None and usage.cost_usd == pytest.approx(3 * 1.0 / 1000)

    with Reranker(
        "cohere/rerank-v3.5", base_url=f"{plain.url}/cohere", api_key="k", prices={"cohere/*": None}
    ) as reranker:
        assert reranker.price is None or reranker.price.usd is None
        usage = reranker.rerank(QUERY, DOCUMENTS[:10]).usage
    # The caller's prices come first, a wildcard included: the table's $2 is not used.
    assert usage is not None and usage.cost_usd is None


def test_prices_can_be_assigned_and_are_checked_then() -> None:
    with Reranker("local") as reranker:
        reranker.prices = {"local/*": Price(0.5, "1k_requests")}
        assert reranker.price == Price(0.5, "1k_requests", model="*")
        with pytest.raises(ConfigurationError, match="local/x"):
            reranker.prices = {"local/x": {"usd": -1, "per": "1k_requests"}}


@pytest.mark.parametrize(
    ("prices", "words"),
    [
        ({"cohere": {"usd": 1, "per": "1k_searches"}}, "'cohere'"),
        ({"cohere/m": {"usd": "2", "per": "1k_searches"}}, "prices['cohere/m'].usd"),
        ({"cohere/m": {"usd": math.inf, "per": "1k_searches"}}, "prices['cohere/m'].usd"),
        ({"cohere/m": {"usd": 2.0, "per": "per search"}}, "prices['cohere/m'].per"),
        ({"cohere/m": {"usd": 2.0}}, "prices['cohere/m'] needs"),
        ({"cohere/m": {"usd": 2.0, "per": "1k_searches", "currency": "EUR"}}, "unknown fields ['currency']"),
        ({"cohere/m": 2.0}, "prices['cohere/m'] must be"),
        (["cohere/m"], "prices must be a mapping"),
    ],
)
def test_bad_prices_name_the_key(prices: Any, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_prices(prices)
    assert words in str(caught.value)
    with pytest.raises(ConfigurationError):
        Reranker("local", prices=prices)


# -- fallbacks ---------------------------------------------------------------------------------


def test_a_fallback_response_sums_what_every_route_billed(emulators: tuple[Emulator, Emulator]) -> None:
    """Cohere answers all three requests, one unusably (billed all the same): the call moves to
    DashScope. The response counts both vendors' requests and costs."""
    plain = _emulator(COHERE, emulators)
    plain.inject(corrupt="nan-score", vendor="cohere")
    with Reranker(
        COHERE.model,
        **COHERE.options(plain),
        max_retries=0,
        fallbacks=[{"model": DASHSCOPE.model, **DASHSCOPE.options(plain)}],
    ) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    usage = response.usage
    assert response.provider == "dashscope" and usage is not None
    dashscope_requests = DASHSCOPE.requests(plain)
    assert usage.requests == 3 + len(dashscope_requests)
    assert usage.documents == 2 * len(DOCUMENTS)
    tokens = sum(DASHSCOPE.billed(request.json()) or 0 for request in dashscope_requests)
    assert (usage.search_units, usage.total_tokens) == (25, tokens)
    # The emulator's URL is no international one: Beijing's $0.069 per million tokens applies.
    assert usage.cost_usd == pytest.approx(25 * 2.00 / 1000 + tokens * 0.069 / 1e6)


def test_a_call_every_route_failed_reports_the_usage_on_the_error(plain: Emulator) -> None:
    plain.inject(corrupt="nan-score", vendor="cohere")
    plain.inject(status=503, vendor="tei", times=None)
    with (
        Reranker(
            COHERE.model,
            **COHERE.options(plain),
            max_retries=0,
            fallbacks=[{"model": "tei", "base_url": f"{plain.url}/tei"}],
        ) as reranker,
        pytest.raises(ProviderError) as caught,
    ):
        reranker.rerank(QUERY, DOCUMENTS)
    usage = caught.value.usage
    assert usage is not None and (usage.requests, usage.search_units) == (3, 25)
    assert usage.cost_usd == pytest.approx(0.050)


def test_an_unusable_answer_carries_the_billed_usage(plain: Emulator) -> None:
    plain.inject(corrupt="nan-score", vendor="cohere")
    with COHERE.reranker(plain) as reranker, pytest.raises(MalformedResponseError) as caught:
        reranker.max_retries = 0
        reranker.rerank(QUERY, DOCUMENTS[:50])
    usage = caught.value.usage
    assert usage is not None and (usage.requests, usage.search_units, usage.cost_usd) == (1, 1, 0.002)


# -- frameworks and the CLI --------------------------------------------------------------------

OVERRIDE = {"cohere/rerank-v3.5": {"usd": 4.0, "per": "1k_searches"}}


@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
def test_framework_classes_pass_prices_on(framework: str, plain: Emulator) -> None:
    if framework == "langchain":
        from langchain_multirerank import MultiRerank
    else:
        from llama_index_multirerank import MultiRerank  # type: ignore[assignment]

    options = COHERE.options(plain)
    built = MultiRerank(model=COHERE.model, backend_options=options, prices=OVERRIDE)
    assert built.reranker.price == Price(4.0, "1k_searches", model="rerank-v3.5")
    usage = built.reranker.rerank(QUERY, DOCUMENTS).usage
    assert usage is not None and usage.cost_usd == pytest.approx(25 * 4.0 / 1000)
    with pytest.raises(ConfigurationError, match=r"cohere/rerank-v3\.5"):
        MultiRerank(
            model=COHERE.model,
            backend_options=options,
            prices={"cohere/rerank-v3.5": {"usd": -2, "per": "1k_searches"}},
        )


def test_framework_prices_survive_a_dump_and_a_pickle() -> None:
    import pickle

    from langchain_multirerank import MultiRerank

    built = MultiRerank(model="local", prices={"local/*": {"usd": 1.0, "per": "1k_requests"}})
    again = MultiRerank(**built.model_dump())
    assert again.reranker.price == built.reranker.price == Price(1.0, "1k_requests")
    assert pickle.loads(pickle.dumps(built)).reranker.price == built.reranker.price


def test_cli_summary_line_shows_usage_and_cost(
    plain: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    source = tmp_path / "docs.json"
    source.write_text('["solar battery", "wind turbine", "grid storage"]')
    argv = [
        "rerank",
        "--model",
        COHERE.model,
        "-o",
        f"base_url={plain.url}/cohere",
        "-o",
        "api_key=k",
        "-q",
        "solar",
        str(source),
    ]
    assert main(argv) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "1 request, 3 documents, 1 search units, $0.002000" in summary
    assert main([*argv[:-1], "--json", str(source)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usage"]["search_units"] == 1 and report["usage"]["cost_usd"] == 0.002


def test_every_vendor_states_its_billing_rule() -> None:
    for spec in VENDORS.values():
        assert spec.billing, spec.name


@pytest.mark.parametrize("total", [101, 999, 1000, 1001, 1999, 2500, 4321, 10_000])
@pytest.mark.parametrize(("per_request", "block"), [(1000, 100), (200, 100), (1000, None), (150, 100)])
def test_split_requests_bill_no_more_blocks_than_one_request_would(
    total: int, per_request: int, block: int | None
) -> None:
    from multirerank.engine.inputs import _sizes

    count = math.ceil(total / per_request)
    sizes = _sizes(total, count, per_request, block)
    assert sum(sizes) == total and len(sizes) == count
    assert all(0 < size <= per_request for size in sizes)
    if block and per_request % block == 0:
        assert sum(math.ceil(size / block) for size in sizes) == math.ceil(total / block)
    if not block:
        assert max(sizes) - min(sizes) <= 1


def test_a_count_only_some_answers_reported_is_unknown_and_so_is_its_cost() -> None:
    class SomeReport(Backend):
        provider, model, limits = "cohere", "rerank-v3.5", Limits(max_documents=2)

        def __init__(self) -> None:
            self.answered = 0

        def rerank_batch(self, query: str, documents: Any, top_n: int | None) -> BatchResult:
            self.answered += 1
            units = 1 if self.answered == 1 else None
            return BatchResult([(i, 0.5) for i in range(len(documents))], Usage(search_units=units))

    usage = Reranker(SomeReport(), max_concurrency=1).rerank("q", list("abcd")).usage
    assert usage is not None and (usage.requests, usage.search_units, usage.cost_usd) == (2, None, None)


def test_trace_content_takes_booleans_only() -> None:
    with pytest.raises(ConfigurationError, match="trace_content"):
        Reranker("local", trace_content="false")  # type: ignore[arg-type]


def test_a_price_unit_that_is_no_string_is_named() -> None:
    with pytest.raises(ConfigurationError, match=r"prices\['cohere/rerank-v3.5'\].per"):
        check_prices({"cohere/rerank-v3.5": {"usd": 2, "per": ["1k_searches"]}})


@pytest.mark.parametrize(
    "key", ["Cohere/rerank-v3.5", "cohere/rerank-v3.5 ", "cohere/ rerank-v3.5", "cohere/rerank-v3.5@", "*/*"]
)
def test_a_prices_key_that_could_never_match_is_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="prices key"):
        check_prices({key: {"usd": 2.0, "per": "1k_searches"}})


def test_free_with_a_price_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="free"):
        check_prices({"cohere/rerank-v3.5": {"usd": 5, "per": "free"}})


def test_a_bedrock_arn_as_prices_key_prices_that_model() -> None:
    arn = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"
    prices = check_prices({f"bedrock/{arn}": {"usd": 100.0, "per": "1k_queries"}})
    price = price_for("bedrock", arn, prices)
    assert price is not None and price.usd == 100.0


def test_every_vendor_has_a_price_entry_and_self_hosted_ones_bill_hours() -> None:
    from multirerank.vendors import VENDORS

    assert [name for name, spec in VENDORS.items() if not spec.prices] == []
    for name in ("tei", "vllm", "infinity", "llamacpp", "sagemaker", "nvidia"):
        assert [(price.usd, price.per) for price in VENDORS[name].prices] == [(None, "instance_hours")]


@pytest.mark.parametrize(
    ("provider", "model", "usd", "per"),
    [
        ("voyage", "rerank-2.5", 0.05, "1m_tokens"),
        ("voyage", "rerank-2.5-lite", 0.02, "1m_tokens"),
        ("voyage", "rerank-1", None, "1m_tokens"),
        ("mixedbread", "mixedbread-ai/mxbai-rerank-base-v2", 0.15, "1m_tokens"),
        ("pinecone", "bge-reranker-v2-m3", 2.0, "1k_searches"),
        ("pinecone", "cohere-rerank-3.5", None, "1k_searches"),
        ("deepinfra", "Qwen/Qwen3-Reranker-0.6B", 0.01, "1m_tokens"),
        ("deepinfra", "Qwen/Qwen3-Reranker-4B", None, "1m_tokens"),
        ("openrouter", "cohere/rerank-v3.5", 1.0, "1k_searches"),
        ("openrouter", "voyageai/rerank-2.5-lite", 0.02, "1m_tokens"),
        ("together", "Salesforce/Llama-Rank-V1", None, "1m_tokens"),
        ("fireworks", "fireworks/qwen3-reranker-8b", None, "1m_tokens"),
        ("azure", "Cohere-rerank-v4.0-pro", None, "1k_searches"),
        ("cohere", "rerank-v5.0-pro", None, "1k_searches"),
    ],
)
def test_the_new_vendors_list_prices(provider: str, model: str, usd: float | None, per: str) -> None:
    from multirerank.prices import price_for

    price = price_for(provider, model)
    assert price is not None and (price.usd, price.per) == (usd, per)
