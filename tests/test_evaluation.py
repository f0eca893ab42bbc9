"""``multirerank.evaluate`` and ``multirerank evaluate``: metrics checked against pytrec_eval itself,
inputs in TREC and BEIR forms, failures, usage and the command's outputs."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import pytrec_eval

from multirerank import AuthenticationError, ProviderError, Reranker, RerankInputError, evaluate
from multirerank.cli import EXIT_BROKEN_PIPE, EXIT_ERROR, main
from multirerank.errors import ConfigurationError
from multirerank.evaluation import BASELINE, METRICS, dataset_files
from multirerank.evaluation.data import read_corpus, read_qrels, read_queries, read_run
from tests.emulator_support import emulator_fixtures
from tests.memory_backend import MemoryBackend

server, emulator = emulator_fixtures()

HOUSEHOLD = dataset_files("household")
TOLERANCE = 1e-9


def pytrec_figures(
    qrels: dict[str, dict[str, int]], ranking: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """``{metric: {query: value}}`` by pytrec_eval for a ranking given best first.

    MRR@10 is trec_eval's recip_rank over each list cut to its first 10 (trec_eval has no cut
    for it); scores are ranks, so trec_eval keeps the given order.
    """

    def scored(cut: int | None) -> dict[str, dict[str, float]]:
        return {
            query: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs[:cut])}
            for query, docs in ranking.items()
        }

    main_figures = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map"}).evaluate(
        scored(None)
    )
    reciprocal = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(scored(10))
    return {
        "nDCG@10": {query: values["ndcg_cut_10"] for query, values in main_figures.items()},
        "MRR@10": {query: values["recip_rank"] for query, values in reciprocal.items()},
        "Recall@100": {query: values["recall_100"] for query, values in main_figures.items()},
        "MAP": {query: values["map"] for query, values in main_figures.items()},
    }


def reversed_backend() -> MemoryBackend:
    """Scores each text by its length: an order unlike the lexical one."""
    backend = MemoryBackend(model="by-length")
    backend.score_text = lambda query, document: float(len(str(document)))  # type: ignore[method-assign]
    return backend


# -- metrics ------------------------------------------------------------------------------------


def test_every_row_equals_pytrec_eval_on_the_household_set() -> None:
    report = evaluate([Reranker(MemoryBackend()), Reranker(reversed_backend())], dataset="household")
    qrels = read_qrels(HOUSEHOLD.qrels)
    assert [row.name for row in report.rows] == [BASELINE, "memory/memory-1", "memory/by-length"]
    assert report.queries == 30 and report.depth == 100
    for row in report.rows:
        expected = pytrec_figures(qrels, report.rankings[row.name])
        for metric in METRICS:
            assert set(row.per_query[metric]) == set(expected[metric])
            worst = max(abs(row.per_query[metric][q] - expected[metric][q]) for q in expected[metric])
            assert worst <= TOLERANCE, (row.name, metric)
            mean = sum(expected[metric].values()) / len(expected[metric])
            assert abs(row.metrics[metric] - mean) <= TOLERANCE, (row.name, metric)
    # The rerankers' orders differ from the retrieval's and from each other's.
    assert len({row.metrics["nDCG@10"] for row in report.rows}) == 3


def test_the_retrieval_row_is_what_trec_eval_measures_on_the_run_file() -> None:
    # The run's own scores, ties and all, straight from the file: trec_eval orders equal scores
    # by document id, and the retrieval row must agree with it.
    run: dict[str, dict[str, float]] = {}
    for line in HOUSEHOLD.run.read_text().splitlines():
        query, _, doc, _, score, _ = line.split()
        run.setdefault(query, {})[doc] = float(score)
    qrels = read_qrels(HOUSEHOLD.qrels)
    figures = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map"}).evaluate(run)
    row = evaluate([Reranker(MemoryBackend())], dataset="household").rows[0]
    for metric, key in (("nDCG@10", "ndcg_cut_10"), ("Recall@100", "recall_100"), ("MAP", "map")):
        mean = sum(values[key] for values in figures.values()) / len(figures)
        assert abs(row.metrics[metric] - mean) <= TOLERANCE, metric


def test_depth_limits_what_each_model_reranks() -> None:
    backend = MemoryBackend()
    report = evaluate([Reranker(backend)], dataset="household", depth=10)
    assert {len(request.documents) for request in backend.requests} == {10}
    assert len(backend.requests) == 30
    assert all(len(order) == 10 for order in report.rankings["memory/memory-1"].values())
    full = read_run(HOUSEHOLD.run)
    assert report.rankings[BASELINE] == {query: docs[:10] for query, docs in full.items()}


def test_p_values_are_scipys_paired_t_test() -> None:
    from scipy.stats import ttest_rel

    report = evaluate([Reranker(MemoryBackend())], dataset="household")
    row, baseline = report["memory/memory-1"], report[BASELINE]
    assert row.p_values is not None
    for metric in METRICS:
        queries = sorted(baseline.per_query[metric])
        ours = [row.per_query[metric][q] for q in queries]
        theirs = [baseline.per_query[metric][q] for q in queries]
        expected = 1.0 if ours == theirs else float(ttest_rel(ours, theirs).pvalue)
        assert row.p_values[metric] == pytest.approx(expected, abs=1e-12)
    assert row.p_values["Recall@100"] == 1.0  # same candidates: recall cannot change


def test_in_memory_inputs_and_names() -> None:
    qrels = {"a": {"d1": 2, "d2": 0, "d3": 1}, "b": {"d2": 1}}
    # A ranked list, or scores ordered as trec_eval orders them (equal scores: greater id first).
    run: dict[str, Any] = {"a": ["d2", "d3", "d1"], "b": {"d2": 0.5, "d1": 0.5}, "c": ["d1"]}
    corpus = {"d1": "solar panels make power", "d2": "cats purr", "d3": "wind power"}
    queries = {"a": "solar power", "b": "cats", "c": "unjudged"}
    report = evaluate(
        [Reranker(MemoryBackend()), Reranker(MemoryBackend())],
        qrels=qrels,
        run=run,
        corpus=corpus,
        queries=queries,
    )
    assert [row.name for row in report.rows] == [BASELINE, "memory/memory-1", "memory/memory-1#2"]
    assert (report.queries, report.unjudged, report.missing) == (2, 1, 0)
    assert report["memory/memory-1"].metrics["MRR@10"] == 1.0
    assert report[BASELINE].metrics["MRR@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert report.rankings[BASELINE]["b"] == ["d2", "d1"]


# -- inputs -------------------------------------------------------------------------------------


def test_trec_and_beir_qrels_read_alike(tmp_path: Path) -> None:
    beir = read_qrels(HOUSEHOLD.qrels)
    trec = tmp_path / "qrels.txt"
    trec.write_text(
        "".join(f"{query} 0 {doc} {grade}\n" for query, docs in beir.items() for doc, grade in docs.items())
    )
    assert read_qrels(trec) == beir
    assert sum(len(docs) for docs in beir.values()) == 150 and len(beir) == 30


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("qrels", "q1 0 d1 high\n", "line 1: grade 'high' is not a whole number"),
        ("qrels", "q1 d1 1\nq1 d2\n", "line 2: expected 'query 0 doc grade'"),
        ("qrels", "", "holds no judgements"),
        ("run", "q1 Q0 d1 1 2.0 x\nq1 Q0 d1 2 1.0 x\n", "line 2: document 'd1' appears twice for query 'q1'"),
        ("run", "q1 Q0 d1 1 high x\n", "line 1: score 'high' is not a number"),
        ("run", "q1 d1 1.0\n", "line 1: expected 'query Q0 doc rank score tag'"),
        ("corpus", '{"_id": "d1", "text": 3}\n', 'line 1: "text" must be a string'),
        ("corpus", '{"text": "no id"}\n', 'line 1: expected an object with an "_id"'),
        ("queries", "not json\n", "line 1 is not valid JSON"),
    ],
)
def test_bad_files_are_named_with_their_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    reader = {"qrels": read_qrels, "run": read_run, "corpus": read_corpus, "queries": read_queries}[name]
    with pytest.raises(RerankInputError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        reader(path)
    assert str(path) in str(caught.value)


def test_documents_and_queries_missing_from_the_texts_are_named() -> None:
    common: dict[str, Any] = {"qrels": {"a": {"d1": 1}}, "run": {"a": ["d1", "d9"]}, "queries": {"a": "q"}}
    with pytest.raises(RerankInputError, match="document 'd9' \\(run, query 'a'\\) is not in the corpus"):
        evaluate([Reranker(MemoryBackend())], corpus={"d1": "x"}, **common)
    with pytest.raises(RerankInputError, match="query 'a' of the run has no text"):
        evaluate(
            [Reranker(MemoryBackend())],
            qrels={"a": {"d1": 1}},
            run={"a": ["d1"]},
            corpus={"d1": "x"},
            queries={},
        )
    with pytest.raises(RerankInputError, match="no query of the run has judgements"):
        evaluate(
            [Reranker(MemoryBackend())], qrels={"z": {"d1": 1}}, run={"a": ["d1"]}, corpus={}, queries={}
        )


def test_texts_are_found_beside_the_qrels_in_beir_layout() -> None:
    report = evaluate([Reranker(MemoryBackend())], qrels=HOUSEHOLD.qrels, run=HOUSEHOLD.run, depth=5)
    assert report.queries == 30
    assert read_corpus(HOUSEHOLD.corpus)["p001"] and len(read_queries(HOUSEHOLD.queries)) == 30


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"models": []}, "at least one model"),
        ({"models": "local"}, "models must be a list"),
        ({"depth": 0}, "depth must be a whole number"),
        ({"concurrency": True}, "concurrency must be a whole number"),
        ({"on_error": "skip"}, "on_error must be"),
        ({"models": [3]}, r"models\[0\] must be a model string"),
        ({"dataset": "nowhere"}, "neither a shipped set"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"models": [Reranker(MemoryBackend())], "dataset": "household", **arguments}
    models = settings.pop("models")
    with pytest.raises((ConfigurationError, RerankInputError), match=message):
        evaluate(models, **settings)


def test_a_missing_extra_is_named_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ir_measures", None)  # import ir_measures: ImportError
    backend = MemoryBackend()
    with pytest.raises(ConfigurationError, match=r"pip install 'multirerank\[eval\]'"):
        evaluate([Reranker(backend)], dataset="household")
    assert backend.requests == []


def test_a_bad_model_costs_no_call() -> None:
    backend = MemoryBackend()
    with pytest.raises(ConfigurationError, match="nosuchvendor"):
        evaluate([Reranker(backend), "nosuchvendor/model"], dataset="household")
    assert backend.requests == []


# -- failures -----------------------------------------------------------------------------------


def test_a_failed_query_is_recorded_and_keeps_the_retrieval_order() -> None:
    backend = MemoryBackend(fail_on={3: ProviderError("overloaded", provider="memory", status=503)})
    report = evaluate([Reranker(backend, max_retries=0)], dataset="household")
    row = report["memory/memory-1"]
    assert [(failure.query_id, failure.error) for failure in row.failures] == [("q03", "ProviderError")]
    assert "overloaded" in row.failures[0].message
    assert report.rankings["memory/memory-1"]["q03"] == report.rankings[BASELINE]["q03"]
    assert row.requests == 29 and report.failed == 1
    listed = json.loads(json.dumps(report.as_dict()))["rows"][1]
    assert listed["failed_queries"] == 1 and listed["failures"][0]["query_id"] == "q03"
    assert "failed queries were measured in the retrieval order" in report.table()


def test_on_error_raise_stops_at_the_first_failure() -> None:
    backend = MemoryBackend(fail_on={2: ProviderError("overloaded", provider="memory", status=503)})
    with pytest.raises(ProviderError, match="overloaded"):
        evaluate([Reranker(backend, max_retries=0)], dataset="household", on_error="raise")


@pytest.mark.parametrize("concurrency", [1, 2])
def test_errors_every_query_would_repeat_stop_the_evaluation(concurrency: int) -> None:
    backend = MemoryBackend(fail_on={2: AuthenticationError("bad key", provider="memory", status=401)})
    with pytest.raises(AuthenticationError):
        evaluate([Reranker(backend)], dataset="household", concurrency=concurrency)
    # Queries not started when it failed are not sent.
    assert len(backend.requests) <= 2 + concurrency


# -- usage, latency, the command ----------------------------------------------------------------


def test_usage_cost_and_latency_from_vendors_on_the_emulator(emulator: Any) -> None:
    report = evaluate(
        [
            {"model": "cohere/rerank-v3.5", "base_url": f"{emulator.url}/cohere", "api_key": "key"},
            {"model": "tei", "base_url": f"{emulator.url}/tei", "name": "tei-32"},
        ],
        dataset="household",
        concurrency=4,
    )
    cohere, tei = report["cohere/rerank-v3.5"], report["tei-32"]
    # One search unit per query of 100 documents at $2.00 per 1,000; TEI splits 100 into 4.
    assert (cohere.requests, cohere.documents) == (30, 3000)
    assert cohere.cost_usd == pytest.approx(0.06)
    assert (tei.requests, tei.cost_usd) == (120, None)
    for row in (cohere, tei):
        assert row.latency_p50 is not None and row.latency_p95 is not None
        assert 0 < row.latency_p50 <= row.latency_p95
        assert row.latency_first is not None and row.latency_first > 0
    assert report[BASELINE].latency_p50 is None
    lines = report.table().splitlines()
    assert lines[0].split()[:5] == ["model", *METRICS]
    assert lines[3].split()[-3:-1] == ["n/a", "0"]
    # The emulator's word-overlap scores differ from BM25's order, not by much over 30 queries.
    assert cohere.p_values is not None and 0 < cohere.p_values["nDCG@10"] < 1
    assert report[BASELINE].p_values is None


def test_command_prints_json_and_draws_the_chart(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    chart = tmp_path / "models.png"
    status = main(
        [
            "evaluate",
            "--dataset",
            "household",
            "--model",
            "tei",
            "-o",
            f"base_url={emulator.url}/tei",
            "--model",
            "cohere/rerank-v3.5",
            "-o",
            f"base_url={emulator.url}/cohere",
            "-o",
            "api_key=123",
            "-o",
            "name=cohere",
            "--depth",
            "20",
            "--json",
            "--chart",
            str(chart),
            "--save-runs",
            str(tmp_path / "runs"),
            "--no-progress",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in report["rows"]] == [BASELINE, "tei", "cohere"]
    assert report["depth"] == 20 and report["queries"] == 30 and report["metrics"] == list(METRICS)
    assert len(report["rows"][1]["per_query"]["nDCG@10"]) == 30
    assert all(0 <= value <= 1 for row in report["rows"] for value in row["metrics"].values())
    assert report["rows"][2]["requests"] == 30 and math.isclose(report["rows"][2]["cost_usd"], 0.06)
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # The saved runs read back as the same rankings, and trec_eval measures them alike.
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == [
        "cohere.trec",
        "retrieval.trec",
        "tei.trec",
    ]
    saved = read_run(tmp_path / "runs" / "cohere.trec")
    figures = pytrec_figures(read_qrels(HOUSEHOLD.qrels), saved)
    mean = sum(figures["nDCG@10"].values()) / len(figures["nDCG@10"])
    assert abs(mean - report["rows"][2]["metrics"]["nDCG@10"]) <= TOLERANCE


def test_command_exits_1_when_queries_failed(tmp_path: Path, capsys: Any) -> None:
    qrels, run = tmp_path / "qrels.tsv", tmp_path / "run.trec"
    qrels.write_text("q01\tp001\t1\nq02\tp002\t1\n")
    run.write_text("q01 Q0 p001 1 1.0 x\nq01 Q0 p002 2 0.5 x\nq02 Q0 p002 1 1.0 x\n")
    arguments = ["evaluate", "--qrels", str(qrels), "--run", str(run), "--corpus", str(HOUSEHOLD.corpus)]
    arguments += ["--queries", str(HOUSEHOLD.queries)]
    status = main(
        [*arguments, "--model", "tei", "-o", "base_url=http://127.0.0.1:9/tei", "-o", "max_retries=0"]
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "tei  " in captured.out and "failed queries were measured" in captured.out
    assert "tei: query q01 failed (ProviderError" in captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--model", "local"], "give --dataset, or both --qrels and --run"),
        (["--dataset", "household", "-o", "x=1", "--model", "local"], "give it after the --model"),
        (["--dataset", "household", "--model", "local", "--depth", "0"], "must be a whole number"),
    ],
)
def test_command_usage_errors(arguments: list[str], message: str, capsys: Any) -> None:
    try:
        status = main(["evaluate", *arguments])
    except SystemExit as exit:
        status = int(exit.code or 0)
    assert status == EXIT_ERROR
    assert message in capsys.readouterr().err


def test_command_prints_the_report_before_files_it_cannot_write(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    arguments = ["evaluate", "--dataset", "household", "--model", "tei", "-o", f"base_url={emulator.url}/tei"]
    arguments += ["--depth", "5", "--no-progress"]
    chart = tmp_path / "new" / "folder" / "chart.png"
    assert main([*arguments, "--chart", str(chart)]) == 0
    assert chart.read_bytes().startswith(b"\x89PNG") and f"chart: {chart}" in capsys.readouterr().out
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main([*arguments, "--save-runs", str(blocker / "runs")]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "nDCG@10" in captured.out and "tei" in captured.out  # the report came first
    assert (
        captured.err.strip()
        .splitlines()[-1]
        .startswith(f"multirerank: error: cannot write the runs to {blocker / 'runs'}")
    )
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"qrels": {"q1": {"d1": "2"}}},
            r"qrels\['q1'\]\['d1'\] must be a whole number \(a grade\), got '2'",
        ),
        ({"qrels": {"q1": {"d1": 1.5}}}, r"qrels\['q1'\]\['d1'\] must be a whole number"),
        ({"qrels": [("q1", "d1", 1)]}, "qrels must be a file path or a mapping"),
        ({"run": {"q1": {"d1": "x"}}}, r"run\['q1'\]\['d1'\] must be a number"),
        ({"corpus": {"d1": 3}}, r"corpus\['d1'\] must be a string"),
        ({"queries": {"q1": ""}}, "query 'q1': its text is blank"),
        ({"queries": {"q1": None}}, r"queries\['q1'\] must be a string"),
        (
            {"corpus": {"d1": "ok", "d2": " "}},
            r"document 'd2' \(run, query 'q1'\): its text in the corpus is blank",
        ),
        ({"corpus": {"d1": "ok", "d2": "bad \ud800"}}, "document 'd2' .* lone surrogate"),
    ],
)
def test_bad_inputs_in_memory_are_named(arguments: dict[str, Any], message: str) -> None:
    inputs: dict[str, Any] = {
        "qrels": {"q1": {"d1": 1}},
        "run": {"q1": ["d1", "d2"]},
        "corpus": {"d1": "solar power", "d2": "cats"},
        "queries": {"q1": "solar"},
        **arguments,
    }
    backend = MemoryBackend()
    with pytest.raises(RerankInputError, match=message):
        evaluate([Reranker(backend)], **inputs)
    assert backend.requests == []


def test_an_id_on_two_lines_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": "b"}\n{"_id": "d1", "text": "c"}\n')
    with pytest.raises(RerankInputError, match="line 3: \"_id\" 'd1' is also on line 1"):
        read_corpus(corpus)
    assert read_corpus(corpus, keep={"d2"}) == {"d2": "b"}  # a repeat never read changes nothing
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"_id": 1, "text": "a"}\n{"_id": "1", "text": "b"}\n')
    with pytest.raises(RerankInputError, match="line 2: \"_id\" '1' is also on line 1"):
        read_queries(queries)


def test_an_option_before_any_model_is_named_without_its_value(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "household", "-o", "api_key=SECRETKEY99", "--model", "local"])
    err = capsys.readouterr().err
    assert "-o api_key=...: give it after the --model it configures" in err and "SECRETKEY99" not in err
    assert main(["evaluate", "--dataset", "household", "--model", "local", "-o", "SECRETKEY99"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "KEY=VALUE; one has no '='" in err and "SECRETKEY99" not in err


def test_one_query_is_one_query() -> None:
    report = evaluate(
        [Reranker(MemoryBackend())],
        qrels={"a": {"d1": 1}, "z": {"d1": 1}},
        run={"a": ["d1"], "b": ["d1"]},
        corpus={"d1": "x"},
        queries={"a": "q", "b": "q"},
    )
    notes = report.table().splitlines()[-1]
    assert (
        notes.startswith("1 query, top 100")
        and "1 judged query not" in notes
        and "1 run query without" in notes
    )


def test_a_closed_standard_output_ends_the_command_quietly(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    read, write = os.pipe()
    os.close(read)  # as `| head` does once it has its lines
    with open(write, "w", encoding="utf-8") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        arguments = [
            "evaluate",
            "--dataset",
            "household",
            "--model",
            "tei",
            "-o",
            f"base_url={emulator.url}/tei",
        ]
        assert main([*arguments, "--depth", "5", "--json", "--no-progress"]) == EXIT_BROKEN_PIPE
