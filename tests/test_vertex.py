"""What only the Vertex AI backend does, through google-auth and httpx against the emulator:
request shape and ids, titles, the 200-record split, credentials (given, refreshed, ADC) and
options. The shared cases (errors, retries, split and merge, sync and async) are in
tests/test_backend_contract.py."""

from __future__ import annotations

import json
from typing import Any

import google.auth
import httpx
import pytest
from google.auth.exceptions import DefaultCredentialsError
from google.oauth2.credentials import Credentials
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

import langchain_multirerank
import llama_index_multirerank
from multirerank import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    Reranker,
    backend_from_model,
)
from multirerank.backends.vertex import VertexBackend, VertexOptions, google_error, parse_body
from multirerank.testing import Emulator, Request, Response, Route
from multirerank.testing import vertex as vertex_api
from multirerank.testing.server import CORRUPTIONS
from multirerank.types import TitledText
from tests.emulator_support import emulator_fixtures, expected_order

server, emulator = emulator_fixtures(
    routes=[
        *vertex_api.ROUTES,
        Route("vertex", "POST", r"/odd/v1/.*:rank", lambda e, r: e.state["odd"](r), vertex_api.error),
    ]
)

TOKEN = "ya29.test-access-token-0123"
QUERY = "solar panels on a roof"
TEXTS = [
    "wind turbines spin offshore",
    "solar panels convert sunlight on the roof of a house",
    "a roof made of clay tiles",
    "panels of judges decide cases",
]


@pytest.fixture(autouse=True)
def _no_google_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)


def options(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "project_id": "project-1",
        "credentials": Credentials(token=TOKEN),
        "base_url": emulator.url,
        "max_retries": 0,
    }
    settings.update(extra)
    return settings


def bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in emulator.requests_to(r":rank$")]


# -- the request ---------------------------------------------------------------------------------


async def test_request_carries_records_with_assigned_ids_and_the_bearer_token(emulator: Emulator) -> None:
    rr = Reranker("vertex/semantic-ranker-fast@latest", **options(emulator))
    response = rr.rerank(QUERY, TEXTS, top_n=2)
    assert [result.index for result in response] == expected_order(emulator, QUERY, TEXTS)[:2]
    assert response.score_scale == "probability" and all(0 <= r.relevance_score <= 1 for r in response)
    assert response.usage is not None and (response.usage.requests, response.usage.documents) == (1, 4)
    (request,) = emulator.requests_to(r":rank$")
    assert (
        request.path == "/v1/projects/project-1/locations/global/rankingConfigs/default_ranking_config:rank"
    )
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert json.loads(request.body) == {
        "model": "semantic-ranker-fast@latest",
        "query": QUERY,
        "records": [{"id": str(position), "content": text} for position, text in enumerate(TEXTS)],
        "ignoreRecordDetailsInResponse": True,
        "topN": 2,
    }
    assert (await rr.arerank(QUERY, TEXTS)).as_dicts() == rr.rerank(QUERY, TEXTS).as_dicts()
    await rr.aclose()


def test_quota_project_of_the_credentials_is_sent(emulator: Emulator) -> None:
    credentials = Credentials(token=TOKEN).with_quota_project("billing-project")
    Reranker("vertex", **options(emulator, credentials=credentials)).rerank(QUERY, TEXTS)
    assert emulator.requests_to(r":rank$")[0].header("x-goog-user-project") == "billing-project"


def test_location_and_config_go_into_the_path_and_pick_the_regional_host(emulator: Emulator) -> None:
    rr = Reranker("vertex", **options(emulator, location="eu", ranking_config="my_config"))
    rr.rerank(QUERY, TEXTS)
    assert emulator.requests_to(r":rank$")[0].path.endswith("/locations/eu/rankingConfigs/my_config:rank")
    regional = VertexOptions(
        project_id="p", credentials=Credentials(token=TOKEN), location="us"
    ).build_backend()
    assert regional.base_url == "https://us-discoveryengine.googleapis.com"
    assert VertexOptions(project_id="p", credentials=Credentials(token=TOKEN)).build_backend().base_url == (
        "https://discoveryengine.googleapis.com"
    )


# -- ids and answers -------------------------------------------------------------------------------


