"""Vertex AI Ranking API against Google Cloud; run only when asked: ``pytest integration_tests``.

Needs Application Default Credentials (``gcloud auth application-default login``, or
``GOOGLE_APPLICATION_CREDENTIALS``) allowed to call the Discovery Engine API, and a project:
``MULTIRERANK_VERTEX_PROJECT`` or ``GOOGLE_CLOUD_PROJECT`` (``MULTIRERANK_VERTEX_LOCATION``,
``global`` by default; ``MULTIRERANK_VERTEX_MODEL`` picks a model). Skips, saying why, when any
is missing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_core.documents import Document

from langchain_multirerank import VertexAIRerank

QUERY = "What is the capital of France?"
DOCUMENTS = [
    Document(page_content="Berlin is the capital of Germany.", id="berlin", metadata={"title": "Germany"}),
    Document(
        page_content="Paris is the capital and largest city of France.",
        id="paris",
        metadata={"title": "France"},
    ),
    Document(
        page_content="The Loire is the longest river in France.", id="loire", metadata={"title": "Rivers"}
    ),
]


def _settings() -> dict[str, Any]:
    project = os.environ.get("MULTIRERANK_VERTEX_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        pytest.skip("no project: set MULTIRERANK_VERTEX_PROJECT or GOOGLE_CLOUD_PROJECT")
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        pytest.skip("google-auth is not installed: pip install 'multirerank[vertex]'")
    try:
        google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError as error:
        pytest.skip(f"no Application Default Credentials: {error}")
    settings: dict[str, Any] = {
        "project_id": project,
        "location": os.environ.get("MULTIRERANK_VERTEX_LOCATION", "global"),
        "title_field": "title",
        "top_n": 3,
    }
    if os.environ.get("MULTIRERANK_VERTEX_MODEL"):
        settings["model"] = os.environ["MULTIRERANK_VERTEX_MODEL"]
    return settings


async def test_vertex_live() -> None:
    compressor = VertexAIRerank(**_settings())
    for result in (
        compressor.compress_documents(DOCUMENTS, QUERY),
        await compressor.acompress_documents(DOCUMENTS, QUERY),
    ):
        assert [document.id for document in result][:1] == ["paris"]
        scores = [document.metadata["relevance_score"] for document in result]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= score <= 1.0 for score in scores)
