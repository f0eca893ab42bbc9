"""The ``multirerank`` command, mostly in-process; one run goes through a real interpreter."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from multirerank import registry
from multirerank.backends.base import Backend
from multirerank.cli import EXIT_ERROR, main, parse_options, read_input
from multirerank.testing import Emulator
from multirerank.types import BatchResult, DocumentInput, Limits, document_text

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.json"


class WordCountBackend(Backend):
    """Scores by how many query words a text holds, two documents per request."""

    provider = "words"
    model = "count"
    limits = Limits(max_documents=2)

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        words = set(query.lower().split())
        return BatchResult(
            [
                (index, float(len(words & set(document_text(doc).lower().split()))))
                for index, doc in enumerate(documents)
            ]
        )


def make_word_count_backend(rest: str | None, **options: object) -> WordCountBackend:
    return WordCountBackend()


@pytest.fixture
def words_model(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(registry.PROVIDERS, "words", f"{__name__}:make_word_count_backend")
    return "words"


def _table_rows(output: str) -> list[list[str]]:
    lines = output.strip().splitlines()
    assert lines[0].split() == ["rank", "score", "index", "text"]
    return [line.split(maxsplit=3) for line in lines[1:-1]]


def test_table_puts_washington_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rerank", "--model", "local", str(DEMO)]) == 0

    rows = _table_rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0][2] == "2"
    assert rows[0][3].startswith("Washington")


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rerank", "--json", "--top-n", "2", str(DEMO)]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["results"][0]["index"] == 2
    assert len(report["results"]) == 2
    assert report["results"][0]["document"].startswith("Washington")
    assert report["provider"] == "local"
    assert report["model"] == "all-MiniLM-L6-v2"
    assert report["score_scale"] == "cosine"
    assert report["elapsed_seconds"] >= 0


def test_plain_lines_from_stdin(
    words_model: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("bananas are yellow\n\nthe capital of america\n"))

    assert main(["rerank", "--model", words_model, "--query", "capital america", "--json", "-"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert [(r["index"], r["document"]) for r in report["results"]] == [
        (1, "the capital of america"),
        (0, "bananas are yellow"),
    ]


def test_json_lines_of_objects_keep_the_objects(
    words_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text('{"text": "no match", "id": "a"}\n{"text": "capital city", "id": "b"}\n')

    assert main(["rerank", "--model", words_model, "-q", "capital", "--json", str(source)]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["results"][0]["document"] == {"text": "capital city", "id": "b"}


def test_score_threshold(words_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "docs.json"
    source.write_text(json.dumps(["capital", "nothing", "capital city"]))

    assert (
        main(["rerank", "--model", words_model, "-q", "capital city", "--score-threshold", "1", str(source)])
        == 0
    )

    rows = _table_rows(capsys.readouterr().out)
    assert [row[2] for row in rows] == ["2", "0"]


def test_progress_bar_when_forced(
    words_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "docs.json"
    source.write_text(json.dumps([f"capital {n}" for n in range(5)]))

    assert main(["rerank", "--model", words_model, "-q", "capital", "--progress", str(source)]) == 0
    assert "reranking:" in capsys.readouterr().err

    # Not a terminal and not asked for: no bar.
    assert main(["rerank", "--model", words_model, "-q", "capital", str(source)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('["a", {"text": "b"}]', ["a", "b"]),
        ('{"query": "q", "documents": ["a"]}', ["a"]),
        ('"a"\n"b"\n', ["a", "b"]),
        ("one\n\ntwo\n", ["one", "two"]),
    ],
)
def test_input_shapes(tmp_path: Path, content: str, expected: list[str]) -> None:
    source = tmp_path / "input.txt"
    source.write_text(content)
    assert read_input(str(source), "jsonl" if content.startswith('"') else "auto").texts == expected


@pytest.mark.parametrize(
    ("name", "content", "arguments", "message"),
    [
        ("missing.json", None, [], "cannot read"),
        ("bad.json", "[1, 2", [], "not valid JSON"),
        ("numbers.json", "[1, 2]", [], 'item 0: expected a string or an object with a "text" string'),
        ("object.json", '{"docs": []}', [], '"documents" array'),
        ("string.txt", '"just a string"', [], "got a string (--format lines reads it as plain text)"),
        ("null.txt", "null", [], "got null"),
        ("number.json", "42", [], "got a number"),
        ("lines.txt", "a\nb\n", [], "no query"),
        ("blank.json", '["a", " "]', [], "document text is required for rerank at index 1"),
        ("ok.json", '["a"]', ["--top-n", "0"], "top_n must be at least 1"),
        ("ok.json", '["a"]', ["--model", "nowhere/x"], "unknown provider 'nowhere'"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | None,
    arguments: list[str],
    message: str,
) -> None:
    source = tmp_path / name
    if content is not None:
        source.write_text(content)
    query = [] if name == "lines.txt" else ["-q", "capital"]

    assert main(["rerank", *query, *arguments, str(source)]) == EXIT_ERROR

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("multirerank: error: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err


def test_a_json_scalar_on_stdin_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("null\n"))

    assert main(["rerank", "-q", "capital", "-"]) == EXIT_ERROR

    assert capsys.readouterr().err == (
        'multirerank: error: <stdin>: expected a JSON array of documents or an object with a "documents" '
        "array, got null (--format lines reads it as plain text)\n"
    )


@pytest.mark.parametrize(
    ("content", "file_format", "expected"),
    [
        ("42\n", "lines", ["42"]),
        ("null", "lines", ["null"]),
        ("1\n2\n", "auto", ["1", "2"]),
        ("true story\n", "auto", ["true story"]),
    ],
)
def test_text_that_only_looks_like_json_stays_lines(
    tmp_path: Path, content: str, file_format: str, expected: list[str]
) -> None:
    source = tmp_path / "input.txt"
    source.write_text(content)
    assert read_input(str(source), file_format).texts == expected


def test_options_are_json_but_secrets_stay_text() -> None:
    options = parse_options(
        [
            "api_key=123456",
            "aws_session_token=true",
            "password=null",
            "apiKey=[1]",
            "batch_size=16",
            "max_tokens_per_doc=512",
            'headers={"X-Team": "a"}',
            "model=rerank-v3.5",
        ]
    )

    assert options == {
        "api_key": "123456",
        "aws_session_token": "true",
        "password": "null",
        "apiKey": "[1]",
        "batch_size": 16,
        "max_tokens_per_doc": 512,
        "headers": {"X-Team": "a"},
        "model": "rerank-v3.5",
    }


def test_a_numeric_api_key_reaches_the_service_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "docs.json"
    source.write_text(json.dumps(["the capital", "a cat"]))

    with Emulator() as emulator:
        arguments = ["-o", f"base_url={emulator.url}/tei", "-o", "api_key=123456", "-q", "capital"]
        assert main(["rerank", "--model", "tei", *arguments, "--json", str(source)]) == 0
        (request,) = emulator.requests

    assert request.header("Authorization") == "Bearer 123456"
    assert json.loads(capsys.readouterr().out)["results"][0]["index"] == 0


def test_no_subcommand_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_ERROR
    assert "rerank" in capsys.readouterr().err


def test_real_process_with_python_dash_m() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "multirerank", "rerank", "--json", str(DEMO)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["results"][0]["index"] == 2
    assert "Traceback" not in completed.stderr


def test_real_process_reports_errors_without_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "multirerank", "rerank", "-q", "x", str(tmp_path / "absent.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == EXIT_ERROR
    assert completed.stderr.strip().count("\n") == 0
    assert "absent.json" in completed.stderr


def test_emulate_serves_until_interrupted() -> None:
    """`multirerank emulate` prints its address and answers a vendor request there."""
    process = subprocess.Popen(
        [sys.executable, "-m", "multirerank", "emulate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        body = json.dumps({"query": "capital", "texts": ["the capital", "a cat"]}).encode()
        request = urllib.request.Request(f"{url}/tei/rerank", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:
            ranked = json.loads(answer.read())
        assert [item["index"] for item in ranked] == [0, 1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_emulate_on_a_port_in_use_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["emulate", "--port", str(port)]) == EXIT_ERROR

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"multirerank: error: cannot listen on 127.0.0.1:{port} (--host/--port): ")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--record", "-1"], "argument --record: must be a whole number, at least 0"),
        (["--port", "70000"], "argument --port: must be a port number from 0 to 65535"),
    ],
)
def test_emulate_rejects_bad_numbers(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulate", *arguments])

    assert exited.value.code == EXIT_ERROR
    assert message in capsys.readouterr().err
