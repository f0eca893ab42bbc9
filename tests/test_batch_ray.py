"""RerankBatch under Ray Data, run locally (one ``ray.init(num_cpus=2)`` for the module), and
``multirerank batch --ray``. Skipped where Ray is not installed (``pip install 'multirerank[ray]'``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multirerank.batch import RerankBatch
from multirerank.cli import EXIT_ERROR, main
from tests.emulator_support import emulator_fixtures
from tests.redis_support import redis_url  # noqa: F401 - a fixture

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'multirerank[ray]')")
pa = pytest.importorskip("pyarrow")

pytestmark = pytest.mark.ray

server, emulator = emulator_fixtures()

MODEL = "cohere/rerank-v3.5"
QUERIES = [f"query {n % 7} about power" for n in range(60)]
TEXTS = [f"text {n} on {'power' if n % 3 else 'cats'} and query {n % 5}" for n in range(60)]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, logging_level="error", log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    yield ray
    ray.shutdown()


def test_map_batches_scores_every_row_in_order(local_ray: Any, emulator: Any, redis_url: str) -> None:  # noqa: F811
    table = pa.table({"query": QUERIES, "text": TEXTS})
    blocks = [table.slice(start, 20) for start in range(0, 60, 20)]
    dataset = local_ray.data.from_arrow(blocks).map_batches(
        RerankBatch,
        fn_constructor_kwargs={
            "model": MODEL,
            "base_url": f"{emulator.url}/cohere",
            "api_key": "test-key",
            # One limit for every actor, kept in Redis.
            "rate_limit": "1000/second",
            "rate_limit_storage": redis_url,
        },
        compute=local_ray.data.ActorPoolStrategy(size=2),
        num_cpus=0.5,
        batch_size=20,
        batch_format="pyarrow",
    )
    out = pa.concat_tables(local_ray.get(dataset.to_arrow_refs()))
    assert out.column("text").to_pylist() == TEXTS
    expected = [emulator.score(query, [text])[0] for query, text in zip(QUERIES, TEXTS, strict=True)]
    assert out.column("score").to_pylist() == pytest.approx(expected)
    assert set(out.column("provider").to_pylist()) == {"cohere"}


def test_command_with_ray(
    local_ray: Any, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, output = tmp_path / "pairs.jsonl", tmp_path / "scored.jsonl"
    source.write_text(
        "".join(json.dumps({"query": q, "text": t}) + "\n" for q, t in zip(QUERIES, TEXTS, strict=True))
    )
    arguments = ["batch", str(source), str(output), "--model", MODEL, "--ray", "--actors", "1", "--no-cache"]
    arguments += ["--batch-size", "30"]
    arguments += ["-o", f"base_url={emulator.url}/cohere", "-o", "api_key=test-key", "--no-progress"]
    assert main(arguments) == 0
    summary = capsys.readouterr().out
    assert (
        "60 rows (0 failed)" in summary and "14 requests, 60 documents" in summary
    )  # from the actor: 7 queries in each of 2 batches
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["text"] for row in rows] == TEXTS and all(row["error"] is None for row in rows)


def test_command_with_ray_names_file_rows_and_reports_errors_in_one_line(
    local_ray: Any, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, output = tmp_path / "pairs.jsonl", tmp_path / "scored.jsonl"
    texts = [" " if row == 13 else f"text {row}" for row in range(25)]
    source.write_text(
        "".join(json.dumps({"query": f"q{row // 5}", "text": text}) + "\n" for row, text in enumerate(texts))
    )
    arguments = ["batch", str(source), str(output), "--model", MODEL, "--ray", "--actors", "1", "--no-cache"]
    arguments += ["-o", f"base_url={emulator.url}/cohere", "-o", "api_key=test-key", "--no-progress"]
    assert main([*arguments, "--batch-size", "10"]) == 1
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["error"] is not None for row in rows] == [row == 13 for row in range(25)]
    assert rows[13]["error"] == "row 13: RerankInputError: document text is required for rerank"
    assert "__multirerank_row" not in rows[0]
    capsys.readouterr()
    assert main([*arguments, "--on-error", "raise"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert (
        "multirerank: error: row 13: document text is required for rerank" in err and "Traceback" not in err
    )
