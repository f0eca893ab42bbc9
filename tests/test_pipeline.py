"""The rules both adapters share, in the engine: text from fields, blank and duplicate candidates,
ids on the wire, errors by the caller's index."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import pytest

from multirerank.engine import Reranker
from multirerank.engine.inputs import candidate_text, check_items, check_rerank_fields
from multirerank.errors import RerankInputError
from multirerank.types import DocumentInput, IdentifiedText, Limits, RerankResponse
from tests.memory_backend import MemoryBackend

METADATA: dict[str, Any] = {
    "title": "Rivers",
    "year": 2021,
    "tags": ["water", "geography"],
    "extra": {"café": True},
    "nothing": None,
    "blank": "   ",
}


# -- candidate_text ------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [None, []])
def test_without_fields_the_content_is_the_text(fields: list[str] | None) -> None:
    assert candidate_text("body", METADATA, fields, "page_content") == "body"


def test_content_field_name_stands_for_the_content() -> None:
    assert candidate_text("body", METADATA, ["page_content"], "page_content") == "body"
    assert candidate_text("body", METADATA, ["text"], "text") == "body"


def test_fields_are_joined_in_the_order_given() -> None:
    assert candidate_text("body", METADATA, ["title", "page_content"], "page_content") == "Rivers\nbody"
    assert candidate_text("body", METADATA, ["page_content", "title"], "page_content") == "body\nRivers"


def test_missing_none_and_blank_fields_are_skipped() -> None:
    text = candidate_text("body", METADATA, ["absent", "nothing", "blank", "title"], "page_content")
    assert text == "Rivers"


def test_non_string_values_are_json_encoded() -> None:
    text = candidate_text("body", METADATA, ["year", "tags", "extra"], "page_content")
    assert text == '2021\n["water", "geography"]\n{"café": true}'


def test_the_other_frameworks_content_name_is_just_a_metadata_key() -> None:
    assert candidate_text("body", {"text": "meta text"}, ["text"], "page_content") == "meta text"
    assert candidate_text("body", {}, ["text"], "page_content") == ""


def test_metadata_is_not_changed() -> None:
    metadata = {"title": "Rivers", "tags": ["a"]}
    candidate_text("body", metadata, ["title", "tags"], "page_content")
    assert metadata == {"title": "Rivers", "tags": ["a"]}


# -- check_rerank_fields -------------------------------------------------------------------------


def test_rerank_fields_none_and_sequences() -> None:
    assert check_rerank_fields(None) is None
    assert check_rerank_fields(("title", "page_content")) == ["title", "page_content"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("title", "rerank_fields must be a list of field names"),
        (42, "rerank_fields must be a list of field names"),
        ({"title"}, "rerank_fields must be a list of field names"),
        ([""], "rerank_fields[0] must be a non-empty string"),
        (["title", 3], "rerank_fields[1] must be a non-empty string"),
        (["title", "page_content", None], "rerank_fields[2] must be a non-empty string"),
    ],
)
def test_rerank_fields_errors(fields: object, message: str) -> None:
    with pytest.raises(RerankInputError) as info:
        check_rerank_fields(fields)
    assert str(info.value) == message


# -- candidates through the engine ---------------------------------------------------------------


class Candidate(NamedTuple):
    """A retrieved item as an adapter hands it over: content, and an id or None."""

    content: Any
    id: str | None = None


def split(candidates: list[Candidate]) -> tuple[list[DocumentInput], list[str | None]]:
    return [candidate.content for candidate in candidates], [candidate.id for candidate in candidates]


def rank_candidates(
    reranker: Reranker, query: Any, candidates: list[Candidate], *, top_n: Any, score_threshold: Any = None
) -> list[tuple[int, float]]:
    """``(caller's index, score)`` pairs, as an adapter asks the engine for them."""
    documents, ids = split(candidates)
    response = reranker.rerank(
        query, documents, top_n, score_threshold=score_threshold, ids=ids, skip_blank=True
    )
    return pairs(response)


async def arank_candidates(
    reranker: Reranker, query: Any, candidates: list[Candidate], *, top_n: Any, score_threshold: Any = None
) -> list[tuple[int, float]]:
    documents, ids = split(candidates)
    response = await reranker.arerank(
        query, documents, top_n, score_threshold=score_threshold, ids=ids, skip_blank=True
    )
    return pairs(response)


def pairs(response: RerankResponse) -> list[tuple[int, float]]:
    return [(result.index, result.relevance_score) for result in response]


def ranked_positions(ranked: list[tuple[int, float]]) -> list[int]:
    return [position for position, _ in ranked]


def sent_texts(backend: MemoryBackend) -> list[str]:
    return [str(document) for request in backend.requests for document in request.documents]


def test_candidates_are_ranked_by_their_position_in_the_callers_list() -> None:
    backend = MemoryBackend(scores={"a": 0.1, "b": 0.9, "c": 0.5})
    ranked = rank_candidates(
        Reranker(backend), "q", [Candidate("a"), Candidate("b"), Candidate("c")], top_n=None
    )
    assert ranked == [(1, 0.9), (2, 0.5), (0, 0.1)]


def test_blank_candidates_are_skipped_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    backend = MemoryBackend(scores={"a": 0.1, "b": 0.9})
    candidates = [Candidate(""), Candidate("a"), Candidate("  \n"), Candidate({}), Candidate("b")]
    with caplog.at_level(logging.INFO, logger="multirerank"):
        ranked = rank_candidates(Reranker(backend), "q", candidates, top_n=None)
    assert ranked_positions(ranked) == [4, 1]
    assert sent_texts(backend) == ["a", "b"]
    notes = [record for record in caplog.records if "blank" in record.getMessage()]
    assert len(notes) == 1
    assert (notes[0].name, notes[0].levelno) == ("multirerank.engine.inputs", logging.INFO)
    assert "skipped 3 document(s) with blank text" in notes[0].getMessage()


def test_no_warning_when_nothing_is_blank(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="multirerank"):
        rank_candidates(Reranker(MemoryBackend()), "q", [Candidate("a")], top_n=None)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_duplicates_by_key_are_scored_once_and_returned_once_at_the_first_position() -> None:
    backend = MemoryBackend(scores={"first copy": 0.8, "other": 0.5, "second copy": 0.99})
    candidates = [
        Candidate("other", id="o"),
        Candidate("first copy", id="dup"),
        Candidate("second copy", id="dup"),
        Candidate("other", id=None),
    ]
    ranked = rank_candidates(Reranker(backend), "q", candidates, top_n=None)
    assert ranked == [(1, 0.8), (0, 0.5), (3, 0.5)]
    assert sent_texts(backend) == ["other", "first copy", "other"]


def test_a_blank_first_copy_does_not_hide_a_later_one() -> None:
    backend = MemoryBackend()
    ranked = rank_candidates(
        Reranker(backend), "q", [Candidate(" ", id="k"), Candidate("text", id="k")], top_n=None
    )
    assert ranked_positions(ranked) == [1]


def test_empty_input_returns_an_empty_list_without_a_request() -> None:
    backend = MemoryBackend()
    assert rank_candidates(Reranker(backend), "q", [], top_n=3) == []
    assert backend.requests == []


def test_all_blank_input_returns_an_empty_list_without_a_request() -> None:
    backend = MemoryBackend()
    assert rank_candidates(Reranker(backend), "q", [Candidate(""), Candidate("  ")], top_n=3) == []
    assert backend.requests == []


async def test_async_twin_follows_the_same_rules() -> None:
    backend = MemoryBackend(scores={"a": 0.1, "b": 0.9})
    reranker = Reranker(backend)
    candidates = [
        Candidate("a", id="1"),
        Candidate("", id="2"),
        Candidate("b", id="3"),
        Candidate("a", id="1"),
    ]
    ranked = await arank_candidates(reranker, "q", candidates, top_n=1)
    assert ranked == [(2, 0.9)]
    assert await arank_candidates(reranker, "q", [], top_n=1) == []
    assert len(backend.requests) == 1


def test_ids_reach_the_backend_as_identified_text() -> None:
    backend = MemoryBackend()
    backend.sends_ids = True
    rank_candidates(
        Reranker(backend),
        "q",
        [
            Candidate("with id", id="doc-1"),
            Candidate("without id"),
            Candidate({"title": "json"}, id="doc-3"),
        ],
        top_n=None,
    )
    with_id, without_id, mapping = backend.requests[0].documents
    assert isinstance(with_id, IdentifiedText)
    assert isinstance(with_id, str)
    assert (with_id, with_id.document_id) == ("with id", "doc-1")
    assert type(without_id) is str
    assert mapping == {"title": "json"}


def test_ids_survive_a_split_and_truncation() -> None:
    backend = MemoryBackend(max_documents=1, max_document_chars=3, truncate=True)
    backend.sends_ids = True
    rank_candidates(
        Reranker(backend), "q", [Candidate("abcdef", id="x"), Candidate("ghijkl", id="y")], top_n=None
    )
    sent = sorted(
        (str(document), getattr(document, "document_id", None))
        for request in backend.requests
        for document in request.documents
    )
    assert sent == [("abc", "x"), ("ghi", "y")]


def test_top_n_and_threshold_apply_after_skipping() -> None:
    backend = MemoryBackend(scores={"a": 0.2, "b": 0.9, "c": 0.6})
    candidates = [Candidate(""), Candidate("a"), Candidate("b"), Candidate("c")]
    assert ranked_positions(rank_candidates(Reranker(backend), "q", candidates, top_n=2)) == [2, 3]
    ranked = rank_candidates(Reranker(backend), "q", candidates, top_n=None, score_threshold=0.5)
    assert ranked_positions(ranked) == [2, 3]


@pytest.mark.parametrize(
    ("query", "top_n", "threshold", "message"),
    [
        ("", 3, None, "query is required for rerank"),
        (None, 3, None, "query is required for rerank"),
        (7, 3, None, "query must be a string, got int"),
        ("q", 0, None, "top_n must be at least 1"),
        ("q", "2", None, "top_n must be an integer or None, got str"),
        ("q", 3, float("nan"), "score_threshold must be a finite number"),
    ],
)
async def test_invalid_arguments_raise_even_for_empty_input(
    query: Any, top_n: Any, threshold: Any, message: str
) -> None:
    reranker = Reranker(MemoryBackend())
    for candidates in ([], [Candidate("")]):
        with pytest.raises(RerankInputError) as info:
            rank_candidates(reranker, query, candidates, top_n=top_n, score_threshold=threshold)
        assert str(info.value) == message
        with pytest.raises(RerankInputError) as info:
            await arank_candidates(reranker, query, candidates, top_n=top_n, score_threshold=threshold)
        assert str(info.value) == message


@pytest.mark.parametrize("wrong", [None, "text", {"a": 1}, 5])
def test_check_items_names_what_was_passed(wrong: object) -> None:
    with pytest.raises(RerankInputError, match=rf"^nodes must be a list, got {type(wrong).__name__}$"):
        check_items(wrong, "nodes")


def test_errors_about_a_sent_document_name_the_callers_index() -> None:
    """Blank and duplicate candidates are not sent; an error still names the caller's position."""
    backend = MemoryBackend()
    backend.limits = Limits(max_document_chars=10)
    candidates = [Candidate(""), Candidate("ok", "a"), Candidate("ok", "a"), Candidate("x" * 11)]
    with pytest.raises(RerankInputError, match=r"^document at index 3 is 11 characters") as caught:
        rank_candidates(Reranker(backend), "q", candidates, top_n=None)
    assert caught.value.index == 3


def test_backends_that_take_no_ids_get_plain_text() -> None:
    backend = MemoryBackend()
    rank_candidates(Reranker(backend), "q", [Candidate("with id", id="doc-1")], top_n=None)
    assert type(backend.requests[0].documents[0]) is str


@pytest.mark.parametrize("empty", [None, ""])
def test_none_and_empty_ids_are_no_identity(empty: str | None) -> None:
    backend = MemoryBackend()
    ranked = rank_candidates(Reranker(backend), "q", [Candidate(text, id=empty) for text in "abcde"], top_n=None)
    assert sorted(ranked_positions(ranked)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("abc", "ids must be a list with one id (or None) per document, got str"),
        (["a"], "ids has 1 entries for 2 documents; give one per document"),
        (["a", 7], "ids[1] must be a string or None, got int"),
    ],
)
def test_wrong_ids_are_named(ids: Any, message: str) -> None:
    with pytest.raises(RerankInputError) as info:
        Reranker(MemoryBackend()).rerank("q", ["x", "y"], ids=ids)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("ok\ud800", "document at index 1 is not valid text: it has a lone surrogate, which UTF-8 cannot encode"),
        ({1: "a", "b": 2}, "document at index 1 cannot be sent as JSON: it has a key of type int; JSON keys must be strings"),
        ({"a": {"b": ["\udfff"]}}, "document at index 1 cannot be sent as JSON: it has text with a lone surrogate, which UTF-8 cannot encode"),
        ({"text": "a", "n": float("nan")}, "document at index 1 cannot be sent as JSON: it has the number nan, which JSON cannot hold"),
        (
            {"text": "a", "x": [object()]},
            "document at index 1 cannot be sent as JSON: it has a value of type object, which JSON cannot hold "
            "(give text, numbers, booleans, None, lists, mappings, dates or decimals)",
        ),
    ],
)
def test_text_that_cannot_be_sent_is_named_before_anything_is_sent(document: Any, message: str) -> None:
    backend = MemoryBackend()
    with pytest.raises(RerankInputError) as info:
        Reranker(backend).rerank("q", ["fine", document])
    assert str(info.value) == message
    assert info.value.index == 1
    assert backend.requests == []


def test_json_documents_may_hold_dates_decimals_and_numpy_numbers() -> None:
    import datetime
    import decimal

    import numpy as np

    backend = MemoryBackend()
    document = {"text": "a", "day": datetime.date(2026, 1, 2), "price": decimal.Decimal("1.5"), "n": np.int64(3)}
    Reranker(backend).rerank("q", [document])
    assert backend.requests[0].documents == [document]


def test_numpy_scalars_in_json_documents_are_sent_as_the_values_they_hold() -> None:
    import numpy as np

    from multirerank.types import document_text

    document = {"text": "a", "n": np.int64(3), "x": np.float32(1.5), "ok": np.bool_(True)}
    Reranker(MemoryBackend()).rerank("q", [document])  # accepted
    assert document_text(document) == '{"n": 3, "ok": true, "text": "a", "x": 1.5}'


def test_a_query_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(RerankInputError, match=r"^query is not valid text"):
        Reranker(MemoryBackend()).rerank("q\ud800", ["a"])


def test_a_document_that_refers_to_itself_is_refused() -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    with pytest.raises(RerankInputError, match="nested too deeply"):
        Reranker(MemoryBackend()).rerank("q", [looped])
