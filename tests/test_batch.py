"""multirerank.batch without a distributed engine: tables of pairs and of groups, errors per row,
requests in flight across queries, resumption from a score cache, the `batch` command, Dask."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multirerank import Reranker
from multirerank.batch import BatchReranker, rerank_groups, rerank_pairs
from multirerank.batch.ray_actor import RerankBatch, actor_share, usage_since
from multirerank.cli import EXIT_ERROR, main
from multirerank.errors import ConfigurationError, RerankInputError
from multirerank.types import Usage
from tests.emulator_support import emulator_fixtures
from tests.memory_backend import MemoryBackend

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

server, emulator = emulator_fixtures()

MODEL = "cohere/rerank-v3.5"

QUERIES = ["solar power", "wind turbines", "solar power", "cats", "wind turbines", "solar power"]
TEXTS = [
    "Solar panels make power from sunlight.",
    "Wind turbines spin in the wind.",
    "Cats purr.",
    "Cats sleep most of the day.",
    "Power lines carry electricity.",
    "Solar power is cheap now.",
]


def options(emulator: Any) -> dict[str, Any]:
    return {"base_url": f"{emulator.url}/cohere", "api_key": "test-key"}


def expected_scores(emulator: Any, queries: list[str], texts: list[str]) -> list[float]:
    return [emulator.score(query, [text])[0] for query, text in zip(queries, texts, strict=True)]


def test_pairs_keep_rows_in_order_one_request_per_query(emulator: Any) -> None:
    frame = pd.DataFrame({"query": QUERIES, "text": TEXTS, "n": range(6)}, index=list("abcdef"))
    before = frame.copy()
    out = rerank_pairs(frame, MODEL, **options(emulator))
    pd.testing.assert_frame_equal(frame, before)  # the caller's table is left alone
    assert list(out.index) == list("abcdef") and list(out["n"]) == list(range(6))
    assert list(out.columns) == ["query", "text", "n", "score", "score_scale", "provider", "model"]
    assert out["score"].tolist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))
    assert set(out["provider"]) == {"cohere"} and set(out["score_scale"]) == {"probability"}
    sent = sorted(request.json()["query"] for request in emulator.requests)
    assert sent == ["cats", "solar power", "wind turbines"]


def test_arrow_and_mapping_tables_come_back_as_themselves(emulator: Any) -> None:
    table = pa.table({"query": QUERIES, "text": TEXTS})
    out = rerank_pairs(table, MODEL, **options(emulator))
    assert isinstance(out, pa.Table) and out.column_names[:2] == ["query", "text"]
    assert out.schema.field("score").type == pa.float64()
    assert out.column("score").to_pylist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))
    mapping = rerank_pairs(
        {"q": QUERIES[:2], "t": TEXTS[:2]}, MODEL, query_column="q", text_column="t", **options(emulator)
    )
    assert mapping["score"] == pytest.approx(expected_scores(emulator, QUERIES[:2], TEXTS[:2]))


def test_errors_per_row_name_the_row(emulator: Any) -> None:
    frame = pd.DataFrame({"query": QUERIES, "text": [*TEXTS[:5], "  "], "id": [f"d{n}" for n in range(6)]})
    with pytest.raises(RerankInputError, match=r"row 5 \(id 'd5'\): document text is required"):
        rerank_pairs(frame, MODEL, id_column="id", **options(emulator))
    assert emulator.requests == []  # refused before anything was sent
    # The first query's call fails at the vendor (a 400 is not retried); the others are scored.
    emulator.inject(status=400, message="bad things", vendor="cohere")
    with BatchReranker(MODEL, concurrency=1, **options(emulator)) as batch:
        out = batch.rerank_pairs(frame, id_column="id", on_error="column")
    errors = out["error"].tolist()
    assert errors[0].startswith("row 0 (id 'd0'): BadRequestError") and errors[2].startswith(
        "row 2 (id 'd2')"
    )
    # One form for every row's error: the row, then the error's type and message.
    assert errors[5] == "row 5 (id 'd5'): RerankInputError: document text is required for rerank"
    assert [errors[n] for n in (1, 3, 4)] == [None, None, None]
    assert out["score"].isna().tolist() == [True, False, True, False, False, True]


def test_a_vendor_failure_is_raised_and_progress_counts_rows(emulator: Any) -> None:
    from multirerank.errors import BadRequestError

    emulator.inject(status=400, message="bad things", vendor="cohere")
    with pytest.raises(BadRequestError):
        rerank_pairs({"query": QUERIES, "text": TEXTS}, MODEL, **options(emulator))
    done: list[int] = []
    rerank_pairs({"query": QUERIES, "text": TEXTS}, MODEL, progress=done.append, **options(emulator))
    assert sorted(done) == [1, 2, 3]


def test_repeated_ids_are_scored_once_and_every_row_gets_the_score(emulator: Any) -> None:
    table = {"query": ["sun"] * 3, "text": ["sun hot", "sun hot", "moon"], "id": ["a", "a", "b"]}
    out = rerank_pairs(table, MODEL, id_column="id", **options(emulator))
    assert out["score"][0] == out["score"][1] and out["score"][0] is not None
    assert len(emulator.requests[0].json()["documents"]) == 2


def test_input_mistakes_are_clear(emulator: Any) -> None:
    with pytest.raises(RerankInputError, match="no column 'question' \\(query_column\\)"):
        rerank_pairs({"query": ["q"], "text": ["t"]}, MODEL, query_column="question", **options(emulator))
    with pytest.raises(RerankInputError, match="already has column\\(s\\) 'score'"):
        rerank_pairs({"query": ["q"], "text": ["t"], "score": [1]}, MODEL, **options(emulator))
    with pytest.raises(RerankInputError, match=r"column 'query' must be a list .* got str"):
        rerank_pairs({"query": "qq", "text": "tt"}, MODEL, **options(emulator))
    with pytest.raises(RerankInputError, match="pandas DataFrame, a pyarrow Table"):
        rerank_pairs([("q", "t")], MODEL, **options(emulator))
    with pytest.raises(ConfigurationError, match="on_error"):
        rerank_pairs({"query": ["q"], "text": ["t"]}, MODEL, on_error="ignore", **options(emulator))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="concurrency"):
        BatchReranker(MODEL, concurrency=0)


def test_a_value_of_the_wrong_type_is_named_as_such(emulator: Any) -> None:
    with pytest.raises(RerankInputError, match=r"^row 0: document text must be a string, got int$"):
        rerank_pairs(pd.DataFrame({"query": ["q"], "text": [5]}), MODEL, **options(emulator))
    frame = pd.DataFrame({"query": ["q", 2.5, "q", None], "text": ["t", "t", None, "t"]})
    errors = rerank_pairs(frame, MODEL, on_error="column", **options(emulator))["error"].tolist()
    assert errors == [
        None,
        "row 1: RerankInputError: query must be a string, got float",
        "row 2: RerankInputError: document text is required for rerank",  # missing, not a wrong type
        "row 3: RerankInputError: query is required for rerank",
    ]
    groups = {"query": ["q", b"q"], "candidates": [["a", 7], ["a"]]}
    errors = rerank_groups(groups, MODEL, on_error="column", **options(emulator))["error"]
    assert errors == [
        "row 0: RerankInputError: document text at index 1 must be a string, got int",
        "row 1: RerankInputError: query must be a string, got bytes",
    ]
    assert [request.json()["documents"] for request in emulator.requests] == [["t"]]  # row 0's alone


def test_concurrency_bounds_requests_in_flight_across_queries() -> None:
    backend = MemoryBackend(delay=0.02, max_documents=10, max_concurrency=4)
    queries = [f"query {n}" for n in range(12) for _ in range(30)]  # 3 requests per query
    texts = [f"text {n} query" for n in range(len(queries))]
    with Reranker(backend) as reranker:
        out = rerank_pairs({"query": queries, "text": texts}, reranker, concurrency=5)
    assert len(backend.requests) == 36 and None not in out["score"]
    assert 3 <= backend.max_in_flight <= 5


def test_groups_rank_each_rows_candidates(emulator: Any) -> None:
    candidates = [["Cats purr.", "Solar panels make power.", "Solar power is cheap."], [], ["a cat"]]
    frame = pd.DataFrame({"query": ["solar power", "cats", "cats"], "candidates": candidates})
    out = rerank_groups(frame, MODEL, top_n=2, **options(emulator))
    ranked = [index for index, _ in emulator.ranked("solar power", candidates[0])][:2]
    assert out["indices"][0] == ranked and out["ranked"][0] == [candidates[0][n] for n in ranked]
    assert len(out["scores"][0]) == 2 and out["ranked"][1] == [] and out["ranked"][2] == ["a cat"]
    records = pa.table({"query": ["cats"], "candidates": [[{"body": "cats purr"}, {"body": " "}]]})
    with pytest.raises(RerankInputError, match="row 0: document text is required for rerank at index 1"):
        rerank_groups(records, MODEL, text_key="body", **options(emulator))
    out = rerank_groups(records, MODEL, text_key="body", on_error="column", **options(emulator))
    assert out.column("error").to_pylist()[0].startswith("row 0: RerankInputError: document text")


def test_a_rerun_with_a_score_cache_sends_nothing(emulator: Any, tmp_path: Path) -> None:
    cache = f"sqlite:///{tmp_path / 'scores.db'}"
    first = rerank_pairs({"query": QUERIES, "text": TEXTS}, MODEL, cache=cache, **options(emulator))
    sent = len(emulator.requests)
    with BatchReranker(MODEL, cache=cache, **options(emulator)) as batch:
        again = batch.rerank_pairs({"query": QUERIES, "text": TEXTS})
        assert batch.usage.requests == 0 and batch.usage.cache_hits == len(TEXTS)
    assert len(emulator.requests) == sent and again["score"] == first["score"]


def test_async_twin_runs_on_the_callers_loop(emulator: Any) -> None:
    import asyncio

    from multirerank.batch import arerank_pairs

    out = asyncio.run(arerank_pairs({"query": QUERIES, "text": TEXTS}, MODEL, **options(emulator)))
    assert out["score"] == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))


def test_rerank_batch_callable_and_rate_limit_shares(emulator: Any) -> None:
    scorer = RerankBatch(MODEL, **options(emulator))
    try:
        out = scorer(pa.table({"query": QUERIES, "text": TEXTS}))
    finally:
        scorer.close()
    assert out.column("score").to_pylist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))
    assert actor_share("100/minute", 4) == "25 per 1 minute"
    assert actor_share({"requests": "10/second", "documents": "1000/minute"}, 2) == {
        "requests": "5 per 1 second",
        "documents": "500 per 1 minute",
    }
    with pytest.raises(ConfigurationError, match=r"rate_limit_storage='redis://\.\.\.'"):
        RerankBatch(MODEL, rate_limit="100/minute", **options(emulator))
    with pytest.raises(ConfigurationError, match="too small to share among 4 actors"):
        actor_share("2/second", 4)
    # What each batch reports to `multirerank batch --ray`'s sum: its share of the actor's total.
    before, after = Usage(requests=1, documents=5, cost_usd=1.0), Usage(requests=3, documents=9, cost_usd=2.5)
    assert usage_since(before, after) == Usage(requests=2, documents=4, cost_usd=1.5)
    assert usage_since(Usage(), Usage(requests=1, search_units=1)).search_units == 1


# -- the command ------------------------------------------------------------------------------


def write_pairs(path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for query, text in zip(QUERIES, TEXTS, strict=True):
            stream.write(json.dumps({"query": query, "text": text}) + "\n")


def test_command_scores_a_file_and_resumes_from_its_cache(
    emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, output = tmp_path / "pairs.jsonl", tmp_path / "scored.parquet"
    write_pairs(source)
    arguments = ["batch", str(source), str(output), "--model", MODEL]
    arguments += ["-o", f"base_url={emulator.url}/cohere", "-o", "api_key=test-key"]
    assert main(arguments) == 0
    summary = capsys.readouterr().out
    assert "6 rows (0 failed)" in summary and "3 requests" in summary and "$" in summary
    scored = pa.parquet.read_table(output)
    assert scored.column("text").to_pylist() == TEXTS
    assert scored.column("score").to_pylist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))
    assert Path(f"{output}.cache.sqlite").exists()
    assert (
        main(
            [
                *arguments[:2],
                str(tmp_path / "again.jsonl"),
                *arguments[3:],
                "--cache",
                f"{output}.cache.sqlite",
            ]
        )
        == 0
    )
    assert "0 requests" in capsys.readouterr().out and len(emulator.requests) == 3
    rows = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert [row["score"] for row in rows] == scored.column("score").to_pylist()


def test_command_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.jsonl"
    source.write_text('{"query": "q", "text": "t"}\nnot json\n')
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--model", "local"]) == EXIT_ERROR
    assert "line 2 is not valid JSON" in capsys.readouterr().err


def test_an_integer_past_64_bits_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.jsonl"
    source.write_text('{"query": "q", "text": 12345678901234567890}\n', encoding="utf-8")
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--model", "local"]) == EXIT_ERROR
    assert "line 1: field 'text' is an integer too large for a 64-bit column" in capsys.readouterr().err


def test_an_empty_input_gives_an_empty_output(
    emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_text("\n")  # no rows, and so no columns either
    for output, extra in (("out.jsonl", []), ("out.parquet", []), ("ray.jsonl", ["--ray"])):
        arguments = ["batch", str(source), str(tmp_path / output), "--model", MODEL, "--no-cache", *extra]
        assert main([*arguments, "-o", f"base_url={emulator.url}/cohere", "-o", "api_key=k"]) == 0
        assert "0 rows (0 failed)" in capsys.readouterr().out
    assert (tmp_path / "out.jsonl").read_text() == "" and (tmp_path / "ray.jsonl").read_text() == ""
    added = ["score", "score_scale", "provider", "model"]
    scored = pa.parquet.read_table(tmp_path / "out.parquet")
    assert scored.num_rows == 0 and scored.column_names == [*added, "error"]
    assert rerank_pairs({}, MODEL, **options(emulator)) == {name: [] for name in added}
    assert len(rerank_groups(pd.DataFrame(), MODEL, **options(emulator))) == 0
    assert emulator.requests == []
    # An empty table that has columns still has its column names checked.
    with pytest.raises(RerankInputError, match="no column 'text'"):
        rerank_pairs({"query": [], "body": []}, MODEL, **options(emulator))


def test_command_names_a_cache_file_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, cache = tmp_path / "pairs.jsonl", tmp_path / "missing" / "s.db"
    write_pairs(source)
    arguments = ["batch", str(source), str(tmp_path / "out.jsonl"), "--model", MODEL, "--cache", str(cache)]
    assert main([*arguments, "-o", "base_url=http://127.0.0.1:9/cohere", "-o", "api_key=k"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"cannot open the SQLite score cache file {cache}: unable to open database file" in err, err


def test_command_refuses_an_output_that_is_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cli"
    folder.mkdir()
    source = folder / "same.jsonl"
    write_pairs(source)
    before = source.read_bytes()
    (tmp_path / "link.jsonl").hardlink_to(source)
    monkeypatch.chdir(folder)
    for output in ("same.jsonl", "./../cli/same.jsonl", str(tmp_path / "link.jsonl")):
        # A model that cannot be built: the refusal must come before it is.
        assert main(["batch", "same.jsonl", output, "--model", "nosuchvendor/x"]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"OUTPUT {output} is the INPUT file same.jsonl" in err, err
    assert source.read_bytes() == before
    assert sorted(path.name for path in folder.iterdir()) == ["same.jsonl"]  # no cache, no partial file


# -- other engines ----------------------------------------------------------------------------


def test_dask_map_partitions(emulator: Any) -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"query": QUERIES, "text": TEXTS})
    meta = rerank_pairs(frame.head(0), MODEL, **options(emulator))  # an empty partition sends nothing
    scored = dd.from_pandas(frame, npartitions=2).map_partitions(
        rerank_pairs, MODEL, meta=meta, **options(emulator)
    )
    out = scored.compute(scheduler="threads")
    assert len(emulator.requests) == 5  # one per query of each partition: 2 + 3
    assert out["score"].tolist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))


def test_spark_map_in_pandas(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip(
        "pyspark", reason="pyspark is not installed (not in the dev extra: ~450 MB, and a JVM)"
    )
    if shutil.which("java") is None:
        pytest.skip("Spark needs a JVM (java) on PATH")
    from pyspark.sql import SparkSession

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter, with its packages
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("multirerank-batch-test")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    settings = options(emulator)

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        with BatchReranker(MODEL, **settings) as batch:
            for part in batches:
                yield batch.rerank_pairs(part)

    try:
        frame = spark.createDataFrame(pd.DataFrame({"query": QUERIES, "text": TEXTS}))
        schema = "query string, text string, score double, score_scale string, provider string, model string"
        out = frame.mapInPandas(score, schema).toPandas()
    finally:
        spark.stop()
    assert out["score"].tolist() == pytest.approx(expected_scores(emulator, QUERIES, TEXTS))


def test_jsonl_fields_first_seen_on_later_lines_are_kept(tmp_path: Path) -> None:
    from multirerank.cli_batch import read_table

    source = tmp_path / "later.jsonl"
    source.write_text('{"query":"q","text":"a"}\n\n{"query":"q","text":"b","id":"x2","lang":"en"}\n')
    table = read_table(str(source))
    assert table.column_names == ["query", "text", "id", "lang"]
    assert table.column("id").to_pylist() == [None, "x2"] and table.column("lang").to_pylist() == [None, "en"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            '{"query":"q","text":"a"}\n{"query":"q","text":"b"}\n\n{"query":"q","text":7}\n',
            "line 4: field 'text'",
        ),
        ('{"query":"q","text":"a"}\n{"query":"q","text":NaN}\n', "line 2: field 'text' is NaN"),
    ],
)
def test_jsonl_type_clash_names_the_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, message: str
) -> None:
    source = tmp_path / "clash.jsonl"
    source.write_text(lines)
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--model", "local"]) == EXIT_ERROR
    assert message in capsys.readouterr().err


def test_missing_ids_are_no_ids_and_clashing_ids_are_refused_per_row(emulator: Any) -> None:
    frame = pd.DataFrame(
        {
            "query": ["sun"] * 4,
            "text": ["sun hot", "moon", "stars", "sun"],
            "id": [1.0, float("nan"), None, 2.0],
        }
    )
    out = rerank_pairs(frame, MODEL, id_column="id", **options(emulator))
    assert out["score"].tolist() == pytest.approx(expected_scores(emulator, ["sun"] * 4, list(frame["text"])))
    # Cohere takes no ids: four documents sent shows the missing ids were not merged into one.
    assert len(emulator.requests[0].json()["documents"]) == 4
    nullable = pd.DataFrame(
        {"query": ["sun"] * 2, "text": ["a", "b"], "id": pd.array([pd.NA, pd.NA], dtype="Int64")}
    )
    assert rerank_pairs(nullable, MODEL, id_column="id", **options(emulator))["score"].notna().all()
    clash = {"query": ["sun"] * 3, "text": ["sun hot", "moon", "sun hot"], "id": ["a", "a", 1]}
    with pytest.raises(RerankInputError, match="row 1 \\(id 'a'\\): row 0 of the same query has this id"):
        rerank_pairs(clash, MODEL, id_column="id", **options(emulator))
    out = rerank_pairs(
        {"query": ["sun"] * 3, "text": ["sun", "sun", "moon"], "id": [1, "1", None]},
        MODEL,
        id_column="id",
        on_error="column",
        **options(emulator),
    )
    assert out["error"][0] is None and out["score"][0] is not None
    assert out["error"][1].startswith("row 1 (id '1'): RerankInputError: its id '1' reads as '1', as row 0's")
    assert out["score"][1] is None and out["score"][2] is not None


def test_a_lone_surrogate_fails_only_its_own_row(emulator: Any) -> None:
    table = {"query": ["sun"] * 3, "text": ["sun hot", "bad \ud800", "moon"], "id": ["a", "b", "c"]}
    out = rerank_pairs(table, MODEL, id_column="id", on_error="column", **options(emulator))
    assert out["error"][1].startswith("row 1 (id 'b'): RerankInputError: document text is not valid text")
    assert (
        out["error"][0] is None and out["error"][2] is None and None not in (out["score"][0], out["score"][2])
    )
    with pytest.raises(RerankInputError, match="row 1 \\(id 'b'\\): document text is not valid text"):
        rerank_pairs(table, MODEL, id_column="id", **options(emulator))
    groups = rerank_groups(
        {"query": ["sun", "sun"], "candidates": [["ok", "bad \ud800"], ["ok"]]},
        MODEL,
        on_error="column",
        **options(emulator),
    )
    assert "index 1 has a lone surrogate" in groups["error"][0] and groups["error"][1] is None


def test_command_exits_1_when_rows_failed_and_counts_billed_usage(
    emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, output = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    write_pairs(source)
    emulator.inject(status=400, vendor="cohere", times=1)  # one query's call fails, the others are billed
    arguments = ["batch", str(source), str(output), "--model", MODEL, "--no-cache", "--concurrency", "1"]
    arguments += ["-o", f"base_url={emulator.url}/cohere", "-o", "api_key=test-key", "-o", "max_retries=0"]
    assert main(arguments) == 1
    out, err = capsys.readouterr()
    assert "failed) to" in out and "billed: 2 requests" in out
    assert "some rows failed, the first: row " in err and "BadRequestError" in err
    assert sum(json.loads(line)["error"] is not None for line in output.read_text().splitlines()) in (1, 2, 3)


def test_an_authentication_error_stops_the_run(
    emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = [f"query {number}" for number in range(30)]
    table = {"query": queries, "text": ["some text"] * 30}
    emulator.inject(status=401, vendor="cohere", times=None)
    from multirerank.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        rerank_pairs(table, MODEL, on_error="column", concurrency=2, max_retries=0, **options(emulator))
    assert len(emulator.requests) <= 3  # those in flight when the first failed, not 30
    emulator.clear()
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps({"query": query, "text": "t"}) + "\n" for query in queries))
    emulator.inject(status=401, vendor="cohere", times=None)
    arguments = ["batch", str(source), str(tmp_path / "out.jsonl"), "--model", MODEL, "--no-cache"]
    arguments += ["-o", f"base_url={emulator.url}/cohere", "-o", "api_key=test-key"]
    assert main(arguments) == EXIT_ERROR
    assert "multirerank: error:" in capsys.readouterr().err and len(emulator.requests) <= 9


def test_command_refuses_unknown_endings_and_unwritable_output_before_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pairs.jsonl"
    write_pairs(source)
    cases = [
        (tmp_path / "pairs.csv", tmp_path / "out.jsonl", "INPUT"),
        (source, tmp_path / "out.csv", "OUTPUT"),
        (source, tmp_path / "missing" / "out.jsonl", "cannot write"),
        (source, tmp_path, "OUTPUT"),
    ]
    for given, output, message in cases:
        # A model that cannot be built: these must fail before it is.
        assert (
            main(["batch", str(given), str(output), "--model", "nosuchvendor/x", "--no-cache"]) == EXIT_ERROR
        )
        err = capsys.readouterr().err
        assert message in err and "nosuchvendor" not in err, err
