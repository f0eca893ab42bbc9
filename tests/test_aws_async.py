"""The AWS backends' native async path: aiobotocore clients, one per event loop.

Each scenario runs twice against the wire emulator, through ``rerank`` (boto3) and ``arerank``
(aiobotocore), and both must come out the same: results, usage, what was sent, or the error.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from multirerank.backends.aws import AWSBackend
from multirerank.backends.bedrock import BedrockOptions
from multirerank.backends.sagemaker import SageMakerOptions
from multirerank.engine import Reranker
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.testing import Emulator
from multirerank.testing.sagemaker import tei
from tests.async_lifetime_support import many_asyncio_runs, slow_callbacks_of_first_call
from tests.aws_support import (
    DUMMY_SECRET,
    QUERY,
    REGION,
    client_settings,
    corpus,
    isolated_aws_env,  # noqa: F401 (autouse)
    plain_client,
    pointwise_scorer,
)
from tests.emulator_support import emulator_fixtures
from tests.sdk_support import ROOT

MODEL_ID = "cohere.rerank-v3-5:0"
ENDPOINT = "bge-reranker"

server, emu = emulator_fixtures("emu", scorer=pointwise_scorer)


def quick_config(**options: Any) -> Config:
    """One attempt (faults surface as they are) and short timeouts, unless ``options`` say otherwise.

    The retry mode is named: botocore's default is "standard" from 1.44 on but "legacy" before,
    and aiobotocore may hold botocore back.
    """
    retries = {"mode": "standard", "total_max_attempts": 1}
    return Config(**{"retries": retries, "connect_timeout": 2, "read_timeout": 2, **options})


def bedrock(emu: Emulator, **overrides: Any) -> AWSBackend:
    fields = {"model_arn": MODEL_ID, "endpoint_url": emu.url, "config": quick_config(), **overrides}
    return BedrockOptions(**client_settings(**fields)).build_backend()


def sagemaker(emu: Emulator, **overrides: Any) -> AWSBackend:
    fields = {"endpoint_name": ENDPOINT, "endpoint_url": emu.url, "config": quick_config(), **overrides}
    return SageMakerOptions(**client_settings(**fields)).build_backend()


BACKENDS: dict[str, Callable[..., AWSBackend]] = {"bedrock": bedrock, "sagemaker": sagemaker}


# -- sync and async, side by side ----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A rerank call against a prepared emulator, and what both paths must come out with.

    ``expect`` is the error type both raise (with ``retryable``), or None for success with
    ``requests`` requests sent, of which the usage counts ``counted`` (retries are not counted).
    """

    name: str
    backend: str
    texts: list[str] = field(default_factory=lambda: corpus(12))
    query: str = QUERY
    top_n: int | None = None
    prepare: Callable[[Emulator], None] = lambda emu: None
    options: dict[str, Any] = field(default_factory=dict)
    max_retries: int | None = None
    expect: type[RerankError] | None = None
    retryable: bool | None = None
    requests: int | None = None
    counted: int | None = None


def inject(**fault: Any) -> Callable[[Emulator], None]:
    def prepare(emu: Emulator) -> None:
        emu.inject(**fault)

    return prepare


def set_state(key: str, make: Callable[[], Any]) -> Callable[[Emulator], None]:
    """Sets ``emu.state[key]`` to a fresh ``make()`` for each run (some values are consumed)."""

    def prepare(emu: Emulator) -> None:
        emu.state[key] = make()

    return prepare


def busy_once(status: int) -> dict[str, Any]:
    answers = iter([(status, {"error": "Model is overloaded", "error_type": "Overloaded"})])
    return {ENDPOINT: lambda emulator, body: next(answers, None) or tei(emulator, body)}


def container_answers(status: int) -> dict[str, Any]:
    return {ENDPOINT: lambda emulator, body: (status, {"error": "boom", "error_type": "X"})}


def unreachable_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def repeated_query_texts() -> list[str]:
    """With a long query repeated per text, the engine's two requests are each over 6 MiB."""
    return [f"doc{i} " + "battery " * 12_750 for i in range(64)]


