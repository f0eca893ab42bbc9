"""Generated bad and odd inputs through both frameworks' classes (hypothesis).

Queries of any type; document and node lists of wrong types; blank, whitespace-only and
lone-surrogate texts; dict documents with odd keys; ids None, "", repeated; ``top_n`` and
``score_threshold`` of any type; metadata of any shape. Over the in-memory backend (split into
requests of three documents) and over the emulator's Bifrost API (which also receives the ids).

Each example is a usable call with up to two of its parts made wrong or odd, so that both the
refusals and the rankings get exercised. Whatever comes in, a call either raises a
:class:`multirerank.RerankError` (or pydantic's ``ValidationError`` for a refused setting) or
returns every ranked document exactly once: each non-blank document whose id no earlier one has
is returned unless ``top_n`` or the threshold cut it, with the score the backend gave its text.
The caller's objects are never changed.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from pydantic import ValidationError

import langchain_multirerank
import llama_index_multirerank
from langchain_multirerank.base import PREVIOUS_SCORE_KEY, SCORE_KEY, RerankCompressor
from llama_index_multirerank.base import RerankPostprocessor
from multirerank.backends.base import Backend
from multirerank.engine.inputs import candidate_text
from multirerank.errors import RerankError, RerankInputError
from multirerank.testing import Emulator
from multirerank.types import document_text
from tests.memory_backend import AsyncMemoryBackend, lexical_score

#: Examples each test runs; together at least 5,000 (checked by the last fuzz test below).
EXAMPLES = {
    "langchain_memory_compress": 1100,
    "langchain_memory_rerank": 1300,
    "llama_index_memory": 900,
    "langchain_http": 950,
    "llama_index_http": 850,
}
RUN: Counter[str] = Counter()
#: How the calls ended: ``ok`` (something returned), ``empty``, or an error; a sanity check that
#: the generated inputs reach the rankings, not only the refusals.
ENDINGS: Counter[str] = Counter()


def fuzz(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )


# -- what is generated ---------------------------------------------------------------------------

WORDS = ["red", "apples", "green", "sky", "blue", "cherries", "Apples!"]
#: Texts a call takes: blank ones (skipped), invisible, control and astral characters, long ones.
ODD_TEXTS = ["", " ", "\t\n ", "\u3000", "\u200b", "\x00", "🍎 red apples", "apples " * 40, "é"]
# Pools drawn from in one step where a strategy built up piece by piece would cost more than the
# call it feeds; a generated value is mixed in now and then.
WORD_TEXTS = [" ".join(chosen) for count in (1, 2, 3) for chosen in itertools.product(WORDS, repeat=count)]
words = st.sampled_from(WORD_TEXTS)
lone_surrogate = st.integers(0xD800, 0xDFFF).map(chr)
#: Text UTF-8 cannot carry.
broken_text = st.tuples(st.sampled_from(["", "red "]), lone_surrogate, st.sampled_from(["", " apples"])).map(
    "".join
)
legal_text = st.one_of(words, words, words, words, st.sampled_from(ODD_TEXTS), st.text(max_size=6))
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), legal_text, st.binary(max_size=3)
)
#: Keys JSON cannot take (and a tuple, which it cannot even turn into text).
odd_key = st.one_of(st.integers(-2, 2), st.none(), st.booleans(), st.floats(), st.tuples(st.integers(0, 2)))
any_shape = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(legal_text, odd_key), inner, max_size=3),
        st.frozensets(st.integers(0, 3), max_size=2),
    ),
    max_leaves=4,
)
metadata_key = st.one_of(st.sampled_from(["title", "source", SCORE_KEY, PREVIOUS_SCORE_KEY]), legal_text)
#: A LangChain Document's metadata may have keys of any type; a LlamaIndex node's are strings.
#: Mostly none: generating it is what costs most here.
METADATA: list[dict[Any, Any]] = [
    {"title": "red apples", "source": 3},
    {"title": None, "source": "green"},
    {SCORE_KEY: 0.4},
    {SCORE_KEY: "high", PREVIOUS_SCORE_KEY: 1},
    {"title": {(0,): None}},  # a key JSON cannot take
    {"title": {1: "a", "b": 2}},  # keys JSON cannot sort
    {"title": [1, {"x": float("nan")}], "source": b"\x00"},
    {"title": {"nested": {"deeper": ["red", {"apples": ()}]}}},
    {"title": frozenset({1}), "source": object.__name__},
    {"title": "red \ud800 apples"},
    {"title": "   "},
    {"title": ["\u3000"]},
]
#: Keys LangChain allows and LlamaIndex does not.
ODD_KEYED: list[dict[Any, Any]] = [{1: "one", (2,): "two", None: "none", "title": "red"}]
no_metadata = st.just({})
langchain_metadata = st.one_of(
    no_metadata,
    no_metadata,
    st.sampled_from(METADATA + ODD_KEYED),
    st.dictionaries(st.one_of(metadata_key, odd_key), any_shape, max_size=3),
)
llama_index_metadata = st.one_of(
    no_metadata, no_metadata, st.sampled_from(METADATA), st.dictionaries(metadata_key, any_shape, max_size=3)
)
legal_id = st.one_of(st.none(), st.none(), st.just(""), st.sampled_from(["a", "b", "c"]), legal_text)

junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.just(Ellipsis),
    st.just("a string"),
    st.dictionaries(legal_text, legal_text, max_size=2),
)
queries = {
    "legal": words,
    "odd": st.one_of(st.sampled_from(["", "  ", "\u3000"]), broken_text, junk, st.lists(words, max_size=2)),
}
top_ns = {
    "legal": st.one_of(st.none(), st.integers(1, 12), st.integers(1, 3)),
    "odd": st.one_of(
        st.integers(-2, 0),
        st.booleans(),
        st.floats(),
        st.text(max_size=2),
        st.sampled_from(["3", 2.0, [1], b"1"]),
    ),
}
thresholds = {
    "legal": st.one_of(st.none(), st.none(), st.floats(0, 1), st.sampled_from([0, 1, 0.5])),
    "odd": st.one_of(st.floats(), st.booleans(), st.sampled_from(["0.5", b"0", [0.1], -1, 2])),
}
fields = {
    "legal": st.one_of(
        st.none(),
        st.none(),
        st.sampled_from([["title"], ["page_content", "title"], ["text", "source"], [SCORE_KEY, "title"]]),
        st.lists(legal_text.filter(bool), max_size=2),
    ),
    "odd": st.sampled_from(["title", [""], [1], ("title",), [None], {"title": 1}]),
}
modes = {
    "legal": st.sampled_from(["embed", "none", "all", "llm"]),
    "odd": st.sampled_from(["everything", 1, None]),
}


def documents(
    text: st.SearchStrategy[str], ids: st.SearchStrategy[str | None]
) -> st.SearchStrategy[Document]:
    return st.builds(Document, page_content=text, metadata=langchain_metadata, id=ids)


def nodes(
    text: st.SearchStrategy[str], ids: st.SearchStrategy[str | None]
) -> st.SearchStrategy[NodeWithScore]:
    return st.builds(
        lambda content, metadata, node_id, score: NodeWithScore(
            node=TextNode(text=content, metadata=metadata, **({} if node_id is None else {"id_": node_id})),
            score=score,
        ),
        text,
        llama_index_metadata,
        ids,
        st.sampled_from([None, 0.5, -1.0]),
    )


legal_mapping = st.dictionaries(
    st.sampled_from(["text", "title", "id", "meta"]), scalar, min_size=1, max_size=3
)
odd_mapping = st.one_of(
    st.just({}),
    st.dictionaries(odd_key, scalar, min_size=1, max_size=2),
    st.builds(lambda text: {"text": text}, broken_text),
    st.builds(lambda inner: {"nested": inner}, st.dictionaries(odd_key, scalar, min_size=1, max_size=2)),
)


@st.composite
def listing(draw: st.DrawFn, legal: st.SearchStrategy[Any], odd: tuple[st.SearchStrategy[Any], ...]) -> Any:
    """A list of ``legal`` items (some repeated, so ids repeat; sometimes a tuple), with one item
    of each ``odd`` strategy put among them."""
    items = draw(st.lists(legal, max_size=5))
    if items and draw(st.booleans()):
        items += draw(st.lists(st.sampled_from(items), max_size=2))
    for strategy in odd:
        items.insert(draw(st.integers(0, len(items))), draw(strategy))
    return tuple(items) if draw(st.integers(0, 5)) == 0 else items


def odd_parts(*parts: str) -> st.SearchStrategy[frozenset[str]]:
    """Which parts of a call are made wrong: none in a third of the calls, else one or two."""
    return st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(parts), min_size=1, max_size=2))


def pick(
    data: st.DataObject, odd: frozenset[str], name: str, choices: dict[str, st.SearchStrategy[Any]]
) -> Any:
    return data.draw(choices["odd" if name in odd else "legal"], label=name)


#: Texts, metadata and ids the pools combine; every combination is a usable item.
POOL_TEXTS = [*WORD_TEXTS[:7], *WORD_TEXTS[60:66], *WORD_TEXTS[200:205], *ODD_TEXTS]
POOL_IDS = [None, None, "", "a", "b", "c", "é"]


def pooled(
    make: Callable[[str, dict[Any, Any], str | None], Any], metadata: list[dict[Any, Any]]
) -> list[Any]:
    """Items made ahead from every text, metadata and id of the pools: drawing one is one choice,
    where generating it would cost more than the call it feeds."""
    return [make(*chosen) for chosen in itertools.product(POOL_TEXTS, metadata, POOL_IDS)]


def make_node(text: str, metadata: dict[Any, Any], node_id: str | None) -> NodeWithScore:
    node = TextNode(text=text, metadata=metadata, **({} if node_id is None else {"id_": node_id}))
    return NodeWithScore(node=node, score=0.5)


DOCUMENT_POOL = st.sampled_from(
    pooled(
        lambda text, metadata, id_: Document(page_content=text, metadata=metadata, id=id_),
        [{}, *METADATA, *ODD_KEYED],
    )
)
NODE_POOL = st.sampled_from(pooled(make_node, [{}, *METADATA]))


def variants(
    pool: st.SearchStrategy[Any],
    make: Callable[[st.SearchStrategy[str], st.SearchStrategy[str | None]], st.SearchStrategy[Any]],
    ids: st.SearchStrategy[str | None],
    wrong: st.SearchStrategy[Any],
) -> dict[tuple[bool, bool, bool], st.SearchStrategy[Any]]:
    """For each choice of (a broken text, a broken id, a wrong item): lists of pooled and
    generated items with those odd ones among them. Made once: hypothesis takes a while over
    each new strategy."""
    legal = st.one_of(pool, pool, pool, pool, pool, make(legal_text, ids))
    odd = {"text": make(broken_text, ids), "id": make(legal_text, broken_text), "item": wrong}
    return {
        chosen: listing(legal, tuple(odd[name] for name, on in zip(odd, chosen, strict=True) if on))
        for chosen in itertools.product((False, True), repeat=3)
    }


def lists_for(data: st.DataObject, odd: frozenset[str], made: dict[tuple[bool, bool, bool], Any]) -> Any:
    return data.draw(made["text" in odd, "id" in odd, "item" in odd], label="documents")


LANGCHAIN_DOCUMENTS = variants(
    DOCUMENT_POOL, documents, legal_id, st.one_of(junk, legal_mapping, words, nodes(words, legal_id))
)
LANGCHAIN_CANDIDATES = variants(
    st.one_of(DOCUMENT_POOL, words, st.sampled_from(ODD_TEXTS)),
    lambda text, ids: st.one_of(documents(text, ids), text, legal_mapping),
    legal_id,
    st.one_of(
        junk.filter(lambda item: not isinstance(item, (str, dict))), odd_mapping, nodes(words, legal_id)
    ),
)
#: A node always has an id; LlamaIndex makes one when none is given.
LLAMA_INDEX_NODES = variants(
    NODE_POOL, nodes, legal_id, st.one_of(junk, documents(words, legal_id), st.builds(TextNode, text=words))
)
WRONG_DOCUMENTS = st.one_of(junk, documents(words, legal_id), st.just(Document("red")))
WRONG_CANDIDATES = st.one_of(junk, legal_mapping)
WRONG_NODES = st.one_of(junk, nodes(words, legal_id))


def langchain_documents(data: st.DataObject, odd: frozenset[str]) -> Any:
    """Documents for ``compress_documents``; the odd ones: not a list, a non-Document, broken text or id."""
    if "container" in odd:
        return data.draw(WRONG_DOCUMENTS, label="documents")
    return lists_for(data, odd, LANGCHAIN_DOCUMENTS)


def langchain_candidates(data: st.DataObject, odd: frozenset[str]) -> Any:
    """Items for ``rerank``: Documents, strings and mappings; the odd ones as above, and odd mappings."""
    if "container" in odd:
        return data.draw(WRONG_CANDIDATES, label="documents")
    return lists_for(data, odd, LANGCHAIN_CANDIDATES)


def llama_index_nodes(data: st.DataObject, odd: frozenset[str]) -> Any:
    if "container" in odd:
        return data.draw(WRONG_NODES, label="nodes")
    return lists_for(data, odd, LLAMA_INDEX_NODES)


# -- the classes under test ------------------------------------------------------------------------


class MemoryCompressor(RerankCompressor):
    """Split into requests of three documents: merging across requests is exercised too."""

    def build_backend(self) -> Backend:
        return AsyncMemoryBackend(max_documents=3)


class MemoryPostprocessor(RerankPostprocessor):
    def build_backend(self) -> Backend:
        return AsyncMemoryBackend(max_documents=3)


LANGCHAIN_MEMORY = MemoryCompressor()
LLAMA_INDEX_MEMORY = MemoryPostprocessor()


@pytest.fixture(scope="module", autouse=True)
def quiet() -> Iterator[None]:
    """No warning per skipped blank document: thousands of them only slow the run down."""
    logger = logging.getLogger("multirerank")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


@pytest.fixture(scope="module")
def bifrost() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def http_classes(bifrost: Emulator) -> Iterator[tuple[Any, Any]]:
    options = {
        "api_format": "bifrost",
        "model": "cohere/rerank-v3.5",
        "base_url": f"{bifrost.url}/bifrost",
        "max_retries": 0,
    }
    made = (langchain_multirerank.HTTPRerank(**options), llama_index_multirerank.HTTPRerank(**options))
    yield made
    for item in made:
        item.reranker.close()


# -- what every call must satisfy ------------------------------------------------------------------


def unchanged(value: Any, before: Any) -> bool:
    """Whether ``value`` still equals its snapshot (in a list, so a NaN equals itself)."""
    return [value] == [before]


def settle(instance: Any, **chosen: Any) -> None:
    """Assign each setting; one pydantic refuses leaves the previous value in place."""
    for name, value in chosen.items():
        before = getattr(instance, name)
        try:
            setattr(instance, name, value)
        except ValidationError:
            assert unchanged(getattr(instance, name), before)


def reset(instance: Any) -> None:
    instance.top_n = 3
    instance.score_threshold = None
    instance.rerank_fields = None
    if isinstance(instance, RerankPostprocessor):
        instance.metadata_mode = "embed"


def outcome(
    loop: asyncio.AbstractEventLoop,
    asynchronous: bool,
    sync: Callable[[], Any],
    coroutine: Callable[[], Coroutine[Any, Any, Any]],
) -> tuple[Any, BaseException | None]:
    """The call's result, or the error it raised if it is one a caller is told to expect."""
    try:
        result = loop.run_until_complete(coroutine()) if asynchronous else sync()
    except (RerankError, ValidationError) as error:
        ENDINGS[type(error).__name__] += 1
        return None, error
    ENDINGS["ok" if result else "empty"] += 1
    return result, None


