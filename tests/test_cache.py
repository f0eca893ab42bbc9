"""The score cache: its three stores, and calls that send only what it lacks.

Requests are counted on the in-memory backend (it records each); Redis is a real server started
for the session (tests/redis_support.py).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from multirerank import Reranker, Router
from multirerank.cache import InMemoryScoreCache, RedisScoreCache, ScoreCache, SQLiteScoreCache
from multirerank.cache.base import DEFAULT_TTL
from multirerank.cli import main
from multirerank.engine.cached import key_prefix
from multirerank.errors import ConfigurationError, ProviderError
from multirerank.registry import backend_from_model
from multirerank.types import RerankResponse
from tests.memory_backend import AsyncMemoryBackend, MemoryBackend
from tests.redis_support import free_port, redis_url  # noqa: F401 - a fixture

QUERY = "red apples"
DOCUMENTS = [f"document {number} about red apples and number {number % 7}" for number in range(1000)]
FRESH = [f"another text {number} naming apples {number % 5} times" for number in range(500)]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScoreCache]:
    made: ScoreCache
    if request.param == "memory":
        made = InMemoryScoreCache()
    elif request.param == "sqlite":
        made = SQLiteScoreCache(tmp_path / "scores.db")
    else:
        url = request.getfixturevalue("redis_url")
        # Each test its own keys on the shared server.
        made = RedisScoreCache(url, prefix=f"test:{request.node.name}:{time.monotonic_ns()}:")
    yield made
    made.close()


def requests_sent(backend: MemoryBackend) -> int:
    return len(backend.requests)


def documents_sent(backend: MemoryBackend) -> int:
    return sum(len(request.documents) for request in backend.requests)


async def call(
    reranker: Reranker, documents: list[str], asynchronous: bool, **options: Any
) -> RerankResponse:
    if asynchronous:
        return await reranker.arerank(QUERY, documents, **options)
    return reranker.rerank(QUERY, documents, **options)


# -- the stores ---------------------------------------------------------------------------------


def test_a_store_returns_what_it_holds_and_nothing_else(store: ScoreCache) -> None:
    store.set_many({"a": 0.25, "b": -3.5})
    assert store.get_many(["a", "b", "c"]) == {"a": 0.25, "b": -3.5}
    assert store.get_many([]) == {}
    store.set_many({"a": 1.0})
    assert store.get_many(["a"]) == {"a": 1.0}


async def test_a_store_answers_without_blocking_the_loop(store: ScoreCache) -> None:
    await store.aset_many({f"k{number}": number / 7 for number in range(1200)})
    found = await store.aget_many([f"k{number}" for number in range(1300)])
    assert len(found) == 1200
    assert found["k700"] == 100.0


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_entries_expire_after_the_ttl(kind: str, tmp_path: Path) -> None:
    store: ScoreCache = (
        InMemoryScoreCache(ttl=0.05) if kind == "memory" else SQLiteScoreCache(tmp_path / "s.db", ttl=0.05)
    )
    store.set_many({"a": 0.5})
    assert store.get_many(["a"]) == {"a": 0.5}
    time.sleep(0.1)
    assert store.get_many(["a"]) == {}


def test_redis_entries_expire_after_the_ttl(redis_url: str) -> None:  # noqa: F811
    store = RedisScoreCache(redis_url, ttl=1, prefix="test:ttl:")
    store.set_many({"a": 0.5})
    assert store.get_many(["a"]) == {"a": 0.5}
    time.sleep(1.2)
    assert store.get_many(["a"]) == {}
    store.close()


def test_the_lru_evicts_the_least_recently_used() -> None:
    store = InMemoryScoreCache(maxsize=2)
    store.set_many({"a": 1.0, "b": 2.0})
    store.get_many(["a"])
    store.set_many({"c": 3.0})
    assert store.get_many(["a", "b", "c"]) == {"a": 1.0, "c": 3.0}


def test_sqlite_is_shared_between_two_stores_of_one_file(tmp_path: Path) -> None:
    first, second = SQLiteScoreCache(tmp_path / "s.db"), SQLiteScoreCache(tmp_path / "s.db")
    first.set_many({"a": 0.5})
    assert second.get_many(["a"]) == {"a": 0.5}
    first.close()
    second.close()


def test_stores_pickle_as_their_settings(tmp_path: Path) -> None:
    memory = InMemoryScoreCache(maxsize=5, ttl=9)
    memory.set_many({"a": 1.0})
    copied = pickle.loads(pickle.dumps(memory))
    assert (copied.maxsize, copied.ttl, len(copied)) == (5, 9.0, 0)
    sqlite = SQLiteScoreCache(tmp_path / "s.db", ttl=None)
    sqlite.set_many({"a": 1.0})
    assert pickle.loads(pickle.dumps(sqlite)).get_many(["a"]) == {"a": 1.0}
    redis = RedisScoreCache("redis://:hunter2-secret@127.0.0.1:1/0", prefix="p:")
    assert "hunter2-secret" not in repr(redis)
    assert pickle.loads(pickle.dumps(redis)).prefix == "p:"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1, "got int"),
        ("http://:pw-secret@h/0", "got a 'http' URL"),
        ("bogus-pw-secret", "got a string that is no URL"),
        ("sqlite:///", "names no file"),
    ],
)
def test_a_wrong_cache_setting_is_a_configuration_error(value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Reranker(MemoryBackend(), cache=value)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)


def test_a_wrong_ttl_or_size_is_a_configuration_error() -> None:
    for made in (lambda: InMemoryScoreCache(ttl=0), lambda: InMemoryScoreCache(maxsize=0)):
        with pytest.raises(ConfigurationError, match="cache"):
            made()


# -- calls --------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_repeated_call_sends_nothing_and_half_overlap_sends_half(
    store: ScoreCache, asynchronous: bool
) -> None:
    backend = (AsyncMemoryBackend if asynchronous else MemoryBackend)(max_documents=100)
    reranker = Reranker(backend, cache=store)

    first = await call(reranker, DOCUMENTS, asynchronous, top_n=5)
    assert (requests_sent(backend), first.usage and first.usage.cache_misses) == (10, 1000)

    again = await call(reranker, DOCUMENTS, asynchronous, top_n=5)
    assert requests_sent(backend) == 10  # none more
    assert again.usage is not None
    assert (again.usage.requests, again.usage.cache_hits, again.usage.cache_misses) == (0, 1000, 0)
    assert again.results == first.results

    overlapping = DOCUMENTS[500:] + FRESH
    half = await call(reranker, overlapping, asynchronous)
    assert documents_sent(backend) == 1500  # only the 500 new ones
    assert half.usage is not None
    assert (half.usage.requests, half.usage.cache_hits, half.usage.cache_misses) == (5, 500, 500)
    fresh = Reranker(MemoryBackend()).rerank(QUERY, overlapping)
    assert half.results == fresh.results


async def test_a_cached_call_ranks_as_an_uncached_one() -> None:
    """Thresholds, top_n, normalizing and documents apply to cached scores as to fresh ones."""
    backend = MemoryBackend(max_documents=3)
    backend.score_scale = "logit"
    texts = ["red", "apples", "red apples", "pears", "red pears", "green apples"]
    options: dict[str, Any] = {"top_n": 3, "score_threshold": 0.55, "return_documents": True}
    plain = Reranker(MemoryBackend(max_documents=3), normalize_scores=True)
    plain.backend.score_scale = "logit"
    cached = Reranker(backend, normalize_scores=True, cache=True)
    expected = plain.rerank(QUERY, texts, **options).results
    assert cached.rerank(QUERY, texts, **options).results == expected
    assert cached.rerank(QUERY, texts, **options).results == expected
    assert await cached.arerank(QUERY, texts, **options) and requests_sent(backend) == 2


def test_top_n_still_fills_the_cache_with_every_score() -> None:
    backend = MemoryBackend(max_documents=100)
    reranker = Reranker(backend, cache=True)
    reranker.rerank(QUERY, DOCUMENTS, top_n=1)
    assert {request.top_n for request in backend.requests} == {None}
    everything = reranker.rerank(QUERY, DOCUMENTS)
    assert len(everything) == 1000 and requests_sent(backend) == 10


def test_the_key_covers_model_options_query_and_instruction() -> None:
    def prefix(backend: Any, query: str = QUERY) -> str:
        return key_prefix(backend, query)

    base = prefix(MemoryBackend(model="m1"))
    assert base == prefix(MemoryBackend(model="m1"))
    assert base != prefix(MemoryBackend(model="m2"))
    assert base != prefix(MemoryBackend(model="m1"), "green apples")
    tei = backend_from_model("tei", base_url="http://127.0.0.1:1")
    assert prefix(tei) != prefix(backend_from_model("tei", base_url="http://127.0.0.1:2"))
    assert prefix(tei) != prefix(backend_from_model("tei", base_url="http://127.0.0.1:1", truncate=True))
    cohere = backend_from_model("cohere/rerank-v3.5", api_key="k")
    assert prefix(cohere) != prefix(
        backend_from_model("cohere/rerank-v3.5", api_key="k", max_tokens_per_doc=9)
    )
    assert prefix(cohere) == prefix(backend_from_model("cohere/rerank-v3.5", api_key="another key"))
    qwen = backend_from_model("dashscope/qwen3-rerank", api_key="k")
    instructed = backend_from_model("dashscope/qwen3-rerank", api_key="k", instruct="Find answers.")
    assert prefix(qwen) != prefix(instructed)


def test_a_document_changed_is_a_miss_and_the_same_text_a_hit() -> None:
    backend = MemoryBackend()
    reranker = Reranker(backend, cache=True)
    reranker.rerank(QUERY, ["red apples", "pears"])
    response = reranker.rerank(QUERY, ["pears", "red apples!"], ids=["p", "a"])
    assert response.usage is not None
    assert (response.usage.cache_hits, response.usage.cache_misses) == (1, 1)
    assert backend.requests[-1].documents == ["red apples!"]


def test_a_backend_scoring_in_context_bypasses_the_cache(caplog: pytest.LogCaptureFixture) -> None:
    class ListwiseBackend(MemoryBackend):
        per_document_scores = False

    backend = ListwiseBackend()
    reranker = Reranker(backend, cache=True)
    with caplog.at_level(logging.DEBUG, logger="multirerank.cache"):
        reranker.rerank(QUERY, DOCUMENTS[:10])
        response = reranker.rerank(QUERY, DOCUMENTS[:10])
    assert requests_sent(backend) == 2
    assert response.usage is not None and response.usage.cache_hits == 0
    assert "bypassed" in caplog.text


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_store_that_is_down_costs_a_warning_not_the_call(
    asynchronous: bool, caplog: pytest.LogCaptureFixture
) -> None:
    backend = MemoryBackend()
    reranker = Reranker(backend, cache=RedisScoreCache(f"redis://:pw-secret@127.0.0.1:{free_port()}/0"))
    with caplog.at_level(logging.WARNING, logger="multirerank.cache"):
        response = await call(reranker, DOCUMENTS[:10], asynchronous)
    assert len(response) == 10
    assert response.usage is not None and response.usage.cache_misses == 10
    assert "failed to read" in caplog.text and "failed to write" in caplog.text
    assert "pw-secret" not in caplog.text


def test_a_router_caches_by_the_route_that_scored() -> None:
    failing = MemoryBackend(
        model="a", fail_on={1: ProviderError("down", provider="memory", status=503, retryable=True)}
    )
    healthy = MemoryBackend(model="b")
    store = InMemoryScoreCache()
    with Reranker(Router([failing, healthy], strategy="fallback"), cache=store, max_retries=0) as reranker:
        first = reranker.rerank(QUERY, DOCUMENTS[:10])
        assert first.model == "b"
        again = reranker.rerank(QUERY, DOCUMENTS[:10])  # route a answers now, from nothing cached
    assert again.model == "a" and again.usage is not None and again.usage.cache_misses == 10
    assert requests_sent(healthy) == 1
    with Reranker(MemoryBackend(model="b"), cache=store) as direct:
        assert direct.rerank(QUERY, DOCUMENTS[:10]).usage.cache_hits == 10  # type: ignore[union-attr]


def test_a_per_call_twin_shares_the_cache() -> None:
    reranker = Reranker(MemoryBackend(), cache=True)
    twin = reranker.with_backend(MemoryBackend())
    assert twin.cache is reranker.cache
    reranker.cache = False
    assert reranker.cache is None


def test_a_reranker_closes_only_the_store_it_made(tmp_path: Path) -> None:
    given = SQLiteScoreCache(tmp_path / "given.db")
    with Reranker(MemoryBackend(), cache=given):
        pass
    given.set_many({"a": 1.0})  # still open
    made = Reranker(MemoryBackend(), cache=f"sqlite:///{tmp_path / 'made.db'}")
    assert isinstance(made.cache, SQLiteScoreCache)
    made.close()
    with pytest.raises(Exception, match="closed"):
        made.cache.get_many(["a"])


# -- frameworks and the command line -----------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_langchain_compressors_take_a_cache(asynchronous: bool) -> None:
    from tests.test_langchain_adapter import MemoryCompressor

    backend = MemoryBackend()
    compressor = MemoryCompressor(backend=backend, cache=True, top_n=2)
    documents = [Document(page_content=text) for text in DOCUMENTS[:20]]
    for _ in range(2):
        if asynchronous:
            found = await compressor.acompress_documents(documents, QUERY)
        else:
            found = compressor.compress_documents(documents, QUERY)
        assert len(found) == 2
    assert requests_sent(backend) == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_llama_index_postprocessors_take_a_cache(asynchronous: bool, tmp_path: Path) -> None:
    from tests.test_llama_index_adapter import MemoryRerank

    backend = MemoryBackend()
    processor = MemoryRerank(backend=backend, cache=f"sqlite:///{tmp_path / 's.db'}", top_n=2)
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in DOCUMENTS[:20]]
    for _ in range(2):
        if asynchronous:
            found = await processor.apostprocess_nodes(nodes, query_str=QUERY)
        else:
            found = processor.postprocess_nodes(nodes, query_str=QUERY)
        assert len(found) == 2
    assert requests_sent(backend) == 1
    with pytest.raises(ConfigurationError, match="cache must be"):
        MemoryRerank(backend=backend, cache="ftp://nowhere")


def test_vendor_classes_pickle_with_a_cache(tmp_path: Path) -> None:
    import langchain_multirerank
    import llama_index_multirerank

    for package in (langchain_multirerank, llama_index_multirerank):
        for cache in (True, f"sqlite:///{tmp_path / 'v.db'}", InMemoryScoreCache(maxsize=7)):
            made = package.HTTPRerank(api_format="tei", base_url="http://127.0.0.1:1", cache=cache)
            copied = pickle.loads(pickle.dumps(made))
            assert isinstance(copied.reranker.cache, ScoreCache)
        with_password = package.HTTPRerank(
            api_format="tei", base_url="http://127.0.0.1:1", cache="redis://:pw-secret@127.0.0.1:1/0"
        )
        assert "pw-secret" not in repr(with_password) + repr(with_password.reranker.cache)


def test_cli_cache_keeps_scores_between_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from multirerank import registry

    made: list[MemoryBackend] = []

    def make(rest: str | None, **options: object) -> MemoryBackend:
        made.append(MemoryBackend(max_documents=2))
        return made[-1]

    monkeypatch.setattr(f"{__name__}.make_memory_backend", make, raising=False)
    monkeypatch.setitem(registry.PROVIDERS, "memory", f"{__name__}:make_memory_backend")
    documents = tmp_path / "docs.txt"
    documents.write_text("\n".join(DOCUMENTS[:5]))
    database = tmp_path / "scores.db"
    for _ in range(2):
        assert (
            main(["rerank", "--model", "memory", "--query", QUERY, "--cache", str(database), str(documents)])
            == 0
        )
    first, second = capsys.readouterr().out.split("rank ")[1:]
    assert first.splitlines()[:-1] == second.splitlines()[:-1]  # all but the timing line
    assert [requests_sent(backend) for backend in made] == [3, 0]
    assert database.exists()


def test_loop_cache_is_not_leaked_between_event_loops(redis_url: str) -> None:  # noqa: F811
    store = RedisScoreCache(redis_url, prefix="test:loops:")
    for _ in range(2):
        asyncio.run(store.aset_many({"a": 0.5}))
        assert asyncio.run(store.aget_many(["a"])) == {"a": 0.5}
    store.close()


def test_a_title_sent_beside_the_text_is_part_of_the_key() -> None:
    from multirerank.engine.cached import _scored_text
    from multirerank.types import TitledText

    assert _scored_text(TitledText("body", "Title A")) != _scored_text(TitledText("body", "Title B"))
    assert _scored_text(TitledText("body", "")) != _scored_text("body")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6399/0?password=TOPSECRET", "redis://127.0.0.1:6399/0?password=***"),
        ("redis://user:TOPSECRET@127.0.0.1:6399/0", "redis://***@127.0.0.1:6399/0"),
        ("unix:///tmp/redis.sock?db=0&password=TOPSECRET", "unix:///tmp/redis.sock?db=0&password=***"),
    ],
)
def test_a_redis_password_never_shows_in_the_store_repr(url: str, shown: str) -> None:
    assert repr(RedisScoreCache(url)) == f"RedisScoreCache({shown!r}, ttl={DEFAULT_TTL})"


def test_a_redis_url_whose_port_is_no_number_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigurationError, match="port") as caught:
        RedisScoreCache("redis://:TOPSECRET@localhost:notaport/0")
    assert "TOPSECRET" not in str(caught.value)
