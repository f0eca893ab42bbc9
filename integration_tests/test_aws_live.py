"""Bedrock and SageMaker against real AWS; run only when asked: ``pytest integration_tests``.

Needs AWS credentials boto3 can find, a region (``MULTIRERANK_AWS_REGION``, ``AWS_REGION`` or
``AWS_DEFAULT_REGION``), and ``MULTIRERANK_BEDROCK_MODEL`` (a rerank model id or ARN) and/or
``MULTIRERANK_SAGEMAKER_ENDPOINT`` (``MULTIRERANK_SAGEMAKER_FORMAT`` picks its payload format,
``tei`` by default). Each test skips, saying why, when its settings are missing.
"""

from __future__ import annotations

import os

import pytest
from langchain_core.documents import Document

from langchain_multirerank import BedrockRerank, SageMakerRerank

QUERY = "What is the capital of France?"
DOCUMENTS = [
    Document(page_content="Berlin is the capital of Germany.", id="berlin"),
    Document(page_content="Paris is the capital and largest city of France.", id="paris"),
    Document(page_content="The Loire is the longest river in France.", id="loire"),
]


def _region() -> str:
    region = next(
        (
            os.environ[name]
            for name in ("MULTIRERANK_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
            if os.environ.get(name)
        ),
        None,
    )
    if region is None:
        pytest.skip("no region: set MULTIRERANK_AWS_REGION or AWS_REGION")
    return region


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set")
    try:
        import botocore.session
    except ImportError:
        pytest.skip("boto3 is not installed")
    if botocore.session.Session().get_credentials() is None:
        pytest.skip("no AWS credentials found by boto3")
    return value


def _check(result: list[Document]) -> None:
    assert [document.id for document in result][:1] == ["paris"]
    scores = [document.metadata["relevance_score"] for document in result]
    assert scores == sorted(scores, reverse=True)


async def test_bedrock_live() -> None:
    compressor = BedrockRerank(
        model_arn=_setting("MULTIRERANK_BEDROCK_MODEL"), region_name=_region(), top_n=None
    )
    result = list(compressor.compress_documents(DOCUMENTS, QUERY))
    _check(result)
    assert all(0.0 <= document.metadata["relevance_score"] <= 1.0 for document in result)
    _check(list(await compressor.acompress_documents(DOCUMENTS, QUERY)))


async def test_sagemaker_live() -> None:
    compressor = SageMakerRerank(
        endpoint_name=_setting("MULTIRERANK_SAGEMAKER_ENDPOINT"),
        payload_format=os.environ.get("MULTIRERANK_SAGEMAKER_FORMAT", "tei"),
        region_name=_region(),
        top_n=2,
    )
    _check(list(compressor.compress_documents(DOCUMENTS, QUERY)))
    _check(list(await compressor.acompress_documents(DOCUMENTS, QUERY)))
