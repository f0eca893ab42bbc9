"""The contract every emulator-backed backend keeps, each case sync and async.

Bedrock, SageMaker (TEI), watsonx.ai, DashScope, Vertex AI and every HTTP format run the same cases through
their real SDKs against the wire emulator (the table is :data:`tests.contract_support.CONTRACTS`):

- a list over the per-request limit is split, and the merged ranking is the unsplit one, with
  ``top_n`` and ``score_threshold`` applied after the merge and every request counted;
- every vendor status and code becomes its project error type, with provider and status;
- a failure answered once is retried (by the engine or by the SDK, whichever owns it) and
  recovered; one answered every time ends in its typed error; a dropped connection or a cut-off
  answer is a retryable ``ProviderError``; an answer that is not JSON is malformed, and not retried.

What only one vendor does (request shapes, options, credentials, pages, timeouts) stays in its
own module.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from multirerank import MalformedResponseError, ProviderError, Reranker, RerankError, RerankResponse
from multirerank.testing import Emulator
from tests.aws_support import QUERY, isolated_aws_env, pointwise_scorer  # noqa: F401 (autouse)
from tests.contract_support import (
    CONTRACTS,
    TOO_LONG,
    UNCHECKED,
    Contract,
    ErrorCase,
    Fault,
    Persistent,
    Setup,
    contract_texts,
)

MODES = ["sync", "async"]
#: The texts of the cases that send one request.
TEXTS = contract_texts(5)


def each_contract() -> list[Any]:
    return [pytest.param(contract, id=contract.name) for contract in CONTRACTS]


def each_contract_with(cases: str) -> list[Any]:
    """``(contract, case)`` for every case in each contract's field ``cases``."""
    return [
        pytest.param(contract, case, id=f"{contract.name}-{case.label}")
        for contract in CONTRACTS
        for case in getattr(contract, cases)
    ]


# -- emulators: one plain, one TLS (for watsonx.ai), both scoring each text on its own -----------


@pytest.fixture(scope="module")
def plain_server() -> Iterator[Emulator]:
    with Emulator(scorer=pointwise_scorer) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Emulator]:
    with Emulator(tls=True, scorer=pointwise_scorer) as emulator:
        yield emulator


def _clear(server: Emulator) -> None:
    # Keep the watsonx.ai signing key: tokens issued earlier stay valid.
    kept = {key: server.state[key] for key in ("watsonx_signing_key",) if key in server.state}
    server.clear()
    server.state.clear()
    server.state.update(kept)


@pytest.fixture
def emulator(request: pytest.FixtureRequest, contract: Contract) -> Iterator[Emulator]:
    """The contract's emulator, with no requests, faults or state left from earlier tests."""
    server: Emulator = request.getfixturevalue("tls_server" if contract.tls else "plain_server")
    _clear(server)
    yield server
    _clear(server)


# -- helpers ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def reranker(
    contract: Contract,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    *,
    retrying: bool,
    split: bool = False,
    **engine: Any,
) -> AsyncIterator[Reranker]:
    rr = Reranker(contract.build(Setup(emulator, monkeypatch, retrying, split)), **engine)
    try:
        yield rr
    finally:
        await rr.aclose()


async def rank(rr: Reranker, mode: str, texts: list[str], **options: Any) -> RerankResponse:
    if mode == "async":
        return await rr.arerank(QUERY, texts, **options)
    return rr.rerank(QUERY, texts, **options)


def inject(emulator: Emulator, contract: Contract, **fields: Any) -> None:
    emulator.inject(vendor=contract.vendor, path=contract.path, **fields)


def sent(emulator: Emulator, contract: Contract) -> int:
    """How many rerank requests reached the emulator."""
    return len(emulator.requests_to(contract.path))


def pairs(response: RerankResponse) -> list[tuple[int, float]]:
    return [(result.index, result.relevance_score) for result in response]


# -- split and merge ------------------------------------------------------------------------------

TOP_N = 4
#: The threshold is the score of the result at this rank: fewer pass it than top_n asks for.
THRESHOLD_RANK = 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("contract", each_contract())
async def test_a_list_over_the_limit_is_split_and_merged_like_one_ranking(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, contract: Contract, mode: str
) -> None:
    split = contract.split
    texts = contract_texts(split.documents)
    requests = math.ceil(split.documents / split.per_request)
    # Each text is scored on its own, so the whole list in one request ranks like this.
    unsplit = emulator.ranked(QUERY, texts)
    # Normalized, watsonx.ai's logits compare with the emulator's probabilities too.
    async with reranker(
        contract, emulator, monkeypatch, retrying=False, split=True, normalize_scores=True
    ) as rr:
        everything = await rank(rr, mode, texts)
        bodies = [contract.texts_of(request) for request in emulator.requests_to(contract.path)]
        best = await rank(rr, mode, texts, top_n=TOP_N)
        threshold = everything.results[THRESHOLD_RANK].relevance_score
        passing = await rank(rr, mode, texts, top_n=TOP_N, score_threshold=threshold)

    assert len(bodies) == requests
    assert all(len(body) <= split.per_request for body in bodies)
    assert sorted(text for body in bodies for text in body) == sorted(texts)
    assert [index for index, _ in pairs(everything)] == [index for index, _ in unsplit]
    assert [score for _, score in pairs(everything)] == pytest.approx(
        [score for _, score in unsplit], abs=1e-5
    )
    # top_n and the threshold cut the merged ranking, not each request's.
    assert pairs(best) == pairs(everything)[:TOP_N]
    above = [pair for pair in pairs(everything) if pair[1] >= threshold]
    assert THRESHOLD_RANK < len(above) < TOP_N
    assert pairs(passing) == above
    for response in (everything, best, passing):
        assert response.usage is not None and response.usage.requests == requests
        assert response.provider == contract.provider
    assert sent(emulator, contract) == 3 * requests