def test_answers_map_back_by_id_whatever_their_order(emulator: Emulator) -> None:
    def answer(request: Request) -> Response:
        records = json.loads(request.body)["records"]
        # Lowest first, and the second record's score left out, as proto3 JSON does for 0.
        scored = [{"id": record["id"], "score": 0.1 * int(record["id"])} for record in records]
        scored[1].pop("score")
        return Response(200, {"records": list(reversed(scored))})

    emulator.state["odd"] = answer
    rr = Reranker("vertex", **options(emulator, base_url=f"{emulator.url}/odd"))
    assert [(r.index, round(r.relevance_score, 6)) for r in rr.rerank(QUERY, TEXTS)] == [
        (3, 0.3),
        (2, 0.2),
        (0, 0.0),
        (1, 0.0),
    ]


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ([{"id": "7", "score": 0.5}], "was not sent"),
        ([{"id": "first", "score": 0.5}], "was not sent"),
        ([{"score": 0.5}], "has no id"),
        ([{"id": "0", "score": "high"}], "no usable score"),
    ],
)
def test_unusable_answers_are_malformed(records: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(MalformedResponseError, match=problem):
        parse_body({"records": records}, 2)
    with pytest.raises(MalformedResponseError):
        parse_body({"records": {}}, 2)


def test_an_answer_with_no_records_ranks_nothing() -> None:
    assert parse_body({}, 3).scores == []


def test_google_error_body_and_retry_info() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}],
        }
    }
    assert google_error(httpx.Response(429, json=body)) == ("RESOURCE_EXHAUSTED", "Quota exceeded", 1.5)
    assert google_error(httpx.Response(502, text="Bad Gateway")) == (None, "Bad Gateway", None)


# -- the 200-record limit --------------------------------------------------------------------------


async def test_lists_over_200_records_are_split_and_merged(emulator: Emulator) -> None:
    texts = [f"text {number} solar" + " roof" * (number % 7) for number in range(450)]
    rr = Reranker("vertex", **options(emulator))
    response = await rr.arerank(QUERY, texts, top_n=5)
    sent = bodies(emulator)
    # The engine spreads 450 over the fewest requests of at most 200 each.
    assert len(sent) == 3 and max(len(body["records"]) for body in sent) <= 200
    assert sorted(record["content"] for body in sent for record in body["records"]) == sorted(texts)
    # Every request numbers its own records from 0.
    assert all(body["records"][0]["id"] == "0" for body in sent)
    assert response.usage is not None and (response.usage.requests, response.usage.documents) == (3, 450)
    scores = [result.relevance_score for result in response]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    await rr.aclose()


def test_the_emulator_refuses_more_than_200_records(emulator: Emulator) -> None:
    rr = Reranker("vertex", **options(emulator, max_documents_per_request=200))
    rr.backend.limits = type(rr.backend.limits)(max_documents=300)
    with pytest.raises(Exception, match="exceeds the maximum of 200") as caught:
        rr.rerank(QUERY, ["solar"] * 250)
    assert getattr(caught.value, "code", None) == "INVALID_ARGUMENT"


def test_more_than_200_per_request_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="max_documents_per_request"):
        backend_from_model(
            "vertex", project_id="p", credentials=Credentials(token=TOKEN), max_documents_per_request=201
        )


# -- titles ----------------------------------------------------------------------------------------


def test_title_field_sends_a_metadata_key_as_the_title_in_both_frameworks(emulator: Emulator) -> None:
    documents = [
        Document(page_content="clay tiles", metadata={"heading": "solar roof"}),
        Document(page_content="judges", metadata={"heading": "  "}),
        Document(page_content="turbines", metadata={}),
    ]
    compressor = langchain_multirerank.VertexAIRerank(**options(emulator), title_field="heading", top_n=None)
    result = compressor.compress_documents(documents, QUERY)
    assert result[0].page_content == "clay tiles" and documents[0].metadata == {"heading": "solar roof"}
    nodes = [
        NodeWithScore(node=TextNode(text=d.page_content, metadata=d.metadata), score=0.0) for d in documents
    ]
    postprocessor = llama_index_multirerank.VertexAIRerank(
        **options(emulator), title_field="heading", metadata_mode="none", top_n=None
    )
    assert postprocessor.postprocess_nodes(nodes, query_str=QUERY)[0].node.get_content() == "clay tiles"
    for body in bodies(emulator):
        assert body["records"] == [
            {"id": "0", "content": "clay tiles", "title": "solar roof"},
            {"id": "1", "content": "judges"},
            {"id": "2", "content": "turbines"},
        ]


