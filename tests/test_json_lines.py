"""JSON lines as the command line and the evaluation datasets read them: every fault names the
file and line, in the error type each caller raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from multirerank.cli_support import CliError
from multirerank.errors import RerankInputError
from multirerank.evaluation.data import read_corpus
from multirerank.json_lines import file_lines, parsed_lines


def test_blank_lines_are_skipped_and_numbers_stay_the_files() -> None:
    assert list(parsed_lines(['{"a": 1}', "  ", "[2]"], "f", CliError)) == [(1, {"a": 1}), (3, [2])]


@pytest.mark.parametrize("error", [CliError, RerankInputError])
def test_each_fault_names_the_line_or_file_in_the_callers_error(tmp_path: Path, error: type[Exception]) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(error, match=r"broken.jsonl line 2 is not valid JSON"):
        list(file_lines(broken, error))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"a": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(error, match=r"latin.jsonl is not UTF-8 text"):
        list(file_lines(latin, error))
    with pytest.raises(error, match=r"cannot read .*missing.jsonl"):
        list(file_lines(tmp_path / "missing.jsonl", error))


def test_a_corpus_line_that_is_no_object_keeps_its_own_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "a"}\n[1]\n', encoding="utf-8")
    with pytest.raises(RerankInputError, match='line 2: expected an object with an "_id"'):
        read_corpus(corpus)