def eligible(texts: Sequence[Any], ids: Sequence[str | None]) -> list[int]:
    """The positions a correct call ranks: non-blank texts whose id no earlier one has."""
    chosen, seen = [], set()
    for index, (item, identifier) in enumerate(zip(texts, ids, strict=True)):
        blank = not item if isinstance(item, Mapping) else not item or item.isspace()
        if blank:
            continue
        if identifier:
            if identifier in seen:
                continue
            seen.add(identifier)
        chosen.append(index)
    return chosen


def check_ranking(
    ranked: Sequence[tuple[int, float]],
    chosen: Sequence[int],
    score_of: Callable[[int], float],
    top_n: int | None,
    threshold: float | None,
) -> None:
    """``ranked`` (caller's index, score) is the right cut of ``chosen``: none lost, none twice."""
    indices = [index for index, _ in ranked]
    assert len(set(indices)) == len(indices), f"a document came back twice: {indices}"
    assert set(indices) <= set(chosen), f"returned {indices}, only {chosen} could be"
    for index, score in ranked:
        assert score == score_of(index), (index, score, score_of(index))
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    passing = [index for index in chosen if threshold is None or score_of(index) >= threshold]
    expected = len(passing) if top_n is None else min(top_n, len(passing))
    assert len(ranked) == expected, (
        f"{len(ranked)} of {chosen} returned, top_n={top_n}, threshold={threshold}"
    )