def test_titled_text_and_mappings_carry_titles_for_reranker_users(emulator: Emulator) -> None:
    rr = Reranker("vertex", **options(emulator, title_field="title"))
    rr.rerank(QUERY, [TitledText("clay tiles", "Roofs"), {"title": "Panels", "body": "x"}, "plain"])
    records = bodies(emulator)[0]["records"]
    assert records[0] == {"id": "0", "content": "clay tiles", "title": "Roofs"}
    assert records[1]["title"] == "Panels" and json.loads(records[1]["content"]) == {
        "title": "Panels",
        "body": "x",
    }
    assert "title" not in records[2]


# -- credentials -----------------------------------------------------------------------------------


def _user_credentials(emulator: Emulator, refresh_token: str = "1//refresh-token-abc") -> Credentials:
    return Credentials(
        token=None,
        refresh_token=refresh_token,
        client_id="client-id",
        client_secret="client-secret-xyz",
        token_uri=f"{emulator.url}{vertex_api.TOKEN_PATH}",
    )


async def test_a_missing_token_is_refreshed_through_google_auth_sync_and_async(emulator: Emulator) -> None:
    emulator.state["vertex_tokens"] = set()
    for mode in ("sync", "async"):
        credentials = _user_credentials(emulator)
        rr = Reranker("vertex", **options(emulator, credentials=credentials))
        response = rr.rerank(QUERY, TEXTS) if mode == "sync" else await rr.arerank(QUERY, TEXTS)
        assert len(response) == len(TEXTS), mode
        assert credentials.token in emulator.state["vertex_tokens"], mode
        await rr.aclose()
    assert len(emulator.requests_to(r"/token$")) == 2


async def test_a_refused_refresh_is_an_authentication_error_showing_no_secret(emulator: Emulator) -> None:
    emulator.state["vertex_refresh_tokens"] = set()
    rr = Reranker("vertex", **options(emulator, credentials=_user_credentials(emulator)))
    for call in (lambda: rr.rerank(QUERY, TEXTS), None):
        with pytest.raises(AuthenticationError) as caught:
            if call is not None:
                call()
            else:
                await rr.arerank(QUERY, TEXTS)
        assert not caught.value.retryable and "invalid_grant" in str(caught.value)
        assert "1//refresh-token-abc" not in str(caught.value) and "client-secret-xyz" not in str(
            caught.value
        )
    assert emulator.requests_to(r":rank$") == []


def test_an_echoed_token_is_masked(emulator: Emulator) -> None:
    emulator.inject(status=401, vendor="vertex", echo="message", times=None)
    rr = Reranker("vertex", **options(emulator))
    with pytest.raises(AuthenticationError) as caught:
        rr.rerank(QUERY, TEXTS)
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)


def test_unset_credentials_are_application_default_credentials(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    asked: list[Any] = []

    def default(scopes: Any = None, **kwargs: Any) -> tuple[Credentials, str]:
        asked.append(scopes)
        return Credentials(token=TOKEN), "adc-project"

    monkeypatch.setattr(google.auth, "default", default)
    backend = backend_from_model("vertex", base_url=emulator.url)
    assert isinstance(backend, VertexBackend) and backend.project_id == "adc-project"
    assert asked == [["https://www.googleapis.com/auth/cloud-platform"]]
    Reranker(backend).rerank(QUERY, TEXTS)
    assert "/projects/adc-project/" in emulator.requests_to(r":rank$")[0].path
    # An explicit project, or GOOGLE_CLOUD_PROJECT, wins over ADC's.
    assert backend_from_model("vertex", project_id="mine").project_id == "mine"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert backend_from_model("vertex").project_id == "from-env"


def test_no_application_default_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def default(**kwargs: Any) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", default)
    with pytest.raises(ConfigurationError, match="no Google credentials"):
        langchain_multirerank.VertexAIRerank(project_id="p")


def test_a_project_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(google.auth, "default", lambda **kwargs: (Credentials(token=TOKEN), None))
    with pytest.raises(ConfigurationError, match="project_id"):
        backend_from_model("vertex")


# -- options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("package", [langchain_multirerank, llama_index_multirerank])
def test_an_instruction_is_refused_at_construction(package: Any) -> None:
    with pytest.raises(ConfigurationError, match="instruction is not supported"):
        package.VertexAIRerank(
            project_id="p", credentials=Credentials(token=TOKEN), instruction="find answers"
        )
    assert package.VertexAIRerank(project_id="p", credentials=Credentials(token=TOKEN), instruction=None)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"credentials": "a-token-string"}, "credentials must be google.auth credentials"),
        ({"location": "us/central"}, "location"),
        ({"ranking_config": "a:b"}, "ranking_config"),
        ({"base_url": "ftp://host"}, "base_url"),
        ({"project_id": "bad/project"}, "project_id"),
        ({"title_field": ""}, "title_field"),
    ],
)
def test_bad_options_name_their_field(extra: dict[str, Any], field: str) -> None:
    settings = {"project_id": "p", "credentials": Credentials(token=TOKEN), **extra}
    with pytest.raises(ConfigurationError, match=field):
        backend_from_model("vertex", **settings)