SCENARIOS = [
    # Bedrock: split lists, nextToken pages, botocore's retries, every error path.
    Scenario("split list", "bedrock", corpus(2500), top_n=10, requests=3),
    Scenario("pages", "bedrock", corpus(10), prepare=set_state("bedrock.page_size", lambda: 4), requests=3),
    Scenario(
        "pages of split lists",
        "bedrock",
        corpus(2500),
        top_n=10,
        prepare=set_state("bedrock.page_size", lambda: 7),
        requests=6,
    ),
    Scenario(
        "botocore retries throttling",
        "bedrock",
        prepare=inject(status=429, code="ThrottlingException", vendor="bedrock"),
        options={"config": quick_config(retries={"mode": "standard", "total_max_attempts": 2})},
        requests=2,
        counted=1,
    ),
    Scenario(
        "429",
        "bedrock",
        prepare=inject(status=429, code="ThrottlingException", vendor="bedrock"),
        expect=ThrottledError,
        retryable=True,
    ),
    Scenario(
        "500",
        "bedrock",
        prepare=inject(status=500, code="InternalServerException", vendor="bedrock"),
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "400",
        "bedrock",
        prepare=inject(status=400, code="ValidationException", vendor="bedrock"),
        expect=BadRequestError,
        retryable=False,
    ),
    Scenario(
        "403",
        "bedrock",
        prepare=inject(status=403, code="AccessDeniedException", vendor="bedrock"),
        expect=AuthenticationError,
        retryable=False,
    ),
    Scenario(
        "404",
        "bedrock",
        prepare=inject(status=404, code="ResourceNotFoundException", vendor="bedrock"),
        expect=NotFoundError,
        retryable=False,
    ),
    Scenario(
        "malformed",
        "bedrock",
        prepare=inject(malformed=True, vendor="bedrock"),
        expect=MalformedResponseError,
    ),
    Scenario(
        "dropped connection",
        "bedrock",
        prepare=inject(drop=True, vendor="bedrock"),
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "timeout",
        "bedrock",
        prepare=inject(latency=1.5, vendor="bedrock"),
        options={"config": quick_config(read_timeout=0.5)},
        expect=RerankTimeoutError,
        retryable=True,
    ),
    Scenario(
        "no credentials",
        "bedrock",
        options={"aws_access_key_id": None, "aws_secret_access_key": None},
        expect=AuthenticationError,
        retryable=False,
    ),
    Scenario(
        "unreachable",
        "bedrock",
        options={"endpoint_url": unreachable_url()},
        expect=ProviderError,
        retryable=True,
    ),
    # SageMaker: split lists, halved bodies, the engine's retries, container and service errors.
    Scenario("split list", "sagemaker", corpus(70), top_n=5, requests=3),
    Scenario(
        "halved bodies",
        "sagemaker",
        repeated_query_texts(),
        query="solar " * 17_000,
        options={"payload_format": "hf-text-classification"},
        requests=4,
    ),
    Scenario("raw scores", "sagemaker", options={"raw_scores": True}, requests=1),
    Scenario(
        "target headers",
        "sagemaker",
        options={
            "target_model": "model-a.tar.gz",
            "target_variant": "variant-b",
            "inference_component_name": "reranker-ic",
            "custom_attributes": "trace=42",
        },
        requests=1,
    ),
    Scenario(
        "model not ready, retried by the engine",
        "sagemaker",
        prepare=inject(status=429, code="ModelNotReadyException", message="loading", vendor="sagemaker"),
        requests=2,
        counted=1,
    ),
    Scenario(
        "busy container, retried by the engine",
        "sagemaker",
        prepare=set_state("sagemaker.formats", lambda: busy_once(503)),
        requests=2,
        counted=1,
    ),
    Scenario(
        "429 ModelError",
        "sagemaker",
        prepare=set_state("sagemaker.formats", lambda: container_answers(429)),
        max_retries=0,
        expect=ThrottledError,
        retryable=True,
    ),
    Scenario(
        "500 ModelError",
        "sagemaker",
        prepare=set_state("sagemaker.formats", lambda: container_answers(500)),
        max_retries=0,
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "422 ModelError",
        "sagemaker",
        prepare=set_state("sagemaker.formats", lambda: container_answers(422)),
        expect=BadRequestError,
        retryable=False,
    ),
    Scenario(
        "ThrottlingException",
        "sagemaker",
        prepare=inject(status=400, code="ThrottlingException", vendor="sagemaker"),
        expect=ThrottledError,
        retryable=True,
    ),
    Scenario(
        "500",
        "sagemaker",
        prepare=inject(status=500, code="InternalFailure", vendor="sagemaker"),
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "unknown endpoint",
        "sagemaker",
        prepare=set_state("sagemaker.endpoints", lambda: {"other-endpoint"}),
        expect=NotFoundError,
        retryable=False,
    ),
    Scenario(
        "malformed",
        "sagemaker",
        prepare=inject(malformed=True, vendor="sagemaker"),
        expect=MalformedResponseError,
    ),
    Scenario(
        "dropped connection",
        "sagemaker",
        prepare=inject(drop=True, vendor="sagemaker"),
        max_retries=0,
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "truncated answer",
        "sagemaker",
        prepare=inject(truncated=True, vendor="sagemaker"),
        max_retries=0,
        expect=ProviderError,
        retryable=True,
    ),
    Scenario(
        "timeout",
        "sagemaker",
        prepare=inject(latency=1.5, vendor="sagemaker"),
        options={"config": quick_config(read_timeout=0.5)},
        max_retries=0,
        expect=RerankTimeoutError,
        retryable=True,
    ),
]