def langchain_text(document: Document, fields: list[str] | None) -> str:
    if not fields:
        return document.page_content
    return candidate_text(document.page_content, document.metadata, fields, "page_content")


def match_documents(result: Sequence[Document], given: Sequence[Document]) -> list[tuple[int, float]]:
    """Each returned copy's position among ``given``: same text, id and metadata, plus its score."""
    ranked, used = [], set()
    for returned in result:
        score = returned.metadata[SCORE_KEY]
        for index, original in enumerate(given):
            if index in used or original.page_content != returned.page_content or original.id != returned.id:
                continue
            expected = copy.deepcopy(original.metadata)
            if SCORE_KEY in expected:
                expected[PREVIOUS_SCORE_KEY] = expected[SCORE_KEY]
            expected[SCORE_KEY] = score
            if unchanged(returned.metadata, expected):
                used.add(index)
                ranked.append((index, score))
                break
        else:
            raise AssertionError(f"{returned!r} matches no document that was given")
    return ranked


#: Scores of the texts sent in one call (in the order sent) -> the score of each sent text.
Scorer = Callable[[str, list[Any]], Callable[[int], float]]


def memory_scorer(query: str, sent: list[Any]) -> Callable[[int], float]:
    return lambda number: lexical_score(query, document_text(sent[number]))


