"""The shipped ``household`` evaluation set: made by its script, shipped whole, judged sensibly."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import tomllib

from multirerank.evaluation import dataset_files
from multirerank.evaluation.data import read_corpus, read_qrels, read_queries, read_run

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "multirerank" / "datasets" / "household"


def test_the_files_are_what_the_script_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_household_set.py"), "--out", str(tmp_path)],
        check=True,
        timeout=120,
    )
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    shipped = sorted(path.relative_to(FOLDER) for path in FOLDER.rglob("*") if path.is_file())
    assert written == shipped
    for name in written:
        assert (tmp_path / name).read_bytes() == (FOLDER / name).read_bytes(), name


def test_every_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "multirerank"
    for path in FOLDER.rglob("*"):
        if path.is_file():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns["multirerank"]), relative


def test_small_graded_and_consistent() -> None:
    files = dataset_files("household")
    corpus, queries = read_corpus(files.corpus), read_queries(files.queries)
    qrels, run = read_qrels(files.qrels), read_run(files.run)
    assert (len(queries), len(corpus)) == (30, 270)
    assert sum(path.stat().st_size for path in FOLDER.rglob("*") if path.is_file()) < 300_000
    for query, judged in qrels.items():
        assert sorted(judged.values()) == [0, 0, 1, 2, 2], query
        assert set(judged) <= set(corpus)
    assert set(run) == set(queries) == set(qrels)
    assert all(len(docs) == 100 and set(docs) <= set(corpus) for docs in run.values())