def test_model_string_and_model_option_must_agree() -> None:
    with pytest.raises(ConfigurationError, match="give it once"):
        backend_from_model("vertex/a", model="b", project_id="p", credentials=Credentials(token=TOKEN))


def test_reprs_and_dumps_show_no_credentials(emulator: Emulator) -> None:
    compressor = langchain_multirerank.VertexAIRerank(**options(emulator))
    assert TOKEN not in repr(compressor) and TOKEN not in repr(compressor.reranker.backend)
    assert "credentials" not in compressor.model_dump()
    multi = langchain_multirerank.MultiRerank(model="vertex", backend_options=options(emulator))
    assert TOKEN not in repr(multi)


# -- the emulator's Ranking API --------------------------------------------------------------------


def _post(emulator: Emulator, body: Any, *, token: str | None = TOKEN, version: str = "v1") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = f"/{version}/projects/p/locations/global/rankingConfigs/default_ranking_config:rank"
    return httpx.post(emulator.url + path, json=body, headers=headers)


def test_emulator_answers_like_the_ranking_api(emulator: Emulator) -> None:
    records = [{"id": "a", "title": "solar", "content": "panels"}, {"id": "b", "content": "clay"}]
    full = _post(emulator, {"query": "solar panels", "records": records, "topN": 0}, version="v1beta").json()
    assert [record["id"] for record in full["records"]] == ["a", "b"]
    assert full["records"][0]["title"] == "solar" and 0 < full["records"][1]["score"] <= 1
    brief = _post(
        emulator, {"query": "solar", "records": records, "topN": "1", "ignoreRecordDetailsInResponse": True}
    )
    assert brief.json() == {"records": [{"id": "a", "score": full["records"][0]["score"]}]}


@pytest.mark.parametrize(
    ("body", "token", "status", "code"),
    [
        ({"query": "q", "records": [{"id": "a", "content": "x"}]}, None, 401, "UNAUTHENTICATED"),
        ({"query": "q", "records": [{"id": "a"}]}, TOKEN, 400, "INVALID_ARGUMENT"),
        (
            {"query": "q", "records": [{"id": "a", "content": "x"}, {"id": "a", "content": "y"}]},
            TOKEN,
            400,
            "INVALID_ARGUMENT",
        ),
        ({"query": " ", "records": [{"id": "a", "content": "x"}]}, TOKEN, 400, "INVALID_ARGUMENT"),
        (
            {"query": "q", "model": "no-such-model", "records": [{"id": "a", "content": "x"}]},
            TOKEN,
            400,
            "INVALID_ARGUMENT",
        ),
    ],
)
def test_emulator_refuses_in_googles_error_shape(
    emulator: Emulator, body: dict[str, Any], token: str | None, status: int, code: str
) -> None:
    answer = _post(emulator, body, token=token)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (status, code) and error["message"]


def test_emulator_rate_limit_answers_resource_exhausted(emulator: Emulator) -> None:
    emulator.rate_limit = "1/minute"
    try:
        body = {"query": "q", "records": [{"id": "a", "content": "q"}]}
        assert _post(emulator, body).status_code == 200
        refused = _post(emulator, body)
    finally:
        emulator.rate_limit = None
    assert refused.status_code == 429 and refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_every_corruption_of_the_records_is_malformed(emulator: Emulator, corruption: str) -> None:
    """Vertex AI's results are ``records`` pointing at documents by id: the index corruptions
    spoil the ids (they answered a 500 from the emulator before)."""
    emulator.inject(vendor="vertex", corrupt=corruption)
    with Reranker("vertex", **options(emulator)) as reranker:
        if corruption == "missing-score":  # proto3 JSON leaves out a score of 0: no corruption here
            assert reranker.rerank(QUERY, TEXTS).results[-1].relevance_score == 0.0
        else:
            with pytest.raises(MalformedResponseError):
                reranker.rerank(QUERY, TEXTS)
    assert len(emulator.requests_to(r":rank$")) == 1