# -- error mapping --------------------------------------------------------------------------------


@pytest.mark.parametrize(("contract", "case"), each_contract_with("errors"))
async def test_vendor_errors_map_onto_project_errors(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, contract: Contract, case: ErrorCase
) -> None:
    """Sync and async alike: one reranker makes both calls (building one per mode would double
    this, the contract's largest family, for no more coverage)."""
    inject(emulator, contract, status=case.status, code=case.code, message=case.message, times=None)
    async with reranker(contract, emulator, monkeypatch, retrying=False, max_retries=0) as rr:
        for mode in MODES:
            with pytest.raises(RerankError) as caught:
                await rank(rr, mode, TEXTS)
            error = caught.value
            assert type(error) is case.kind, mode
            assert (error.provider, error.status, error.retryable) == (
                contract.provider,
                case.expected_status or case.status,
                case.retryable,
            ), mode
            if case.checked_code is not UNCHECKED:
                assert error.code == case.checked_code, mode
            assert case.message in str(error), mode
            if contract.secret is not None:
                assert contract.secret not in str(error) and contract.secret not in repr(error), mode


# -- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("contract", "fault"), each_contract_with("transient"))
async def test_a_failure_answered_once_is_retried_and_recovered(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, contract: Contract, fault: Fault, mode: str
) -> None:
    inject(emulator, contract, times=1, **fault.fields)
    async with reranker(contract, emulator, monkeypatch, retrying=True) as rr:
        response = await rank(rr, mode, TEXTS)
    assert [index for index, _ in pairs(response)] == [index for index, _ in emulator.ranked(QUERY, TEXTS)]
    assert sent(emulator, contract) == 2
    # Retries are not counted as requests.
    assert response.usage is not None and response.usage.requests == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("contract", "persistent"), each_contract_with("persistent"))
async def test_a_failure_answered_every_time_ends_in_its_typed_error(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, contract: Contract, persistent: Persistent, mode: str
) -> None:
    inject(emulator, contract, times=None, **persistent.fault.fields)
    async with reranker(contract, emulator, monkeypatch, retrying=True) as rr:
        with pytest.raises(RerankError) as caught:
            await rank(rr, mode, TEXTS)
    error = caught.value
    assert type(error) is persistent.kind
    assert error.provider == contract.provider
    assert sent(emulator, contract) == persistent.attempts
    if persistent.fault.fields.get("headers") == TOO_LONG:
        # Too long to hold the request for: it fails at once, saying how long the vendor asked.
        assert error.retry_after == float(TOO_LONG["Retry-After"])


#: Where a backend breaks the contract today: (contract, case, mode) -> why. Reported as library
#: bugs; strict, so a fix shows up as an unexpected pass.
DEVIATIONS = {
    ("bedrock", "truncated", "sync"): (
        "botocore reads non-streaming answers with enforce_content_length=False, so a Rerank "
        "answer cut off mid-body is parsed as a bad one: MalformedResponseError, not retried "
        "(the aiobotocore path sees the lost connection)"
    ),
}


def expect_deviation(request: pytest.FixtureRequest, *key: str) -> None:
    if key in DEVIATIONS:
        request.applymarker(pytest.mark.xfail(reason=DEVIATIONS[key], strict=True))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("broken", ["drop", "truncated"])
@pytest.mark.parametrize("contract", each_contract())
async def test_a_lost_connection_is_a_retryable_provider_error(
    request: pytest.FixtureRequest,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    contract: Contract,
    broken: str,
    mode: str,
) -> None:
    expect_deviation(request, contract.name, broken, mode)
    inject(emulator, contract, times=None, **{broken: True})
    async with reranker(contract, emulator, monkeypatch, retrying=False, max_retries=0) as rr:
        with pytest.raises(RerankError) as caught:
            await rank(rr, mode, TEXTS)
    error = caught.value
    assert type(error) is ProviderError
    assert error.retryable and error.provider == contract.provider


# -- malformed answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("contract", each_contract())
async def test_an_answer_that_is_not_json_is_malformed_and_not_retried(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, contract: Contract, mode: str
) -> None:
    inject(emulator, contract, malformed=True, times=None)
    async with reranker(contract, emulator, monkeypatch, retrying=True) as rr:
        with pytest.raises(RerankError) as caught:
            await rank(rr, mode, TEXTS)
    error = caught.value
    assert type(error) is MalformedResponseError
    assert not error.retryable and error.provider == contract.provider
    assert sent(emulator, contract) == 1