def emulator_scorer(emulator: Emulator) -> Scorer:
    """The emulator weighs terms over the documents of the request, so it needs them all."""

    def score(query: str, sent: list[Any]) -> Callable[[int], float]:
        values = emulator.score(query, [document_text(text) for text in sent]) if sent else []
        return lambda number: values[number]

    return score


def by_position(query: str, texts: list[Any], chosen: list[int], scorer: Scorer) -> Callable[[int], float]:
    """The score of each caller's position among ``chosen``, by ``scorer`` over what was sent."""
    score_of_sent = scorer(query, [texts[index] for index in chosen])
    number = {position: sent for sent, position in enumerate(chosen)}
    return lambda index: score_of_sent(number[index])


def check_compressed(instance: RerankCompressor, query: Any, given: Any, result: Any, scorer: Scorer) -> None:
    assert isinstance(query, str) and query.strip(), f"query {query!r} was accepted"
    assert isinstance(given, (list, tuple)) and all(type(item) is Document for item in given), given
    texts = [langchain_text(document, instance.rerank_fields) for document in given]
    chosen = eligible(texts, [document.id for document in given])
    check_ranking(
        match_documents(result, given),
        chosen,
        by_position(query, texts, chosen, scorer),
        instance.top_n,
        instance.score_threshold,
    )


