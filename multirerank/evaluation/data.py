"""Reading an evaluation's inputs: judgements (qrels), a TREC run, and BEIR-style texts.

Formats:

- qrels: TREC (``query-id 0 doc-id grade`` per line, whitespace-separated) or BEIR's TSV
  (``query-id<TAB>corpus-id<TAB>score``, with or without its header line); told apart per line
  by the number of fields. Grades are integers; 0 means judged not relevant.
- run: TREC (``query-id Q0 doc-id rank score tag``). A query's candidates are ordered as
  trec_eval orders them: by score, highest first, equal scores by document id, the greater
  first; the rank column is ignored. So the retrieval row measures what trec_eval would.
- corpus: JSON lines ``{"_id", "title", "text"}``; the text reranked is ``title + " " + text``
  when the title is not blank, as BEIR does.
- queries: JSON lines ``{"_id", "text"}``.

Every problem raises :class:`~multirerank.errors.RerankInputError` naming the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from multirerank.errors import RerankInputError
from multirerank.json_lines import file_lines

#: A file path, or the data itself already in memory.
Source: TypeAlias = "str | os.PathLike[str]"
Qrels: TypeAlias = dict[str, dict[str, int]]
#: Each query's candidate ids, best first (the retrieval order).
Candidates: TypeAlias = dict[str, list[str]]

#: The sets shipped in the package (multirerank/datasets/<name>/).
SHIPPED = ("household",)


@dataclass(frozen=True)
class DatasetFiles:
    """Where an evaluation's four inputs are."""

    qrels: Path
    run: Path
    corpus: Path
    queries: Path


def dataset_files(dataset: Source) -> DatasetFiles:
    """The files of a shipped set (``"household"``) or of a folder in BEIR's layout with a run.

    A folder holds ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv`` (or ``qrels.tsv``,
    ``qrels.txt``) and ``run.trec`` (or ``run.txt``). Raises RerankInputError when one is missing.
    """
    folder = Path(dataset)
    if str(dataset) in SHIPPED and not folder.exists():
        folder = Path(__file__).resolve().parent.parent / "datasets" / str(dataset)
    if not folder.is_dir():
        raise RerankInputError(
            f"dataset {str(dataset)!r} is neither a shipped set ({', '.join(SHIPPED)}) nor a folder"
        )

    def first(*names: str) -> Path:
        for name in names:
            if (folder / name).is_file():
                return folder / name
        raise RerankInputError(f"dataset folder {folder} has none of {', '.join(names)}")

    return DatasetFiles(
        qrels=first("qrels/test.tsv", "qrels.tsv", "qrels.txt"),
        run=first("run.trec", "run.txt"),
        corpus=first("corpus.jsonl"),
        queries=first("queries.jsonl"),
    )


def beside(path: Source, name: str) -> Path | None:
    """``name`` in the folder of ``path`` or its parent (BEIR keeps qrels in ``qrels/``), if there."""
    folder = Path(path).resolve().parent
    for candidate in (folder / name, folder.parent / name):
        if candidate.is_file():
            return candidate
    return None


