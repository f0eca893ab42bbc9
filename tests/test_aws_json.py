"""JSON bodies encoded in one step (multirerank.backends.aws_json): the bytes botocore would send,
only on clients multirerank builds, and botocore's own serialization wherever the shape is not
plain JSON."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from multirerank import Reranker
from multirerank.backends.aws_json import encode_json_bodies_directly, is_plain_json
from multirerank.testing import Emulator
from tests.aws_support import REGION, client_settings, isolated_aws_env, pointwise_scorer  # noqa: F401
from tests.emulator_support import emulator_fixtures

MODEL = "cohere.rerank-v3-5:0"
ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"

server, emu = emulator_fixtures("emu", scorer=pointwise_scorer)


def _client(**config: Any) -> Any:
    return boto3.client(
        "bedrock-agent-runtime",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(**config),
    )


def _rerank_params(**extra: Any) -> dict[str, Any]:
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": 'what "quotes" \u00e9t\u00e9 \U0001f600'}}],
        "sources": [
            {
                "type": "INLINE",
                "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": "a\nb\u2028"}},
            },
            {
                "type": "INLINE",
                "inlineDocumentSource": {"type": "JSON", "jsonDocument": {"title": "t", "n": [1, 2.5, None]}},
            },
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfResults": 2,
                "modelConfiguration": {
                    "modelArn": ARN,
                    "additionalModelRequestFields": {"max_tokens_per_doc": 512, "nested": {"x": [True]}},
                },
            },
        },
        **extra,
    }


def _request(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    operation = client.meta.service_model.operation_model("Rerank")
    request: dict[str, Any] = client._serializer.serialize_to_request(params, operation)
    return request


@pytest.mark.parametrize("validation", [True, False])
@pytest.mark.parametrize("extra", [{}, {"nextToken": "page-2"}])
def test_the_body_is_the_bytes_botocore_sends(validation: bool, extra: dict[str, Any]) -> None:
    plain, fast = _client(parameter_validation=validation), _client(parameter_validation=validation)
    encode_json_bodies_directly(fast)
    params = _rerank_params(**extra)
    expected, actual = _request(plain, params), _request(fast, params)
    assert actual["body"] == expected["body"]
    assert actual == expected  # headers, path, method and query string too


def test_the_rerank_input_is_plain_json_and_shapes_botocore_converts_are_not() -> None:
    session = botocore.session.get_session()
    rerank = session.get_service_model("bedrock-agent-runtime").operation_model("Rerank")
    assert is_plain_json(rerank.input_shape)
    # Converse carries floats (temperature), which botocore writes its own way (NaN as a string).
    converse = session.get_service_model("bedrock-runtime").operation_model("Converse")
    assert not is_plain_json(converse.input_shape)


def test_a_shape_that_is_not_plain_keeps_botocores_serialization() -> None:
    client = _client()
    encode_json_bodies_directly(client)
    converse = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    reference = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    encode_json_bodies_directly(converse)
    params = {
        "modelId": "m",
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"temperature": float("nan")},
    }
    operation = converse.meta.service_model.operation_model("Converse")
    fast = converse._serializer.serialize_to_request(params, operation)
    slow = reference._serializer.serialize_to_request(params, operation)
    assert fast["body"] == slow["body"]
    assert b'"NaN"' in fast["body"]  # botocore's conversion, not json.dumps's bare NaN


def test_only_clients_multirerank_builds_are_changed(emu: Emulator) -> None:
    users = boto3.client(
        "bedrock-agent-runtime",
        region_name=REGION,
        endpoint_url=emu.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    serializer = users._serializer
    given = Reranker(f"bedrock/{MODEL}", client=users)
    built = Reranker(f"bedrock/{MODEL}", endpoint_url=emu.url, **client_settings())
    try:
        assert "_serialize_body_params" not in vars(getattr(serializer, "_serializer", serializer))
        texts = [f"solar battery note {number}" for number in range(30)]
        assert [r.index for r in given.rerank("solar battery", texts, top_n=5)] == [
            r.index for r in built.rerank("solar battery", texts, top_n=5)
        ]
        assert "_serialize_body_params" not in vars(getattr(serializer, "_serializer", serializer))
    finally:
        given.close()
        built.close()


async def test_async_clients_send_the_same_request(emu: Emulator) -> None:
    built = Reranker(f"bedrock/{MODEL}", endpoint_url=emu.url, **client_settings())
    texts = [f"grid storage note {number} \u00e9" for number in range(40)]
    try:
        synced = built.rerank("grid storage", texts, top_n=7)
        awaited = await built.arerank("grid storage", texts, top_n=7)
    finally:
        await built.aclose()
    assert [(r.index, r.relevance_score) for r in synced] == [(r.index, r.relevance_score) for r in awaited]
    bodies = [request.json() for request in emu.requests_to("/rerank")]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