def check_postprocessed(
    instance: RerankPostprocessor, query: Any, given: Any, result: Any, scorer: Scorer
) -> None:
    assert isinstance(query, str) and query.strip(), f"query {query!r} was accepted"
    assert isinstance(given, (list, tuple)) and all(type(item) is NodeWithScore for item in given), given
    texts = [node_text(item, instance) for item in given]
    chosen = eligible(texts, [item.node.node_id for item in given])
    ranked: list[tuple[int, float]] = []
    for item in result:
        # The caller's own node object, in a new NodeWithScore (a node given twice without an id
        # comes back twice: once for each position).
        used = {index for index, _ in ranked}
        positions = [index for index in chosen if given[index].node is item.node and index not in used]
        assert positions, f"{item.node.node_id!r} is none of the nodes at {chosen}, or came back twice"
        ranked.append((positions[0], item.score))
    check_ranking(
        ranked, chosen, by_position(query, texts, chosen, scorer), instance.top_n, instance.score_threshold
    )


def node_text(item: NodeWithScore, instance: RerankPostprocessor) -> str:
    node = item.node
    if instance.rerank_fields:
        content = node.get_content(metadata_mode=MetadataMode.NONE)
        return candidate_text(content, node.metadata, instance.rerank_fields, "text")
    return node.get_content(metadata_mode=MetadataMode(instance.metadata_mode))


