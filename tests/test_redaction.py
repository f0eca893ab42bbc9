"""Secrets a vendor echoes back never show: not in an error's text, arguments or attributes, not in
its chained causes or traceback, not in the project's log records.

Each backend is run, sync and async, against an emulator that echoes every credential the request
carried (``Fault(echo=...)``) in the error message, in a field of the error body, or in a
plain-text body; secrets that never travel (an AWS secret key) are put in the message by the test.
The mechanism itself (:mod:`multirerank.redaction`) is tested first.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import pickle
import re
import socket
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from multirerank import Reranker
from multirerank.backends.base import Backend
from multirerank.backends.bedrock import BedrockBackend
from multirerank.errors import AuthenticationError, ProviderError, RerankError
from multirerank.redaction import (
    MASK,
    RedactedException,
    RedactingFilter,
    Redactor,
    redactor,
    register,
    registered,
    scrub_failure,
    secret_forms,
)
from multirerank.testing import Emulator, Fault
from multirerank.testing.echo import ECHOES, request_credentials
from multirerank.testing.server import Request
from multirerank.testing.watsonx import RERANK_PATH as WATSONX_RERANK_PATH
from multirerank.testing.watsonx import issue_token
from multirerank.types import BatchResult, DocumentInput
from tests.aws_support import REGION, isolated_aws_env  # noqa: F401 - an autouse fixture
from tests.emulator_support import emulator_fixtures
from tests.http_support import FORMATS, SETUPS, http_options
from tests.leak_support import assert_no_secret, error_surfaces, log_surfaces
from tests.sdk_support import DOCS, QUERY, SDK_ENV, WATSONX_ENV

ROOT = Path(__file__).resolve().parents[1]
MODES = ("sync", "async")
WATSONX_MODEL = "cross-encoder/ms-marco-minilm-l-12-v2"
ENVIRONMENT = ("DASHSCOPE_API_KEY", "COHERE_API_KEY", "JINA_API_KEY", *WATSONX_ENV, *SDK_ENV)
project_logger = logging.getLogger("multirerank")


def secret(name: str) -> str:
    """A recognisable secret, long enough to be masked."""
    return f"LEAK-{name}-7f3a9c"


server, emulator = emulator_fixtures()


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Emulator]:
    """watsonx.ai's SDK speaks HTTPS only."""
    with Emulator(tls=True) as running:
        yield running


