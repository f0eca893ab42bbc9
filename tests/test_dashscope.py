"""The DashScope backend through the real dashscope SDK (TextReRank / AioTextReRank) against the emulator."""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib.metadata
import importlib.util
import warnings
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import SecretStr, ValidationError

import langchain_multirerank
import llama_index_multirerank
from multirerank import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    Limits,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    Reranker,
    RerankTimeoutError,
    ThrottledError,
    backend_from_model,
)
from multirerank.backends.dashscope import (
    MIN_SDK_VERSION,
    DashScopeBackend,
    DashScopeOptions,
    env_proxy,
    error_from_response,
    estimate_tokens,
    translate_error,
)
from multirerank.testing import Emulator, Response, Route
from multirerank.testing.dashscope import COMPATIBLE_PATH, RERANK_PATH, count_tokens, error
from tests.async_lifetime_support import RefusingExecutor, many_asyncio_runs, slow_callbacks_of_first_call
from tests.emulator_support import emulator_fixtures, expected_order
from tests.sdk_support import DOCS, QUERY, ROOT, loaded_after_importing

KEY = "sk-emulated-dashscope-key"

server, emulator = emulator_fixtures()


@pytest.fixture(autouse=True)
def no_dashscope_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DashScope key of this machine leaks in."""
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)


def options(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    chosen: dict[str, Any] = {"api_key": KEY, "base_url": f"{emulator.url}/api/v1", "max_retries": 0}
    chosen.update(overrides)
    return chosen


def backend(emulator: Emulator, **overrides: Any) -> DashScopeBackend:
    return DashScopeOptions(**options(emulator, **overrides)).build_backend()


def bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [request.json() for request in emulator.requests_to(RERANK_PATH)]


def merged_order(emulator: Emulator, query: str, docs: list[str]) -> list[int]:
    """The order the engine must produce from what the emulator scored in each request."""
    scored: list[tuple[int, float]] = []
    for body in bodies(emulator):
        texts = body["input"]["documents"]
        offset = docs.index(texts[0])
        assert docs[offset : offset + len(texts)] == texts
        scored += [(offset + index, score) for index, score in enumerate(emulator.score(query, texts))]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return [index for index, _ in scored]


# -- the engine, sync and async ----------------------------------------------------------------


def test_rerank_sends_the_default_model_and_checks_nothing_else_in(emulator: Emulator) -> None:
    with Reranker(backend(emulator)) as reranker:
        response = reranker.rerank(QUERY, DOCS, top_n=3)
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)[:3]
    assert response.score_scale == "probability" and response.model == "gte-rerank-v2"
    (request,) = emulator.requests_to(RERANK_PATH)
    assert request.header("Authorization") == f"Bearer {KEY}"
    assert request.json() == {
        "model": "gte-rerank-v2",
        "input": {"query": QUERY, "documents": DOCS},
        "parameters": {"top_n": 3},
    }
    assert response.usage is not None and response.usage.total_tokens == sum(
        len(QUERY.split()) + len(doc.split()) for doc in DOCS
    )


def test_user_model_and_instruct_are_sent_exactly(emulator: Emulator) -> None:
    with Reranker(backend(emulator, model="qwen3-rerank", instruct="Find passages about cats.")) as reranker:
        reranker.rerank(QUERY, DOCS)
    (body,) = bodies(emulator)
    assert body["model"] == "qwen3-rerank"
    assert body["parameters"] == {"instruct": "Find passages about cats."}


def test_instruct_is_refused_for_a_model_that_takes_none(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="takes no instruct"):
        backend(emulator, model="gte-rerank-v2", instruct="Find cats.")


async def test_async_uses_the_sdk_async_client(emulator: Emulator) -> None:
    dashscope = backend(emulator)
    assert dashscope.has_native_async
    async with Reranker(dashscope) as reranker:
        response = await reranker.arerank(QUERY, DOCS, top_n=2)
        assert reranker._executor is None  # no thread was needed
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)[:2]
    assert bodies(emulator)[0]["parameters"] == {"top_n": 2}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_1200_documents_make_3_requests_merged_in_order(emulator: Emulator, mode: str) -> None:
    docs = [f"{'cats purr' if i % 11 == 0 else 'dogs bark'} in story {i}" for i in range(1200)]
    reranker = Reranker(backend(emulator))
    if mode == "sync":
        response = reranker.rerank(QUERY, docs)
        reranker.close()
    else:

        async def run() -> Any:
            async with reranker:
                return await reranker.arerank(QUERY, docs)

        response = asyncio.run(run())
    assert sorted(len(body["input"]["documents"]) for body in bodies(emulator)) == [400, 400, 400]
    assert [result.index for result in response] == merged_order(emulator, QUERY, docs)
    assert response.usage is not None and response.usage.requests == 3
    assert response.usage.total_tokens == sum(len(QUERY.split()) + len(doc.split()) for doc in docs)


def test_token_budget_splits_long_documents(emulator: Emulator) -> None:
    docs = [f"passage {i} " + "cats purr softly and dogs bark loudly " * 20 for i in range(300)]
    with Reranker(backend(emulator)) as reranker:
        response = reranker.rerank(QUERY, docs, top_n=5)
    assert len(bodies(emulator)) > 1 and len(response) == 5
    # The same list in one request is over gte-rerank-v2's 30,000-token budget.
    unsplit = backend(emulator)
    unsplit.limits = Limits(max_documents=500)
    with Reranker(unsplit) as reranker, pytest.raises(BadRequestError, match="exceed the limit of 30000"):
        reranker.rerank(QUERY, docs)


# What DashScope counts: query tokens x documents + document tokens, each text cut at 4,000.
LONG_QUERY = ("why and how do cats purr, and what does it mean? " * 11)[:503]


def emulated_tokens(body: dict[str, Any]) -> int:
    query, documents = body["input"]["query"], body["input"]["documents"]
    return sum(count_tokens(query) + count_tokens(document) for document in documents)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_long_query_is_counted_once_per_document(emulator: Emulator, mode: str) -> None:
    docs = [f"cats purr in story {i}" for i in range(500)]
    dashscope = backend(emulator)
    assert Reranker(dashscope).count_requests(LONG_QUERY, docs) > 1
    reranker = Reranker(dashscope)
    if mode == "sync":
        with reranker:
            response = reranker.rerank(LONG_QUERY, docs)
    else:

        async def run() -> Any:
            async with reranker:
                return await reranker.arerank(LONG_QUERY, docs)

        response = asyncio.run(run())
    assert len(response) == 500 and response.usage is not None
    assert sum(len(body["input"]["documents"]) for body in bodies(emulator)) == 500
    assert max(emulated_tokens(body) for body in bodies(emulator)) <= 30_000
    # Split by bytes, the same list went as one request of 54,000 tokens and was refused.
    emulator.clear()
    unsplit = backend(emulator)
    unsplit.limits = Limits(max_documents=500)
    with Reranker(unsplit) as refused, pytest.raises(BadRequestError, match="exceed the limit of 30000"):
        refused.rerank(LONG_QUERY, docs)


def test_a_96_kb_document_is_sent_for_the_service_to_truncate(emulator: Emulator) -> None:
    long_document = "cats purr when they are content. " * 2910
    assert len(long_document.encode()) > 96_000
    with Reranker(backend(emulator)) as reranker:
        response = reranker.rerank(QUERY, [long_document, *DOCS], top_n=2)
    assert len(response) == 2
    (body,) = bodies(emulator)
    assert body["input"]["documents"][0] == long_document


def test_costs_are_estimated_tokens_with_the_query_in_each_document() -> None:
    dashscope = DashScopeBackend(api_key=SecretStr(KEY))
    assert dashscope.cost_unit == "tokens (estimated)"
    assert dashscope.limits == Limits(max_documents=500, max_request_cost=30_000)
    assert DashScopeBackend("qwen3-rerank", api_key=SecretStr(KEY)).limits.max_request_cost == 120_000
    assert dashscope.request_overhead(LONG_QUERY) == 0
    assert dashscope.document_cost(LONG_QUERY, "cats purr") == estimate_tokens(LONG_QUERY) + 2
    assert dashscope.document_cost(QUERY, "cats " * 50_000) == estimate_tokens(QUERY) + 4000


@pytest.mark.parametrize(
    "text",
    [
        LONG_QUERY,
        "a,b,c;d.e!f?g",
        "Invoice 2023-01-05: 1234567.89 EUR, 42 items",
        "猫はなぜゴロゴロと喉を鳴らすのか\uff1f",
        "고양이는 왜 가르랑거릴까",
        "Почему кошки мурлычут?",
        "naïve café façade 😀😀",
        "snake_case_identifier and CamelCaseWord",
        "",
    ],
)
def test_the_estimate_never_counts_fewer_tokens_than_the_emulator(text: str) -> None:
    # So a list the backend splits always fits the emulator's budget.
    assert estimate_tokens(text) >= count_tokens(text)


def test_over_500_documents_in_one_request_is_a_bad_request(emulator: Emulator) -> None:
    dashscope = backend(emulator)
    assert dashscope.limits.max_documents == 500
    dashscope.limits = Limits()
    with Reranker(dashscope) as reranker, pytest.raises(BadRequestError) as caught:
        reranker.rerank(QUERY, [f"doc {i}" for i in range(501)])
    assert (caught.value.status, caught.value.code) == (400, "InvalidParameter")


# -- errors (what every backend owes is in test_backend_contract.py) ------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_error_messages_carry_the_request_id(emulator: Emulator, mode: str) -> None:
    emulator.inject(
        status=400, code="InvalidParameter", message="emulated InvalidParameter", vendor="dashscope"
    )
    with pytest.raises(BadRequestError) as caught:
        run_once(backend(emulator), mode)
    assert "emulated InvalidParameter" in str(caught.value) and "request_id" in str(caught.value)


def run_once(dashscope: DashScopeBackend, mode: str, docs: list[str] = DOCS) -> Any:
    reranker = Reranker(dashscope)
    if mode == "sync":
        with reranker:
            return reranker.rerank(QUERY, docs)

    async def run() -> Any:
        async with reranker:
            return await reranker.arerank(QUERY, docs)

    return asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unknown_model_and_wrong_key_from_the_emulator(emulator: Emulator, mode: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        run_once(backend(emulator, model="gte-rerank-v9"), mode)
    assert caught.value.code == "Model.NotExist"
    emulator.state["dashscope_api_keys"] = {"another-key"}
    with pytest.raises(AuthenticationError) as refused:
        run_once(backend(emulator), mode)
    assert (refused.value.status, refused.value.code) == (401, "InvalidApiKey")
    assert KEY not in str(refused.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_slow_answer_is_a_timeout(emulator: Emulator, mode: str) -> None:
    emulator.inject(vendor="dashscope", latency=1.0)
    with pytest.raises(RerankTimeoutError):
        run_once(backend(emulator, timeout=0.3), mode)


def answering(body: object) -> Route:
    """A DashScope route that answers HTTP 200 with ``body``, for answers of the wrong shape."""
    return Route("dashscope", "POST", RERANK_PATH, lambda emulator, request: Response(200, body), error)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "body", [{"output": "x"}, {"output": {"results": 5}}, {"output": {"results": [{"index": 0}]}}, 7]
)
def test_an_answer_of_the_wrong_shape_is_malformed(mode: str, body: object) -> None:
    with Emulator(routes=[answering(body)]) as odd, pytest.raises(MalformedResponseError, match="shape"):
        run_once(backend(odd), mode)


def test_other_sdk_type_errors_are_not_blamed_on_the_answer() -> None:
    def send(**arguments: Any) -> None:
        raise TypeError("call() got an unexpected keyword argument 'session'")

    try:
        send(session=None)
    except TypeError as raised:
        translated = translate_error(raised)
    assert type(translated) is ProviderError and not translated.retryable


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", (3.0, 3.0)), ("Wed, 21 Oct 2015 07:28:00 GMT", (0.0, 0.0)), ("+30", (25.0, 30.0)), ("soon", None)],
)
def test_retry_after_is_seconds_or_an_http_date(header: str, expected: tuple[float, float] | None) -> None:
    if header.startswith("+"):  # an HTTP date this many seconds from now
        header = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=int(header)), usegmt=True)
    error = error_from_response(
        {"status_code": 429, "code": "Throttling", "message": "slow down", "headers": {"retry-after": header}}
    )
    assert isinstance(error, ThrottledError)
    if expected is None:
        assert error.retry_after is None
    else:
        assert error.retry_after is not None and expected[0] <= error.retry_after <= expected[1]


def test_emulator_serves_the_openai_compatible_endpoint(emulator: Emulator) -> None:
    import requests

    url = f"{emulator.url}{COMPATIBLE_PATH}"
    headers = {"Authorization": f"Bearer {KEY}"}
    body: dict[str, Any] = {
        "model": "qwen3-rerank",
        "query": QUERY,
        "documents": DOCS,
        "top_n": 2,
        "instruct": "Find cats.",
    }
    answer = requests.post(url, json=body, headers=headers, timeout=5)
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["object"] == "list" and payload["model"] == "qwen3-rerank"
    assert [item["index"] for item in payload["results"]] == expected_order(emulator, QUERY, DOCS)[:2]
    assert payload["results"][0]["document"] == {"text": DOCS[payload["results"][0]["index"]]}
    assert payload["usage"]["total_tokens"] > 0
    refused = requests.post(url, json={**body, "model": "gte-rerank-v2"}, headers=headers, timeout=5)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"


# -- configuration and secrets -----------------------------------------------------------------


def test_key_comes_from_the_environment_and_stays_secret(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    chosen = DashScopeOptions(base_url=emulator.url, max_retries=0)
    lc = langchain_multirerank.DashScopeRerank(base_url=emulator.url)
    li = llama_index_multirerank.DashScopeRerank(base_url=emulator.url)
    for made in (chosen, lc, li, chosen.build_backend()):
        assert KEY not in repr(made) and KEY not in str(made)
    with Reranker(chosen.build_backend()) as reranker:
        reranker.rerank(QUERY, DOCS)
    assert emulator.requests[-1].header("Authorization") == f"Bearer {KEY}"


def test_a_missing_sdk_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "dashscope" else find_spec(name, *rest),
    )
    with pytest.raises(
        ConfigurationError, match=r"DashScope needs its SDK: pip install 'multirerank\[dashscope\]'"
    ):
        DashScopeBackend(api_key=SecretStr(KEY))


def test_an_sdk_too_old_names_the_version_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    import dashscope

    monkeypatch.delattr(dashscope, "AioTextReRank")  # as in releases before 1.25.22
    with pytest.raises(ConfigurationError) as caught:
        DashScopeBackend(api_key=SecretStr(KEY))
    found = importlib.metadata.version("dashscope")
    assert f"dashscope>={MIN_SDK_VERSION}, found {found}" in caught.value.message
    assert MIN_SDK_VERSION == "1.25.22"


def test_an_import_failing_inside_the_sdk_is_not_called_a_missing_sdk() -> None:
    translated = translate_error(ModuleNotFoundError("No module named 'websocket'", name="websocket"))
    assert isinstance(translated, ConfigurationError)
    assert "could not import websocket" in translated.message and "needs its SDK" not in translated.message


def test_the_minimum_sdk_version_is_the_one_the_package_requires() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'dashscope = ["dashscope>={MIN_SDK_VERSION}"]' in pyproject


def test_missing_key_fails_early(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="DASHSCOPE_API_KEY"):
        DashScopeOptions().build_backend()
    with pytest.raises(ConfigurationError, match="api_key"):
        langchain_multirerank.DashScopeRerank()


def test_option_errors_name_the_field_without_the_key(emulator: Emulator) -> None:
    with pytest.raises(ValidationError) as caught:
        langchain_multirerank.DashScopeRerank(api_key=KEY, timeout=0)
    assert "timeout" in str(caught.value) and KEY not in str(caught.value)
    with pytest.raises(ConfigurationError) as bad_url:
        llama_index_multirerank.DashScopeRerank(api_key=KEY, base_url="dashscope.aliyuncs.com")
    assert "base_url" in str(bad_url.value) and KEY not in str(bad_url.value)


def test_bare_host_base_url_means_the_native_api(emulator: Emulator) -> None:
    with Reranker(backend(emulator, base_url=emulator.url)) as reranker:
        reranker.rerank(QUERY, DOCS)
    assert len(emulator.requests_to(RERANK_PATH)) == 1


def test_two_rerankers_with_different_urls_do_not_clash(emulator: Emulator) -> None:
    with Emulator() as other:
        first, second = Reranker(backend(emulator)), Reranker(backend(other, model="qwen3-rerank"))

        async def both() -> None:
            for _ in range(3):
                await asyncio.gather(first.arerank(QUERY, DOCS), second.arerank(QUERY, DOCS))
            await first.aclose()
            await second.aclose()

        asyncio.run(both())
        first.rerank(QUERY, DOCS)
        second.rerank(QUERY, DOCS)
        assert {body["model"] for body in bodies(emulator)} == {"gte-rerank-v2"}
        assert {request.json()["model"] for request in other.requests} == {"qwen3-rerank"}
        assert len(bodies(emulator)) == len(other.requests) == 4


def test_no_unclosed_session_is_left_across_asyncio_runs(emulator: Emulator) -> None:
    compressor = langchain_multirerank.DashScopeRerank(**options(emulator))
    documents = [Document(text) for text in DOCS]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            # Nobody calls aclose(): the loop's shutdown closes the session.
            assert len(asyncio.run(compressor.acompress_documents(documents, QUERY))) == 3
        del compressor
        gc.collect()
    assert not [warning for warning in caught if "nclosed" in str(warning.message)]


async def test_aclose_closes_the_session_of_the_running_loop(emulator: Emulator) -> None:
    dashscope = backend(emulator)
    await Reranker(dashscope).arerank(QUERY, DOCS)
    session = await dashscope._sessions.get()
    await dashscope.aclose()
    assert session.closed and dashscope._sessions.count() == 0
    await dashscope.aclose()  # a second close is harmless


def test_a_loops_shutdown_closes_and_forgets_its_session(emulator: Emulator) -> None:
    dashscope = backend(emulator)

    async def use() -> Any:
        await Reranker(dashscope).arerank(QUERY, DOCS)
        return await dashscope._sessions.get()

    session = asyncio.run(use())  # nobody calls aclose()
    # Forgotten too: a remembered session would keep its finished loop alive.
    assert session.closed and dashscope._sessions.count() == 0


SETUP = 'from multirerank.backends.dashscope import DashScopeBackend\nbackend = DashScopeBackend(api_key=SecretStr("k"), base_url=sys.argv[1], max_retries=0)\n'


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_thirty_asyncio_runs_leave_no_socket_loop_or_warning(emulator: Emulator) -> None:
    report = many_asyncio_runs(SETUP, "backend._sessions", f"{emulator.url}/api/v1")
    assert report == {"before": report["before"], "after": report["before"], "held": 0, "loops": 0}
    assert len(bodies(emulator)) == 31


def test_the_first_async_call_does_not_block_the_event_loop(emulator: Emulator) -> None:
    # The SDK (over half a second to import) and its CA store load when the backend is built.
    assert slow_callbacks_of_first_call(SETUP, f"{emulator.url}/api/v1") == []


# -- the event loop's default executor and proxies ---------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy setting of this machine applies."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxied(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, no_proxy: None) -> str:
    """The emulator as the environment's HTTP proxy (it answers absolute-form requests too), with
    credentials; returns a base URL that only the proxy can reach."""
    monkeypatch.setenv("http_proxy", f"http://proxy-user:proxy-pass@{urlsplit(emulator.url).netloc}")
    return "http://dashscope.invalid/api/v1"


@pytest.mark.parametrize("route", ["direct", "proxied"])
async def test_async_path_never_uses_the_loops_default_executor(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, no_proxy: None, route: str
) -> None:
    # aiohttp with trust_env=True looks up netrc and the proxy on the default executor for every
    # request; the backend looks the proxy up once, when it makes its session.
    overrides: dict[str, Any] = {}
    if route == "proxied":
        monkeypatch.setenv("http_proxy", emulator.url)
        overrides["base_url"] = "http://dashscope.invalid/api/v1"
    loop = asyncio.get_running_loop()
    refusing = RefusingExecutor()
    loop.set_default_executor(refusing)
    try:
        async with Reranker(backend(emulator, **overrides)) as reranker:
            first = await reranker.arerank(QUERY, DOCS, top_n=2)
            second = await reranker.arerank(QUERY, DOCS)
    finally:
        refusing.shutdown(wait=False)
    assert refusing.refused == []
    assert [result.index for result in first] == expected_order(emulator, QUERY, DOCS)[:2]
    assert len(second) == len(DOCS)
    assert len(emulator.requests_to(RERANK_PATH)) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_both_paths_go_through_the_environments_proxy(emulator: Emulator, proxied: str, mode: str) -> None:
    response = run_once(backend(emulator, base_url=proxied), mode)
    assert [result.index for result in response] == expected_order(emulator, QUERY, DOCS)
    (request,) = emulator.requests_to(RERANK_PATH)
    assert request.header("Host") == "dashscope.invalid"
    assert (
        request.header("Proxy-Authorization")
        == "Basic " + base64.b64encode(b"proxy-user:proxy-pass").decode()
    )
    assert request.header("Authorization") == f"Bearer {KEY}"


def test_proxy_lookup_follows_the_environment(no_proxy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_proxy("https://dashscope.aliyuncs.com/api/v1") is None
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "internal.example")
    assert env_proxy("https://dashscope.aliyuncs.com/api/v1") == "http://proxy.example:3128"
    assert env_proxy("http://dashscope.aliyuncs.com/api/v1") is None  # no http_proxy
    assert env_proxy("https://rerank.internal.example/api/v1") is None  # NO_PROXY exempts it


async def test_the_session_does_not_trust_the_environment_per_request(
    emulator: Emulator, proxied: str
) -> None:
    dashscope = backend(emulator, base_url=proxied)
    session = await dashscope._sessions.get()
    try:
        assert session.trust_env is False
        assert urlsplit(str(session._default_proxy)).hostname == "127.0.0.1"
    finally:
        await dashscope.aclose()


# -- adapters and model strings ----------------------------------------------------------------


def test_adapters_default_model_is_not_replaced(emulator: Emulator) -> None:
    compressor = langchain_multirerank.DashScopeRerank(**options(emulator))
    postprocessor = llama_index_multirerank.DashScopeRerank(**options(emulator, model="qwen3-rerank"))
    compressor.compress_documents([Document(text) for text in DOCS], QUERY)
    postprocessor.postprocess_nodes(
        [NodeWithScore(node=TextNode(text=text)) for text in DOCS], query_str=QUERY
    )
    assert [body["model"] for body in bodies(emulator)] == ["gte-rerank-v2", "qwen3-rerank"]


def test_langchain_sync_and_async(emulator: Emulator) -> None:
    compressor = langchain_multirerank.DashScopeRerank(**options(emulator), top_n=2)
    documents = [Document(text, id=f"doc-{i}", metadata={"n": i}) for i, text in enumerate(DOCS)]
    best = compressor.compress_documents(documents, QUERY)
    order = expected_order(emulator, QUERY, DOCS)[:2]
    assert [document.id for document in best] == [f"doc-{i}" for i in order]
    assert all(0 <= document.metadata["relevance_score"] <= 1 for document in best)

    async def run() -> Any:
        try:
            return await compressor.acompress_documents(documents, QUERY)
        finally:
            await compressor.reranker.aclose()

    again = asyncio.run(run())
    assert [document.id for document in again] == [document.id for document in best]
    assert "relevance_score" not in documents[0].metadata


async def test_llama_index_sync_and_async(emulator: Emulator) -> None:
    postprocessor = llama_index_multirerank.DashScopeRerank(
        **options(emulator), top_n=3, metadata_mode="none"
    )
    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=0.5) for i, text in enumerate(DOCS)]
    ranked = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    order = expected_order(emulator, QUERY, DOCS)[:3]
    assert [item.node.node_id for item in ranked] == [f"n{i}" for i in order]
    again = await postprocessor.apostprocess_nodes(nodes, query_str=QUERY)
    assert [item.node.node_id for item in again] == [item.node.node_id for item in ranked]
    assert all(node.score == 0.5 for node in nodes)
    await postprocessor.reranker.aclose()


def test_model_strings_in_both_frameworks(emulator: Emulator) -> None:
    settings = options(emulator)
    lc = langchain_multirerank.MultiRerank(model="dashscope/qwen3-rerank", backend_options=settings)
    li = llama_index_multirerank.MultiRerank(model="dashscope", backend_options=settings)
    lc.compress_documents([Document(text) for text in DOCS], QUERY)
    li.postprocess_nodes([NodeWithScore(node=TextNode(text=text)) for text in DOCS], query_str=QUERY)
    assert [body["model"] for body in bodies(emulator)] == ["qwen3-rerank", "gte-rerank-v2"]


def test_model_string_conflicts_are_configuration_errors(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="qwen3-rerank"):
        backend_from_model("dashscope/qwen3-rerank", model="gte-rerank-v2", api_key=KEY)
    assert backend_from_model("dashscope", model="qwen3-rerank", api_key=KEY).model == "qwen3-rerank"
    with pytest.raises(ConfigurationError, match="unknown_option"):
        backend_from_model("dashscope", unknown_option=True, api_key=KEY)


def test_importing_the_adapters_does_not_import_the_sdk() -> None:
    imported = ["langchain_multirerank", "multirerank.backends.dashscope"]
    assert loaded_after_importing(imported, ["dashscope", "aiohttp", "llama_index"]) == []