# -- LangChain -------------------------------------------------------------------------------------

COMPRESS_PARTS = ("query", "container", "item", "text", "id", "top_n", "threshold", "fields")
COMPRESS_ODD = odd_parts(*COMPRESS_PARTS)
RERANK_ODD = odd_parts(*COMPRESS_PARTS, "call_top_n", "options")


def fuzz_compress(
    data: st.DataObject, instance: Any, loop: asyncio.AbstractEventLoop, scorer: Scorer
) -> tuple[Any, Any]:
    odd = data.draw(COMPRESS_ODD, label="odd")
    query = pick(data, odd, "query", queries)
    given = langchain_documents(data, odd)
    reset(instance)
    settle(
        instance,
        top_n=pick(data, odd, "top_n", top_ns),
        score_threshold=pick(data, odd, "threshold", thresholds),
        rerank_fields=pick(data, odd, "fields", fields),
    )
    before = copy.deepcopy(given)
    result, error = outcome(
        loop,
        data.draw(st.booleans(), label="asynchronous"),
        lambda: instance.compress_documents(given, query),
        lambda: instance.acompress_documents(given, query),
    )
    assert unchanged(given, before)
    if error is None:
        check_compressed(instance, query, given, result, scorer)
    return given, result


@fuzz("langchain_memory_compress")
@given(data=st.data())
def test_langchain_compress_documents(loop: asyncio.AbstractEventLoop, data: st.DataObject) -> None:
    RUN["langchain_memory_compress"] += 1
    fuzz_compress(data, LANGCHAIN_MEMORY, loop, memory_scorer)


@fuzz("langchain_memory_rerank")
@given(data=st.data())
def test_langchain_rerank(loop: asyncio.AbstractEventLoop, data: st.DataObject) -> None:
    RUN["langchain_memory_rerank"] += 1
    instance = LANGCHAIN_MEMORY
    odd = data.draw(RERANK_ODD, label="odd")
    query = pick(data, odd, "query", queries)
    given = langchain_candidates(data, odd)
    call_top_n = pick(data, odd, "call_top_n", top_ns)
    options = {"foo": 1} if "options" in odd else {}
    reset(instance)
    settle(
        instance,
        top_n=pick(data, odd, "top_n", top_ns),
        score_threshold=pick(data, odd, "threshold", thresholds),
        rerank_fields=pick(data, odd, "fields", fields),
    )
    before = copy.deepcopy(given)
    result, error = outcome(
        loop,
        data.draw(st.booleans(), label="asynchronous"),
        lambda: instance.rerank(given, query, call_top_n, **options),
        lambda: instance.arerank(given, query, call_top_n, **options),
    )
    assert unchanged(given, before)
    if error is not None:
        return
    assert not options and isinstance(query, str) and query.strip()
    assert isinstance(given, (list, tuple)), f"{type(given).__name__} was accepted"
    assert call_top_n is None or (type(call_top_n) is int and call_top_n >= 1)
    texts: list[Any] = []
    ids: list[str | None] = []
    for item in given:
        if isinstance(item, Document):
            texts.append(langchain_text(item, instance.rerank_fields))
            ids.append(item.id)
        else:
            assert isinstance(item, (str, Mapping)), f"{item!r} was accepted as a document"
            texts.append(item)
            ids.append(None)
    assert all(sorted(entry) == ["index", "relevance_score"] for entry in result)
    chosen = eligible(texts, ids)
    check_ranking(
        [(entry["index"], entry["relevance_score"]) for entry in result],
        chosen,
        by_position(query, texts, chosen, memory_scorer),
        instance.top_n if call_top_n is None else call_top_n,
        instance.score_threshold,
    )


