"""What the AWS test modules (Bedrock, SageMaker, their shared options) share.

``isolated_aws_env`` is an autouse fixture: a module turns it on by importing it.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from multirerank.testing import Emulator

REGION = "us-west-2"
QUERY = "solar battery storage"
VOCABULARY = ["solar", "battery", "wind", "storage", "grid", "turbine", "panel", "hydrogen"]
#: The secret of :func:`client_settings`, which no error or repr may show.
DUMMY_SECRET = "not-a-real-secret"


@pytest.fixture(autouse=True)
def isolated_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS setting of this machine leaks in, and boto3 never asks an instance-metadata service."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def pointwise_scorer(query: str, texts: list[str]) -> list[float]:
    """Each text scored on its own (no corpus statistics), so a split list ranks as the whole."""
    terms = set(query.lower().split())
    return [
        round(
            0.9 * len(terms & set(text.lower().split())) / len(terms)
            + (zlib.crc32(text.encode()) % 9973) / 1e6,
            6,
        )
        for text in texts
    ]


def corpus(count: int) -> list[str]:
    return [
        f"note {number} " + " ".join(word for bit, word in enumerate(VOCABULARY) if (number * 37) >> bit & 1)
        for number in range(count)
    ]


def expected_order(emu: Emulator, texts: list[str], top_n: int | None) -> list[int]:
    ranked = emu.ranked(QUERY, texts)
    return [index for index, _ in (ranked if top_n is None else ranked[:top_n])]


def client_settings(**fields: Any) -> dict[str, Any]:
    """Client fields for the emulator: dummy keys, and no botocore retries so faults surface.

    ``fields`` add to these or replace them. The retry mode is named because botocore's default
    is "standard" only from 1.44 on ("legacy" before), and aiobotocore can hold botocore back.
    """
    return {
        "region_name": REGION,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": DUMMY_SECRET,
        "config": Config(retries={"mode": "standard", "total_max_attempts": 1}),
        **fields,
    }


def plain_client(service: str, emu: Emulator, **options: Any) -> Any:
    """A boto3 client for ``service`` made as a user would, pointed at the emulator."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=emu.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        **options,
    )