def outcome(call: Callable[[], Any]) -> Any:
    """What a rerank call came out with, in terms both paths must agree on."""
    try:
        response = call()
    except RerankError as error:
        assert DUMMY_SECRET not in str(error)
        return ("error", type(error), error.provider, error.status, error.code, error.retryable)
    return (
        "ok",
        [(result.index, result.relevance_score) for result in response],
        response.usage,
        response.score_scale,
        response.metadata,
    )


#: Headers the backends set, which must reach the wire the same way from both clients. (Others
#: are the HTTP library's: aiohttp sends "Accept: */*" where urllib3 sends none.)
COMPARED_HEADERS = (
    "Content-Type",
    "X-Amzn-SageMaker-Target-Model",
    "X-Amzn-SageMaker-Target-Variant",
    "X-Amzn-SageMaker-Inference-Component",
    "X-Amzn-SageMaker-Custom-Attributes",
)


def sent(emu: Emulator) -> list[tuple[Any, ...]]:
    requests = [
        (
            request.path,
            # InvokeEndpoint's Accept is the payload format's.
            request.header("Accept") if request.path.endswith("/invocations") else None,
            *(request.header(name) for name in COMPARED_HEADERS),
            request.body,
        )
        for request in emu.requests
    ]
    # Split lists go out concurrently, in any order.
    return sorted(requests, key=repr)


def reranker_for(emu: Emulator, scenario: Scenario) -> Reranker:
    return Reranker(BACKENDS[scenario.backend](emu, **scenario.options), max_retries=scenario.max_retries)


def sync_run(emu: Emulator, scenario: Scenario) -> tuple[Any, list[tuple[Any, ...]]]:
    emu.clear()
    scenario.prepare(emu)
    with reranker_for(emu, scenario) as reranker:
        result = outcome(lambda: reranker.rerank(scenario.query, scenario.texts, scenario.top_n))
    return result, sent(emu)


async def async_run(emu: Emulator, scenario: Scenario) -> tuple[Any, list[tuple[Any, ...]]]:
    emu.clear()
    scenario.prepare(emu)
    async with reranker_for(emu, scenario) as reranker:
        assert reranker.backend.has_native_async
        try:
            response: Any = await reranker.arerank(scenario.query, scenario.texts, scenario.top_n)
        except RerankError as error:
            response = error
    return outcome(lambda: _raise_or_return(response)), sent(emu)


def _raise_or_return(value: Any) -> Any:
    if isinstance(value, RerankError):
        raise value
    return value


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.backend}-{s.name}" for s in SCENARIOS])
async def test_async_comes_out_as_sync_does(emu: Emulator, scenario: Scenario) -> None:
    sync_outcome, sync_sent = sync_run(emu, scenario)
    async_outcome, async_sent = await async_run(emu, scenario)
    assert async_outcome == sync_outcome
    assert async_sent == sync_sent
    # The scenario does what it says: the error it names, or success in so many requests.
    if scenario.expect is None:
        assert sync_outcome[0] == "ok", sync_outcome
        assert len(sync_sent) == scenario.requests
        assert sync_outcome[2].requests == (scenario.counted or scenario.requests)
    else:
        assert sync_outcome[0] == "error"
        assert sync_outcome[1] is scenario.expect
        if scenario.retryable is not None:
            assert sync_outcome[5] is scenario.retryable


async def test_a_truncated_rerank_answer_is_a_lost_connection_on_the_async_path(emu: Emulator) -> None:
    # The sync path differs here (see DEVIATIONS in test_backend_contract.py): botocore reads a
    # non-streaming answer without checking its length, so half a body parses as an empty one.
    emu.inject(truncated=True, vendor="bedrock")
    async with Reranker(bedrock(emu)) as reranker:
        with pytest.raises(ProviderError) as caught:
            await reranker.arerank(QUERY, ["solar panel"])
    assert type(caught.value) is ProviderError
    assert caught.value.retryable