@fuzz("langchain_http")
@given(data=st.data())
def test_langchain_over_http(
    loop: asyncio.AbstractEventLoop, bifrost: Emulator, http_classes: tuple[Any, Any], data: st.DataObject
) -> None:
    RUN["langchain_http"] += 1
    bifrost.clear()
    instance = http_classes[0]
    given, result = fuzz_compress(data, instance, loop, emulator_scorer(bifrost))
    if result:
        # The gateway got each ranked document's id (none for a blank id).
        texts = [langchain_text(document, instance.rerank_fields) for document in given]
        sent_ids = [given[index].id or None for index in eligible(texts, [document.id for document in given])]
        body = bifrost.requests_to("/bifrost/v1/rerank")[0].json()
        assert [document.get("id") for document in body["documents"]] == sent_ids


# -- LlamaIndex ------------------------------------------------------------------------------------

NODE_PARTS = ("query", "container", "item", "text", "id", "top_n", "threshold", "fields", "mode")
NODE_ODD = odd_parts(*NODE_PARTS)


def fuzz_postprocess(
    data: st.DataObject, instance: Any, loop: asyncio.AbstractEventLoop, scorer: Scorer
) -> None:
    odd = data.draw(NODE_ODD, label="odd")
    query = pick(data, odd, "query", queries)
    given = llama_index_nodes(data, odd)
    reset(instance)
    settle(
        instance,
        top_n=pick(data, odd, "top_n", top_ns),
        score_threshold=pick(data, odd, "threshold", thresholds),
        rerank_fields=pick(data, odd, "fields", fields),
        metadata_mode=pick(data, odd, "mode", modes),
    )
    before = copy.deepcopy(given)
    result, error = outcome(
        loop,
        data.draw(st.booleans(), label="asynchronous"),
        lambda: instance.postprocess_nodes(given, query_str=query),
        lambda: instance.apostprocess_nodes(given, query_str=query),
    )
    assert unchanged(given, before)
    if error is None:
        check_postprocessed(instance, query, given, result, scorer)


@fuzz("llama_index_memory")
@given(data=st.data())
def test_llama_index_postprocess_nodes(loop: asyncio.AbstractEventLoop, data: st.DataObject) -> None:
    RUN["llama_index_memory"] += 1
    fuzz_postprocess(data, LLAMA_INDEX_MEMORY, loop, memory_scorer)


@fuzz("llama_index_http")
@given(data=st.data())
def test_llama_index_over_http(
    loop: asyncio.AbstractEventLoop, bifrost: Emulator, http_classes: tuple[Any, Any], data: st.DataObject
) -> None:
    RUN["llama_index_http"] += 1
    bifrost.clear()
    fuzz_postprocess(data, http_classes[1], loop, emulator_scorer(bifrost))


def test_at_least_5000_inputs_were_tried() -> None:
    if set(RUN) != set(EXAMPLES):
        pytest.skip(f"only {sorted(RUN)} of the fuzz tests ran")
    assert sum(RUN.values()) >= 5000, RUN
    # The inputs reached the rankings too, not only the refusals.
    assert ENDINGS["ok"] >= 1000, ENDINGS