def _lines(path: Source) -> Iterator[tuple[int, list[str]]]:
    try:
        with open(path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                fields = line.split()
                if fields and not fields[0].startswith("#"):
                    yield number, fields
    except UnicodeDecodeError:
        raise RerankInputError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise RerankInputError(f"cannot read {path}: {error.strerror or error}") from None


def read_qrels(path: Source) -> Qrels:
    """``{query_id: {doc_id: grade}}`` from a TREC or BEIR TSV qrels file."""
    qrels: Qrels = {}
    for number, fields in _lines(path):
        if len(fields) == 4:
            query, _, doc, grade = fields
        elif len(fields) == 3:
            query, doc, grade = fields
        else:
            raise RerankInputError(
                f"{path} line {number}: expected 'query 0 doc grade' (TREC) or "
                f"'query doc grade' (BEIR TSV), got {len(fields)} fields"
            )
        try:
            value = int(grade)
        except ValueError:
            if number == 1 and len(fields) == 3:  # BEIR's header: query-id corpus-id score
                continue
            raise RerankInputError(f"{path} line {number}: grade {grade!r} is not a whole number") from None
        qrels.setdefault(query, {})[doc] = value
    if not qrels:
        raise RerankInputError(f"{path} holds no judgements")
    return qrels


def read_run(path: Source) -> Candidates:
    """Each query's candidates, best first, from a TREC run file (see the module's notes)."""
    scored: dict[str, list[tuple[float, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for number, fields in _lines(path):
        if len(fields) != 6:
            raise RerankInputError(
                f"{path} line {number}: expected 'query Q0 doc rank score tag' (TREC run), got {len(fields)} fields"
            )
        query, _, doc, _, score, _ = fields
        try:
            value = float(score)
        except ValueError:
            raise RerankInputError(f"{path} line {number}: score {score!r} is not a number") from None
        if (query, doc) in seen:
            raise RerankInputError(
                f"{path} line {number}: document {doc!r} appears twice for query {query!r}"
            )
        seen.add((query, doc))
        scored.setdefault(query, []).append((value, doc))
    if not scored:
        raise RerankInputError(f"{path} holds no ranked documents")
    return {query: _by_score(pairs) for query, pairs in scored.items()}


def _by_score(pairs: Iterable[tuple[float, str]]) -> list[str]:
    # Document ids compare as trec_eval's strcmp does: UTF-8 bytes order as code points do.
    return [doc for _, doc in sorted(pairs, reverse=True)]


def ordered(run: Mapping[str, Any]) -> Candidates:
    """A run in memory as each query's candidates, best first: ``{query: [doc ids]}`` is kept
    as given, ``{query: {doc: score}}`` is ordered as :func:`read_run` orders a file's.
    RerankInputError naming the query (and document) for anything else."""
    candidates: Candidates = {}
    for query, docs in run.items():
        if isinstance(docs, Mapping):
            pairs = []
            for doc, score in docs.items():
                if isinstance(score, bool) or not isinstance(score, (int, float)) or score != score:
                    raise RerankInputError(
                        f"run[{query!r}][{doc!r}] must be a number (the document's score), got {score!r}"
                    )
                pairs.append((float(score), str(doc)))
            candidates[str(query)] = _by_score(pairs)
        elif isinstance(docs, (list, tuple)):
            candidates[str(query)] = [str(doc) for doc in docs]
            if len(set(candidates[str(query)])) < len(docs):
                raise RerankInputError(f"run[{query!r}] lists a document twice")
        else:
            raise RerankInputError(f"run[{query!r}] must be a list of document ids or a mapping of scores")
    return candidates


def checked_qrels(qrels: Mapping[Any, Any]) -> Qrels:
    """Judgements in memory, ``{query: {doc: grade}}`` with whole-number grades, as strings'
    mapping; RerankInputError naming the query and document otherwise."""
    checked: Qrels = {}
    for query, docs in qrels.items():
        if not isinstance(docs, Mapping):
            raise RerankInputError(f"qrels[{query!r}] must be a mapping of document ids to grades")
        for doc, grade in docs.items():
            if isinstance(grade, bool) or not isinstance(grade, int):
                raise RerankInputError(
                    f"qrels[{query!r}][{doc!r}] must be a whole number (a grade), got {grade!r}"
                )
            checked.setdefault(str(query), {})[str(doc)] = grade
    if not checked:
        raise RerankInputError("qrels holds no judgements")
    return checked


def checked_texts(texts: Mapping[Any, Any], argument: str) -> dict[str, str]:
    """``corpus`` or ``queries`` in memory, ``{id: text}``; RerankInputError naming the id
    whose text is not a string."""
    checked: dict[str, str] = {}
    for key, text in texts.items():
        if not isinstance(text, str):
            raise RerankInputError(f"{argument}[{key!r}] must be a string, got {type(text).__name__}")
        checked[str(key)] = text
    return checked


def check_source(value: object, argument: str, shape: str) -> None:
    """RerankInputError unless ``value`` is a mapping (``shape``) or a file path."""
    if not isinstance(value, (Mapping, str, os.PathLike)):
        raise RerankInputError(
            f"{argument} must be a file path or a mapping {shape}, got {type(value).__name__}"
        )


def _json_lines(path: Source) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, item in file_lines(path, RerankInputError):
        if not isinstance(item, dict) or not isinstance(item.get("_id"), (str, int)):
            raise RerankInputError(f'{path} line {number}: expected an object with an "_id"')
        yield number, item


def _text(path: Source, number: int, item: Mapping[str, Any], field: str) -> str:
    value = item.get(field, "")
    if not isinstance(value, str):
        raise RerankInputError(f'{path} line {number}: "{field}" must be a string')
    return value


def read_corpus(path: Source, keep: Collection[str] | None = None) -> dict[str, str]:
    """``{doc_id: text}`` from BEIR's ``corpus.jsonl`` (title and text joined); only the ids in
    ``keep`` when given. An id on two lines is refused, naming both."""
    corpus: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, item in _json_lines(path):
        key = str(item["_id"])
        if keep is not None and key not in keep:
            continue
        _once(path, lines, key, number)
        title, text = _text(path, number, item, "title"), _text(path, number, item, "text")
        corpus[key] = f"{title} {text}" if title.strip() else text
    return corpus


def read_queries(path: Source, keep: Collection[str] | None = None) -> dict[str, str]:
    """``{query_id: text}`` from BEIR's ``queries.jsonl``; only the ids in ``keep`` when given.
    An id on two lines is refused, naming both."""
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, item in _json_lines(path):
        key = str(item["_id"])
        if keep is None or key in keep:
            _once(path, lines, key, number)
            queries[key] = _text(path, number, item, "text")
    return queries


def _once(path: Source, lines: dict[str, int], key: str, number: int) -> None:
    # Only the ids kept are checked: a corpus may hold millions, and a repeat of one never read
    # changes nothing.
    first = lines.setdefault(key, number)
    if first != number:
        raise RerankInputError(
            f'{path} line {number}: "_id" {key!r} is also on line {first}; ids must be unique'
        )