@pytest.fixture
def tls_emulator(tls_server: Emulator) -> Iterator[Emulator]:
    key = tls_server.state.get("watsonx_signing_key")
    tls_server.clear()
    tls_server.state.clear()
    if key is not None:
        tls_server.state["watsonx_signing_key"] = key
    yield tls_server
    tls_server.clear()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the emulators on 127.0.0.1 are reached; no variable of this machine fills a field; the
    watsonx.ai SDK does not retry (once shows the error)."""
    lookup = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost"):
            raise AssertionError(f"a test tried to reach {host!r}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    for name in ENVIRONMENT:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    from ibm_watsonx_ai._wrappers.httpx.retry_transport import factories

    monkeypatch.setattr(factories, "TRANSPORT_RETRIES", 0)


# -- the mechanism -------------------------------------------------------------------------------


def test_secret_forms_cover_echoes_and_skip_short_values() -> None:
    forms = secret_forms([SecretStr("Bearer tok-12345"), "abc", None, "", "p@ss word/1"])
    assert "Bearer tok-12345" in forms and "tok-12345" in forms
    assert "abc" not in forms
    # As a URL-encoded form or a JSON string would carry it.
    assert "p%40ss%20word%2F1" in forms and "p%40ss+word%2F1" in forms
    assert "p@ss word/1" in forms
    assert [len(form) for form in forms] == sorted((len(form) for form in forms), reverse=True)


def test_masking_is_whole_longest_first_and_case_blind() -> None:
    masking = Redactor(["key-1234", "key-1234-long-form", "Bearer tok-5678"])
    assert masking.mask("a key-1234-long-form b KEY-1234 c tok-5678") == f"a {MASK} b {MASK} c {MASK}"
    assert masking.mask('{"k": "Bearer tok-5678"}') == '{"k": "***"}'
    assert not Redactor(["abc"]) and Redactor(["abcd"])
    assert "key-1234" not in repr(masking)


def test_a_rerank_error_is_masked_in_place_and_keeps_its_type() -> None:
    key = secret("unit")
    error = AuthenticationError(f"Invalid API-key provided: {key}", provider="x", status=401, code=key)
    error.add_note(f"note {key}")
    scrubbed = redactor([key]).scrub(error)
    assert scrubbed is error and isinstance(scrubbed, AuthenticationError)
    assert error.message == f"Invalid API-key provided: {MASK}" and error.args == (error.message,)
    assert error.code == MASK and error.__notes__ == [f"note {MASK}"] and error.status == 401
    assert_no_secret(error_surfaces(error), [key], "unit")
    assert pickle.loads(pickle.dumps(error)).message == error.message


def raised(make: Callable[[], BaseException]) -> BaseException:
    try:
        raise make()
    except BaseException as error:
        return error


def chained(key: str) -> RerankError:
    """A RerankError raised from an SDK error showing ``key``, itself raised while handling
    another that shows it, under one that does not."""
    try:
        try:
            try:
                raise ValueError("low level, nothing secret")
            except ValueError as low:
                raise OSError(f"transport sent Authorization: Bearer {key}") from low
        except OSError:
            raise KeyError(f"sdk saw {key}") from None
    except KeyError as sdk:
        try:
            raise AuthenticationError("refused", provider="x") from sdk
        except AuthenticationError as error:
            return error


def test_chained_causes_showing_a_secret_are_replaced_all_the_way_down() -> None:
    key = secret("chain")
    error = chained(key)
    sdk = error.__cause__
    assert sdk is not None
    scrubbed = scrub_failure(error, _Holder([key]))
    assert scrubbed is error
    stand_in = error.__cause__
    assert isinstance(stand_in, RedactedException) and stand_in.original_type == "builtins.KeyError"
    assert str(stand_in) == f"KeyError: 'sdk saw {MASK}'"
    assert stand_in.__traceback__ is sdk.__traceback__
    # "raise ... from None" stays suppressed, and what it suppressed is scrubbed too.
    assert stand_in.__suppress_context__ and isinstance(stand_in.__context__, RedactedException)
    low = stand_in.__context__.__cause__
    assert type(low) is ValueError, "a cause showing no secret is kept as it is"
    assert error.__suppress_context__
    assert_no_secret(error_surfaces(error), [key], "chain")
    shown = "".join(traceback.format_exception(error))
    assert "RedactedException: KeyError: 'sdk saw ***'" in shown
    assert pickle.loads(pickle.dumps(stand_in)).original_type == "builtins.KeyError"


def test_a_chain_with_a_cycle_is_scrubbed_once() -> None:
    key = secret("cycle")
    first, second = ValueError(f"one {key}"), ValueError("two")
    first.__context__, second.__context__ = second, first
    error = ProviderError("failed")
    error.__cause__ = first
    scrub_failure(error, _Holder([key]))
    assert isinstance(error.__cause__, RedactedException)
    assert error.__cause__.__context__ is second and second.__context__ is error.__cause__
    assert_no_secret(error_surfaces(error), [key], "cycle")


class _Opaque(Exception):
    """Renders its text from somewhere args masking cannot reach."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._render: Callable[[], str] = lambda: text

    def __str__(self) -> str:
        return self._render()


def test_other_exceptions_are_masked_in_place_or_stood_in_for() -> None:
    key = secret("other")
    plain = raised(lambda: KeyError(f"missing {key}", {"header": f"Bearer {key}"}))
    assert redactor([key]).scrub(plain) is plain and plain.args == (
        f"missing {MASK}",
        {"header": f"Bearer {MASK}"},
    )
    opaque = raised(lambda: _Opaque(f"text {key}"))
    stood_in = redactor([key]).scrub(opaque)
    assert isinstance(stood_in, RedactedException) and str(stood_in).endswith(f"_Opaque: text {MASK}")
    assert stood_in.__traceback__ is opaque.__traceback__
    for error in (plain, stood_in):
        assert_no_secret(error_surfaces(error), [key], "other")


def test_nothing_to_mask_changes_nothing() -> None:
    error = chained("short")
    cause = error.__cause__
    assert scrub_failure(error, _Holder(["abc", None])) is error and error.__cause__ is cause


@dataclass
class _Holder:
    values: list[str | None]

    def secrets(self) -> list[str | None]:
        return self.values