# -- what the fuzz found, kept as plain tests --------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_an_id_utf8_cannot_encode_is_refused_by_index_before_sending(
    loop: asyncio.AbstractEventLoop, bifrost: Emulator, http_classes: tuple[Any, Any], asynchronous: bool
) -> None:
    """It reached the HTTP client, which failed with a raw UnicodeEncodeError."""
    bifrost.clear()
    compressor, postprocessor = http_classes
    reset(compressor)
    reset(postprocessor)
    documents_ = [Document("red apples", id="fine"), Document("green apples", id="bad \ud800")]
    nodes_ = [
        NodeWithScore(node=TextNode(text=document.page_content, id_=str(document.id)))
        for document in documents_
    ]
    calls = [
        (
            lambda: compressor.compress_documents(documents_, "apples"),
            lambda: compressor.acompress_documents(documents_, "apples"),
        ),
        (
            lambda: postprocessor.postprocess_nodes(nodes_, query_str="apples"),
            lambda: postprocessor.apostprocess_nodes(nodes_, query_str="apples"),
        ),
    ]
    for sync, coroutine in calls:
        with pytest.raises(
            RerankInputError, match="id of the document at index 1 is not valid text"
        ) as caught:
            loop.run_until_complete(coroutine()) if asynchronous else sync()
        assert caught.value.index == 1
    assert not bifrost.requests_to("/bifrost/v1/rerank")


def test_text_utf8_cannot_encode_is_refused_by_index_before_sending(
    bifrost: Emulator, http_classes: tuple[Any, Any]
) -> None:
    bifrost.clear()
    compressor = http_classes[0]
    reset(compressor)
    for documents_ in (
        [Document("red apples"), Document("red \udfff apples")],
        [Document("red apples"), Document("red", metadata={"title": "\ud800"})],
    ):
        compressor.rerank_fields = ["page_content", "title"]
        with pytest.raises(RerankInputError, match="document at index 1 is not valid text") as caught:
            compressor.compress_documents(documents_, "apples")
        assert caught.value.index == 1
    with pytest.raises(RerankInputError, match="query is not valid text"):
        compressor.compress_documents([Document("red apples")], "red \ud800")
    assert not bifrost.requests_to("/bifrost/v1/rerank")


ODD_FIELD_VALUES: list[Any] = [
    {(0,): "apples"},  # a key JSON cannot take
    {1: "red", "b": "apples"},  # keys of mixed types
    [frozenset({1}), b"red apples"],  # values JSON takes only as their str()
]


@pytest.mark.parametrize("value", ODD_FIELD_VALUES, ids=["tuple key", "mixed keys", "odd values"])
def test_metadata_json_cannot_encode_still_makes_a_text(value: Any) -> None:
    """``rerank_fields`` over such metadata raised json's raw TypeError."""
    cyclic: dict[str, Any] = {"name": "red apples"}
    cyclic["self"] = cyclic
    for metadata in ({"title": value}, {"title": cyclic}):
        compressor = MemoryCompressor(rerank_fields=["title", "page_content"], top_n=None)
        postprocessor = MemoryPostprocessor(rerank_fields=["title", "text"], top_n=None)
        documents_ = [Document("", metadata=metadata), Document("blue sky")]
        result = compressor.compress_documents(documents_, "red apples")
        assert [document.page_content for document in result] == ["", "blue sky"]
        assert result[0].metadata[SCORE_KEY] > 0  # the metadata's text was scored
        nodes_ = [
            NodeWithScore(node=TextNode(text="", metadata=metadata)),
            NodeWithScore(node=TextNode(text="sky")),
        ]
        ranked = postprocessor.postprocess_nodes(nodes_, query_str="red apples")
        assert [item.node for item in ranked] == [nodes_[0].node, nodes_[1].node]


def test_metadata_that_cannot_be_copied_is_shared_by_the_returned_copy() -> None:
    """Returned Documents carry copied metadata; a value deepcopy refuses (a lock, a client) raised
    a raw TypeError."""
    lock = threading.Lock()
    original = Document("red apples", metadata={"lock": lock, "pages": [1, 2]})
    [returned] = MemoryCompressor().compress_documents([original], "red")
    assert returned.metadata["lock"] is lock
    assert (
        returned.metadata["pages"] == [1, 2] and returned.metadata["pages"] is not original.metadata["pages"]
    )
    assert original.metadata == {"lock": lock, "pages": [1, 2]}