# -- really aiobotocore, on the loop -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_64_concurrent_callers_use_aiobotocore_and_no_pool_thread(
    emu: Emulator, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.client import AioBaseClient

    backend = BACKENDS[name](emu)

    def no_sync_call(*args: Any) -> Any:
        raise AssertionError("the sync path was used")

    monkeypatch.setattr(backend, "rerank_batch", no_sync_call)
    texts = corpus(40)
    async with Reranker(backend) as reranker:
        responses = await asyncio.gather(*(reranker.arerank(QUERY, texts, top_n=3) for _ in range(64)))
        pool_threads = [t.name for t in threading.enumerate() if t.name.startswith(f"multirerank-{name}")]
        assert isinstance(await backend.async_client(), AioBaseClient)
        assert backend.async_clients is not None and backend.async_clients.count() == 1
    assert pool_threads == []
    assert len({tuple((r.index, r.relevance_score) for r in response) for response in responses}) == 1
    # 40 documents are one Bedrock request, and two SageMaker ones (32 per request).
    assert len(emu.requests) == 64 * (1 if name == "bedrock" else 2)


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_a_users_own_boto3_client_runs_on_the_pool(emu: Emulator, name: str) -> None:
    service = "bedrock-agent-runtime" if name == "bedrock" else "sagemaker-runtime"
    backend = BACKENDS[name](emu, client=plain_client(service, emu))
    assert backend.async_clients is None
    assert not backend.has_native_async
    async with Reranker(backend) as reranker:
        response = await reranker.arerank(QUERY, corpus(5))
        assert any(t.name.startswith(f"multirerank-{name}") for t in threading.enumerate())
    assert len(response) == 5
    with pytest.raises(NotImplementedError, match="no async client"):
        await backend.arerank_batch(QUERY, ["solar"], None)


