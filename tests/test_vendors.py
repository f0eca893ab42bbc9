"""The vendor specs: the README's table is theirs, and backends and emulator read their facts."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from multirerank.backends.http_formats import API_FORMATS
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ProviderError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.vendor_spec import ExceptionRule, VendorSpec, exception_class
from multirerank.vendor_table import readme_table, render_table, with_table
from multirerank.vendors import BEDROCK, DASHSCOPE, SAGEMAKER, TEI, VENDORS, WATSONX

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_backend_table_is_rendered_from_the_specs() -> None:
    assert readme_table(README.read_text(encoding="utf-8")) == render_table(), (
        "README.md's backend table differs from the vendor specs: "
        "run .venv/bin/python -m multirerank.vendors --update-readme"
    )


def test_rewriting_the_table_keeps_the_rest_of_the_readme() -> None:
    text = "intro\n\n## Backends\n\n| old |\n| --- |\n| row |\n\nafter\n"
    rewritten = with_table(text)
    assert rewritten.startswith("intro\n\n## Backends\n\n| backend |")
    assert rewritten.endswith("|\n\nafter\n")
    assert readme_table(rewritten) == render_table()


def test_module_prints_the_table() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "multirerank.vendors", "--readme-table"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout.strip() == render_table()


@pytest.mark.parametrize("package", ["langchain_multirerank", "llama_index_multirerank"])
def test_table_names_framework_classes_that_exist(package: str) -> None:
    module = importlib.import_module(package)
    attribute = "langchain_class" if package.startswith("langchain") else "llama_index_class"
    for spec in VENDORS.values():
        assert hasattr(module, getattr(spec, attribute)), f"{package} has no {getattr(spec, attribute)}"


def test_every_http_format_has_its_spec() -> None:
    for name, api_format in API_FORMATS.items():
        assert api_format.spec is VENDORS[name]
        assert api_format.spec.api_format == name


def test_backends_and_emulator_read_the_specs() -> None:
    from multirerank.backends import bedrock, dashscope, sagemaker, watsonx
    from multirerank.testing import bedrock as fake_bedrock
    from multirerank.testing import dashscope as fake_dashscope
    from multirerank.testing import sagemaker as fake_sagemaker

    assert bedrock.BedrockBackend.limits is BEDROCK.limits
    assert BEDROCK.limits.max_document_chars == fake_bedrock.MAX_TEXT_CHARS
    assert sagemaker.MAX_BODY_BYTES == fake_sagemaker.MAX_BODY_BYTES == SAGEMAKER.limits.max_request_cost
    assert TEI.limits.max_documents == fake_sagemaker.TEI_MAX_BATCH_SIZE
    assert dashscope.MAX_DOCUMENTS == fake_dashscope.MAX_DOCUMENTS == DASHSCOPE.limits.max_documents
    assert dashscope.TOKEN_BUDGETS == fake_dashscope.MODEL_TOKEN_BUDGETS
    assert watsonx.WatsonxBackend.score_scale == WATSONX.score_scale == "logit"
    assert bedrock.RERANK_MODEL_REGIONS["amazon.rerank-v1:0"] == BEDROCK.models[0].regions


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        (BEDROCK, 400, "ValidationException"),
        (BEDROCK, 418, "ValidationException"),
        (BEDROCK, 599, "InternalServerException"),
        (SAGEMAKER, 429, "ModelNotReadyException"),
        (DASHSCOPE, 402, "InternalError"),
        (WATSONX, 404, "model_not_supported"),
        (TEI, 422, "Validation"),
    ],
)
def test_emulator_code_for_status(spec: VendorSpec, status: int, code: str) -> None:
    assert spec.errors.code_for_status(status) == code


def test_code_rows_decide_the_error_type() -> None:
    rules = DASHSCOPE.errors
    assert isinstance(rules.error("x", provider="p", status=429, code="Throttling.RateQuota"), ThrottledError)
    quota = rules.error("x", provider="p", status=429, code="Throttling.AllocationQuota")
    assert isinstance(quota, ThrottledError) and not quota.retryable
    assert isinstance(rules.error("x", provider="p", status=400, code="Model.NotExist"), NotFoundError)
    assert isinstance(rules.error("x", provider="p", status=401, code=None), AuthenticationError)
    unknown = rules.error("x", provider="p", status=None, code="Odd")
    assert type(unknown) is ProviderError and unknown.status is None


def test_aws_server_fault_below_500_is_final() -> None:
    failed = BEDROCK.errors.error("x", provider="bedrock", status=424, code="DependencyFailedException")
    assert isinstance(failed, ProviderError) and not failed.retryable
    assert BEDROCK.errors.error("x", provider="bedrock", status=500, code="InternalServerException").retryable
    unknown = BEDROCK.errors.error("x", provider="bedrock", status=None, code="Odd")
    assert unknown.status == 500 and unknown.retryable


def test_status_rules_keep_501_permanent() -> None:
    for spec in VENDORS.values():
        error = spec.errors.error("x", provider=spec.provider, status=501, code=None)
        assert isinstance(error, ProviderError) and not error.retryable, spec.name


def test_exception_rules_apply_in_order_with_templates() -> None:
    rules = WATSONX.errors
    timeout = rules.translate(TimeoutError("slow"), provider="p")
    assert type(timeout) is ProviderError and not timeout.retryable  # no httpx rule for a builtin
    tls = rules.translate(OSError("certificate cannot be verified"), provider="p")
    assert tls is not None and "verify=" in tls.message
    from multirerank.vendors import HTTP_EXCEPTIONS  # a table whose classes are loaded in tests

    assert all(rule.kind is not None for rule in HTTP_EXCEPTIONS)
    assert isinstance(DASHSCOPE.errors.translate(TimeoutError("t"), provider="dashscope"), RerankTimeoutError)
    assert isinstance(BEDROCK.errors.translate(ValueError("v"), provider="bedrock"), ProviderError)


def test_exception_class_never_imports() -> None:
    assert exception_class("builtins:KeyError") is KeyError
    assert exception_class("json:JSONDecodeError") is not None
    assert exception_class("no_such_module_anywhere:Error") is None
    assert exception_class("builtins:NoSuchClass") is None
    rule = ExceptionRule("no_such_module_anywhere:Error", BadRequestError, "never")
    assert rule.kind is BadRequestError


def test_specs_name_their_sources() -> None:
    for spec in VENDORS.values():
        assert spec.sources, spec.name
        assert spec.limits.max_documents, spec.name


def test_emulate_command_does_not_import_the_cli() -> None:
    probe = "import sys, multirerank.testing.command; print('multirerank.cli' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == "False"


NEW_VENDORS = (
    "vertex",
    "voyage",
    "mixedbread",
    "pinecone",
    "nvidia",
    "together",
    "fireworks",
    "deepinfra",
    "infinity",
    "llamacpp",
    "openrouter",
    "azure-cohere",
)


@pytest.mark.parametrize("name", NEW_VENDORS)
def test_every_new_vendor_has_a_full_row(name: str) -> None:
    """Model string, both classes, the limit and the score scale, from the spec (issue 11)."""
    spec = VENDORS[name]
    row = next(line for line in render_table().splitlines() if line.startswith(f"| {spec.title} |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1].startswith(f"`{spec.model_strings[0]}`")
    assert spec.langchain_class in cells[2] and spec.llama_index_class in cells[3]
    assert f"{spec.limits.max_documents:,} documents" in cells[4]
    assert cells[5].startswith(f"`{spec.score_scale}`")


def test_cohere_row_states_its_ceiling_and_query_limit() -> None:
    row = next(line for line in render_table().splitlines() if line.startswith("| Cohere `/v2/rerank`"))
    assert "1,000 documents by default (up to 10,000" in row and "2,048 tokens per query" in row