class _Failing(Backend):
    """Fails every request with an error showing its key, through an SDK exception showing it."""

    provider = "failing"

    def __init__(self, key: str, *, native_async: bool) -> None:
        self.key = key
        self.limits = type(self).limits.__class__(max_documents=2)
        self._native = native_async

    def secrets(self) -> list[str]:
        return [self.key]

    @property
    def has_native_async(self) -> bool:
        return self._native

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        try:
            raise RuntimeError(f"sdk: Invalid API-key provided: {self.key}")
        except RuntimeError as error:
            raise AuthenticationError(f"refused: {error}", provider=self.provider) from error

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        return self.rerank_batch(query, documents, top_n)


@pytest.mark.parametrize("native_async", [True, False], ids=["native-async", "pool"])
@pytest.mark.parametrize("split", [False, True], ids=["one-request", "split"])
@pytest.mark.parametrize("mode", MODES)
def test_the_engine_scrubs_every_path(mode: str, split: bool, native_async: bool) -> None:
    """One request in the caller's thread, a split list on the pool, async awaited or pooled."""
    key = secret("engine")
    documents = ["a b", "b c", "c d", "d e", "e f"] if split else ["a b"]
    reranker = Reranker(_Failing(key, native_async=native_async), max_retries=0)
    with reranker, pytest.raises(AuthenticationError) as caught:
        if mode == "sync":
            reranker.rerank("a", documents)
        else:
            asyncio.run(reranker.arerank("a", documents))
    assert caught.value.message == f"refused: sdk: Invalid API-key provided: {MASK}"
    assert isinstance(caught.value.__cause__, RedactedException)
    assert_no_secret(error_surfaces(caught.value), [key], f"engine-{mode}")


def test_the_filter_masks_registered_secrets_in_records(caplog: pytest.LogCaptureFixture) -> None:
    key = secret("log")
    holder = _Holder([key])
    register(holder)
    error = chained(key)
    with caplog.at_level(logging.DEBUG, logger="multirerank"):
        project_logger.warning("vendor said %s", f"Invalid API-key provided: {key}")
        project_logger.info(f"inline {key} and %d", 3)
        project_logger.error("failed", exc_info=error)
        project_logger.warning("stack", stack_info=True, extra={"unrelated": 1})
    # Arguments that do not fit the message are masked one by one.
    misfit = logging.LogRecord("multirerank", logging.INFO, __file__, 1, f"bad {key} %s %s", (key,), None)
    assert RedactingFilter().filter(misfit)
    assert misfit.msg == f"bad {MASK} %s %s" and misfit.args == (MASK,)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == f"vendor said Invalid API-key provided: {MASK}"
    assert messages[1] == f"inline {MASK} and 3"
    assert_no_secret(log_surfaces(caplog.records), [key], "filter")
    logged = caplog.records[2].exc_info
    assert logged is not None and isinstance(logged[1], RerankError)
    assert isinstance(logged[1].__cause__, RedactedException)
    # Once the holder is gone, its secrets are no longer looked for.
    del holder
    gc.collect()
    assert not registered().leaks(key)


def test_the_filter_sits_on_the_one_logger_the_project_writes_to() -> None:
    assert any(isinstance(existing, RedactingFilter) for existing in project_logger.filters)
    names = set()
    for package in ("multirerank", "langchain_multirerank", "llama_index_multirerank"):
        for path in (ROOT / package).rglob("*.py"):
            names.update(re.findall(r"getLogger\(([^)]*)\)", path.read_text(encoding="utf-8")))
    assert names <= {'"multirerank"', "name"}, names


def test_every_module_logger_of_the_project_masks_secrets() -> None:
    # Records of a module logger (multirerank.engine.retries...) pass up without the parent's
    # filters, so each carries its own.
    modules = set()
    for package in ("multirerank", "langchain_multirerank", "llama_index_multirerank"):
        for path in (ROOT / package).rglob("*.py"):
            if "module_logger(__name__)" in path.read_text(encoding="utf-8"):
                modules.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert "multirerank.engine.retries" in modules
    for name in modules:
        importlib.import_module(name)
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters), name


def test_every_backend_is_registered_when_made() -> None:
    key = secret("registered")
    backend = _Failing(key, native_async=False)
    assert registered().leaks(key)
    del backend
    gc.collect()
    assert not registered().leaks(key)


# -- the emulator echoes -------------------------------------------------------------------------------