async def test_without_aiobotocore_async_calls_run_on_the_pool(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiobotocore", None)  # as if only boto3 were installed
    backend = bedrock(emu)
    assert backend.async_clients is None and not backend.has_native_async
    async with Reranker(backend) as reranker:
        assert len(await reranker.arerank(QUERY, corpus(5))) == 5


async def test_a_request_fields_twin_shares_the_async_clients(emu: Emulator) -> None:
    backend = bedrock(emu)
    twin = backend.with_request_fields({"max_tokens_per_doc": 64})  # type: ignore[attr-defined]
    assert twin.async_clients is backend.async_clients
    assert twin.has_native_async
    await twin.arerank_batch(QUERY, ["solar panel"], None)
    await backend.arerank_batch(QUERY, ["solar panel"], None)
    assert backend.async_clients is not None and backend.async_clients.count() == 1
    # The twin owns nothing: closing it leaves the parent's clients open.
    await twin.aclose()
    assert backend.async_clients.count() == 1
    await backend.arerank_batch(QUERY, ["wind"], None)
    await backend.aclose()
    assert backend.async_clients.count() == 0
    fields = [
        request.json()["rerankingConfiguration"]["bedrockRerankingConfiguration"]["modelConfiguration"]
        for request in emu.requests
    ]
    assert [field.get("additionalModelRequestFields") for field in fields] == [
        {"max_tokens_per_doc": 64},
        None,
        None,
    ]


# -- settings shared with the boto3 client -------------------------------------------------------


def write_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[team]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"
    )
    config = tmp_path / "config"
    config.write_text(f"[profile team]\nregion = {REGION}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


def signer(request: Any) -> str:
    """``<key id>/<date>/<region>/<service>`` of a request's SigV4 signature, without the date."""
    scope = (request.header("Authorization") or "").split("Credential=")[1].split(",")[0]
    key, _, region, service, _ = scope.split("/")
    return f"{key}/{region}/{service}"


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_both_clients_sign_with_the_same_profile_and_region(
    emu: Emulator, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profile(tmp_path, monkeypatch)
    target = {"model_arn": MODEL_ID} if name == "bedrock" else {"endpoint_name": ENDPOINT}
    options = {
        **target,
        "endpoint_url": emu.url,
        "credentials_profile_name": "team",
        "config": quick_config(),
    }
    built = (BedrockOptions if name == "bedrock" else SageMakerOptions)(**options).build_backend()
    async with Reranker(built) as reranker:
        reranker.rerank(QUERY, ["solar panel"])
        await reranker.arerank(QUERY, ["solar panel"])
    first, second = (signer(request) for request in emu.requests)
    assert first == second
    assert first.startswith(f"AKIDPROFILE/{REGION}/")


def test_secrets_stay_out_of_the_async_clients_repr(emu: Emulator) -> None:
    backend = bedrock(emu)
    assert backend.async_clients is not None
    assert DUMMY_SECRET not in repr(backend.async_clients)
    assert "AKIDEXAMPLE" not in repr(backend.async_clients)
    assert DUMMY_SECRET not in repr(backend)


# -- one client per loop, closed with its loop ---------------------------------------------------


def watch_close(client: Any, closed: list[Any]) -> Any:
    """``client``, noting in ``closed`` when it is closed (and then closing it)."""
    close = client.close

    async def noted() -> None:
        closed.append(client)
        await close()

    client.close = noted
    return client


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_loop_shares_the_io_loops_client_until_close(emu: Emulator, name: str) -> None:
    """The client lives on the process's AWS I/O loop: callers' loops come and go, it stays."""
    backend = BACKENDS[name](emu)
    clients: list[Any] = []
    closed: list[Any] = []

    async def call() -> None:
        clients.append(await backend.async_client())
        await backend.arerank_batch(QUERY, ["solar panel", "wind"], None)

    asyncio.run(call())
    asyncio.run(call())
    assert clients[0] is clients[1]
    watch_close(clients[0], closed)
    assert backend.async_clients is not None and backend.async_clients.count() == 1
    backend.close()
    assert closed == clients[:1]
    assert backend.async_clients.count() == 0


def test_close_closes_the_client_of_a_loop_that_is_not_running(emu: Emulator) -> None:
    backend = sagemaker(emu)
    loop = asyncio.new_event_loop()
    try:
        closed: list[Any] = []
        client = watch_close(loop.run_until_complete(backend.async_client()), closed)
        loop.run_until_complete(backend.arerank_batch(QUERY, ["solar"], None))
        backend.close()
        assert backend.async_clients is not None and backend.async_clients.count() == 0
        assert closed == [client]
    finally:
        loop.close()


def test_a_loop_closed_without_shutting_down_is_forgotten(emu: Emulator) -> None:
    backend = bedrock(emu)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(backend.arerank_batch(QUERY, ["solar"], None))
    loop.close()  # without shutdown_asyncgens(): nothing can close the client on it any more
    with warnings.catch_warnings():
        # Its sockets are left to the garbage collector, which may warn about them.
        warnings.simplefilter("ignore", ResourceWarning)
        backend.close()
        gc.collect()
    assert backend.async_clients is not None and backend.async_clients.count() == 0


SETUPS = {
    "bedrock": (
        "from multirerank.backends.bedrock import BedrockOptions\n"
        f"backend = BedrockOptions(model_arn={MODEL_ID!r}, region_name={REGION!r}, endpoint_url=sys.argv[1],"
        " aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='x').build_backend()\n"
    ),
    "sagemaker": (
        "from multirerank.backends.sagemaker import SageMakerOptions\n"
        f"backend = SageMakerOptions(endpoint_name={ENDPOINT!r}, region_name={REGION!r}, endpoint_url=sys.argv[1],"
        " aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='x').build_backend()\n"
    ),
}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
@pytest.mark.parametrize("name", sorted(SETUPS))
def test_thirty_asyncio_runs_leave_no_socket_loop_or_warning(emu: Emulator, name: str) -> None:
    report = many_asyncio_runs(SETUPS[name], "backend.async_clients", emu.url)
    # One client, on the one I/O loop, whatever the number of loops that called.
    assert report == {"before": report["before"], "after": report["before"], "held": 1, "loops": 1}
    assert len(emu.requests) == 31


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_the_first_async_call_does_not_block_the_event_loop(emu: Emulator, name: str) -> None:
    # aiobotocore (with aiohttp) is imported on a thread of its own, not on the loop.
    assert slow_callbacks_of_first_call(SETUPS[name], emu.url) == []


# -- lazy imports --------------------------------------------------------------------------------


def test_backends_import_no_aiobotocore_until_an_async_client_is_needed(emu: Emulator) -> None:
    code = (
        "import sys\n"
        "import multirerank.backends.bedrock, multirerank.backends.sagemaker, multirerank.backends.aws_async\n"
        "assert 'aiobotocore' not in sys.modules and 'aiohttp' not in sys.modules\n"
        + SETUPS["bedrock"]
        + "from multirerank import Reranker\n"
        "Reranker(backend).rerank('how do cats purr', ['cats purr', 'dogs bark'])\n"
        "assert 'aiobotocore' not in sys.modules, 'the sync path imported aiobotocore'\n"
        "import asyncio\n"
        "asyncio.run(Reranker(backend).arerank('how do cats purr', ['cats purr', 'dogs bark']))\n"
        "assert 'aiobotocore' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, emu.url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert len(emu.requests) == 2