def test_the_emulator_finds_credentials_in_headers_and_bodies() -> None:
    request = Request(
        "POST",
        "/x",
        {},
        {
            "Authorization": "Bearer k-1",
            "X-Amz-Security-Token": "t-1",
            "X-BF-VK": "vk-1",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        b"grant_type=password&username=u&password=p-1&apikey=a-1",
    )
    assert request_credentials(request) == [
        "Authorization=Bearer k-1",
        "X-Amz-Security-Token=t-1",
        "X-BF-VK=vk-1",
        "password=p-1",
        "apikey=a-1",
    ]
    as_json = Request("POST", "/x", {}, {}, b'{"username": "u", "api_key": "a-2", "password": "p-2"}')
    assert request_credentials(as_json) == ["api_key=a-2", "password=p-2"]
    with pytest.raises(ValueError, match="echo must be one of"):
        Fault(status=401, echo="headers")


# -- every backend against a vendor that echoes --------------------------------------------------------


@dataclass
class Case:
    """A reranker set up to be refused, the secrets it holds, and where the vendor echoes them."""

    model: str
    options: dict[str, Any]
    secrets: list[str]
    # (fault fields) per injected fault; echo is added per test.
    faults: list[dict[str, Any]]
    #: Reads secrets obtained during the call (a token the SDK got) from the emulator's log.
    obtained: Callable[[], list[str]] | None = None


def run(reranker: Reranker, mode: str) -> None:
    if mode == "sync":
        reranker.rerank(QUERY, DOCS)
    else:
        asyncio.run(reranker.arerank(QUERY, DOCS))


def check_refused(
    case: Case, emulators: Sequence[Emulator], echo: str, mode: str, caplog: Any, where: str
) -> None:
    for emulator_ in emulators:
        emulator_.faults.clear()
    for fault in case.faults:
        target = fault.pop("emulator", emulators[0])
        target.inject(echo=echo, **fault)
    caplog.set_level(logging.DEBUG, logger="dashscope")
    caplog.set_level(logging.DEBUG, logger="ibm_watsonx_ai")
    with caplog.at_level(logging.DEBUG, logger="multirerank"):
        reranker = Reranker(case.model, **case.options)
        try:
            with pytest.raises(RerankError) as caught:
                run(reranker, mode)
            # Looked at before the error is logged: the log filter would scrub it too.
            error = caught.value
            surfaces = error_surfaces(error)
            secrets = case.secrets + (case.obtained() if case.obtained else [])
            # The project logs what a vendor said: the backend's secrets are masked there too.
            for value in secrets:
                project_logger.warning("the vendor answered %r", f"refused {value}")
            project_logger.error("the call failed", exc_info=caught.value)
        finally:
            reranker.close()
    surfaces.update(log_surfaces(caplog.records))
    assert_no_secret(surfaces, secrets, where)
    if echo == "message":
        # The vendor did echo: what it echoed shows masked.
        assert MASK in surfaces["traceback"], surfaces["traceback"]


ECHO_MODES = [(echo, mode) for echo in ECHOES for mode in MODES]
ECHO_IDS = [f"{echo}-{mode}" for echo, mode in ECHO_MODES]


# DashScope ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("echo", "mode"), ECHO_MODES, ids=ECHO_IDS)
def test_dashscope_echoing_the_api_key(
    emulator: Emulator, echo: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = secret("dashscope-api-key")
    case = Case(
        "dashscope/gte-rerank-v2",
        {"api_key": key, "base_url": f"{emulator.url}/api/v1", "max_retries": 0},
        [key],
        [
            {
                "status": 401,
                "code": "InvalidApiKey",
                "message": "Invalid API-key provided",
                "vendor": "dashscope",
            }
        ],
    )
    check_refused(case, [emulator], echo, mode, caplog, "dashscope")


# watsonx.ai ---------------------------------------------------------------------------------


def bearer_tokens(emulator: Emulator, pattern: str) -> list[str]:
    """The bearer tokens requests to ``pattern`` carried: tokens the SDK obtained."""
    found = []
    for request in emulator.requests_to(pattern):
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            found.append(token)
    assert found, f"no request to {pattern} carried a token"
    return found


def watsonx_case(tls: Emulator, name: str) -> Case:
    """The ways watsonx.ai signs in, each refused (or failing later) by a vendor that echoes."""
    base = {"url": tls.url, "project_id": "project-1", "verify": False}
    iam = {"platform_url": tls.url, "auth_url": f"{tls.url}/identity/token"}
    cpd_auth = {"auth_url": f"{tls.url}/icp4d-api/v1/authorize"}
    api_key, password, token = secret("wx-api-key"), secret("wx-password"), secret("wx-token")
    refused_at = {
        "iam": {
            "status": 400,
            "code": "BXNIM0415E",
            "message": "API key not found",
            "path": r"^/identity/token$",
        },
        "cpd": {"status": 401, "message": "Invalid username or password", "path": "authorize", "times": None},
        "scope": {"status": 403, "message": "not allowed", "path": r"^/v2/projects/"},
        "rerank": {"status": 401, "code": "authentication_token_expired", "path": WATSONX_RERANK_PATH},
    }

    def obtained(pattern: str) -> Callable[[], list[str]]:
        return lambda: bearer_tokens(tls, pattern)

    model = f"watsonx/{WATSONX_MODEL}"
    cases = {
        "iam-api-key": Case(model, {**base, **iam, "api_key": api_key}, [api_key], [refused_at["iam"]]),
        # Cloud Pak for Data: the password's auth flow and then the classic one, both refused.
        "cpd-password": Case(
            model,
            {**base, **cpd_auth, "username": "admin", "password": password},
            [password],
            [refused_at["cpd"]],
        ),
        "cpd-api-key": Case(
            model,
            {**base, **cpd_auth, "username": "admin", "api_key": api_key},
            [api_key],
            [refused_at["cpd"]],
        ),
        # A token given, refused where the SDK first uses it (the project lookup).
        "token": Case(model, {**base, "token": token}, [token], [refused_at["scope"]]),
        "token-rerank": Case(
            model,
            {**base, "token": issue_token(tls)},
            [],
            [refused_at["rerank"]],
            obtained(WATSONX_RERANK_PATH),
        ),
        # Tokens the SDK obtained: refused by the rerank call, or by the project lookup made while
        # the client was still being set up.
        "iam-obtained-rerank": Case(
            model,
            {**base, **iam, "api_key": api_key},
            [api_key],
            [refused_at["rerank"]],
            obtained(WATSONX_RERANK_PATH),
        ),
        "iam-obtained-scope": Case(
            model,
            {**base, **iam, "api_key": api_key},
            [api_key],
            [refused_at["scope"]],
            obtained("/v2/projects/"),
        ),
        "cpd-obtained-rerank": Case(
            model,
            {**base, **cpd_auth, "username": "admin", "password": password},
            [password],
            [refused_at["rerank"]],
            obtained(WATSONX_RERANK_PATH),
        ),
    }
    return cases[name]


WATSONX_CASES = [
    "iam-api-key",
    "cpd-password",
    "cpd-api-key",
    "token",
    "token-rerank",
    "iam-obtained-rerank",
    "iam-obtained-scope",
    "cpd-obtained-rerank",
]


@pytest.mark.parametrize(("echo", "mode"), ECHO_MODES, ids=ECHO_IDS)
@pytest.mark.parametrize("name", WATSONX_CASES)
def test_watsonx_echoing_keys_passwords_and_tokens(
    tls_emulator: Emulator, name: str, echo: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    case = watsonx_case(tls_emulator, name)
    check_refused(case, [tls_emulator], echo, mode, caplog, f"watsonx-{name}")


def test_watsonx_echoing_the_token_of_a_client_passed_in(
    tls_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    from ibm_watsonx_ai import APIClient, Credentials

    token = issue_token(tls_emulator)
    client = APIClient(Credentials(url=tls_emulator.url, token=token, verify=False), project_id="project-1")
    case = Case(
        f"watsonx/{WATSONX_MODEL}",
        {"api_client": client},
        [token],
        [{"status": 401, "code": "authentication_token_expired", "path": WATSONX_RERANK_PATH}],
    )
    try:
        for echo, mode in ECHO_MODES:
            check_refused(case, [tls_emulator], echo, mode, caplog, f"watsonx-api-client-{echo}-{mode}")
    finally:
        client.httpx_client.close()


# Bedrock and SageMaker --------------------------------------------------------------------------


@pytest.mark.parametrize(("echo", "mode"), ECHO_MODES, ids=ECHO_IDS)
@pytest.mark.parametrize("keys", ["given", "environment", "profile", "client"])
@pytest.mark.parametrize("service", ["bedrock", "sagemaker"])
def test_aws_echoing_the_access_key_id_session_token_and_secret_key(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    service: str,
    keys: str,
    echo: str,
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The access key id (in the signature header) and the session token travel and are echoed;
    the secret key never travels, so the vendor's message quotes it here. The keys are given, or
    found by boto3 and aiobotocore themselves (environment, a profile), or are those of a boto3
    client passed in."""
    key_id, secret_key, session = secret("aws-key-id"), secret("aws-secret-key"), secret("aws-session")
    credentials = {
        "aws_access_key_id": key_id,
        "aws_secret_access_key": secret_key,
        "aws_session_token": session,
    }
    config = {"retries": {"total_max_attempts": 1}}
    options: dict[str, Any] = {"region_name": REGION, "endpoint_url": emulator.url, "config": config}
    if keys == "given":
        options.update(credentials)
    elif keys == "environment":
        for name, value in credentials.items():
            monkeypatch.setenv(name.upper(), value)
    elif keys == "profile":
        profile = tmp_path / "credentials"
        profile.write_text(
            "[leaky]\n" + "".join(f"{name} = {value}\n" for name, value in credentials.items())
        )
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
        monkeypatch.setenv("AWS_PROFILE", "leaky")
    else:
        import boto3
        from botocore.config import Config

        name = "bedrock-agent-runtime" if service == "bedrock" else "sagemaker-runtime"
        client = boto3.client(  # type: ignore[call-overload]
            name,
            endpoint_url=emulator.url,
            region_name=REGION,
            config=Config(retries={"total_max_attempts": 1}),
            **credentials,
        )
        options = {"client": client}
    model = "bedrock/cohere.rerank-v3-5:0" if service == "bedrock" else "sagemaker/bge-reranker"
    fault = {
        "status": 403,
        "code": "UnrecognizedClientException",
        "message": f"The security token included in the request is invalid (secret key {secret_key})",
        "vendor": service,
    }
    case = Case(model, options, [key_id, secret_key, session], [fault])
    check_refused(case, [emulator], echo, mode, caplog, f"{service}-{keys}")


# The HTTP APIs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("echo", "mode"), ECHO_MODES, ids=ECHO_IDS)
@pytest.mark.parametrize("api_format", FORMATS)
def test_http_formats_echoing_the_api_key_and_secret_headers(
    emulator: Emulator, api_format: str, echo: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    key, header = secret(f"{api_format}-api-key"), secret(f"{api_format}-header")
    options = http_options(emulator, api_format, api_key=key, headers={"X-Extra-Key": header})
    provider = {"cohere-v1": "cohere", "azure-cohere": "azure"}.get(api_format, api_format)
    options["api_format"] = api_format
    fault = {"status": 401, "message": "invalid api token", "path": SETUPS[api_format]["path"]}
    case = Case(provider, options, [key, header], [fault])
    check_refused(case, [emulator], echo, mode, caplog, f"http-{api_format}")


@pytest.mark.parametrize(("echo", "mode"), ECHO_MODES, ids=ECHO_IDS)
def test_http_echoing_an_authorization_header_of_another_scheme(
    emulator: Emulator, echo: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    token, virtual_key = secret("gateway-token"), secret("bifrost-vk")
    options = http_options(
        emulator, "bifrost", headers={"Authorization": f"Token {token}", "x-bf-vk": virtual_key}
    )
    fault = {"status": 401, "message": "unknown virtual key", "path": SETUPS["bifrost"]["path"]}
    case = Case("bifrost", options, [token, virtual_key], [fault])
    check_refused(case, [emulator], echo, mode, caplog, "http-authorization")


def test_aws_declares_what_each_loops_async_client_found(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Credentials aiobotocore found itself are read from the loop's client, never refreshed."""
    key_id, secret_key = secret("aio-key-id"), secret("aio-secret-key")
    profile = tmp_path / "credentials"
    profile.write_text(f"[aio]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.setenv("AWS_PROFILE", "aio")
    reranker = Reranker("bedrock/cohere.rerank-v3-5:0", region_name=REGION, endpoint_url=emulator.url)
    backend = reranker.backend
    assert isinstance(backend, BedrockBackend)
    clients = backend.async_clients
    assert clients is not None and not clients.secrets()

    async def found() -> list[str]:
        await backend.async_client()
        return clients.secrets()

    try:
        assert set(asyncio.run(found())) == {key_id, secret_key}
    finally:
        reranker.close()
