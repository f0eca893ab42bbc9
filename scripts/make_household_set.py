"""Writes the ``household`` evaluation set shipped in multirerank/datasets/household/.

    PYTHONPATH=. .venv/bin/python scripts/make_household_set.py [--out DIR]

The texts are this project's own (scripts/household_texts.py), not taken from any public data
set. Written in BEIR's layout, which ``multirerank evaluate --dataset DIR`` reads:

- ``corpus.jsonl``: ``{"_id", "title", "text"}`` per passage (30 topics x 5 judged passages, and
  120 unjudged ones made from a subject and a remark);
- ``queries.jsonl``: ``{"_id", "text"}`` per query (30);
- ``qrels/test.tsv``: ``query-id  corpus-id  score`` with a header; grades 2 (answers), 1
  (related), 0 (judged not relevant: decoys sharing the query's words);
- ``run.trec``: a TREC run, each query's top 100 passages by BM25 (the ``bm25s`` library,
  English stop words, no stemming), scores rounded to 4 places, equal scores ordered as trec_eval orders them
  (greater passage id first).

Deterministic: the same inputs give the same bytes (tests/test_evaluation_data.py checks).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from household_texts import FILLER_REMARKS, FILLER_SUBJECTS, TOPICS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "multirerank" / "datasets" / "household"
DEPTH = 100
FILLERS = 120
SEED = 13
GRADES = (("answers", 2), ("related", 1), ("decoys", 0))


def build() -> tuple[list[dict[str, str]], list[dict[str, str]], list[tuple[str, str, int]]]:
    """Corpus, queries and judgements, the passages' ids drawn so topics are not contiguous."""
    texts: list[tuple[str, int | None, int]] = []  # (text, topic number or None, grade)
    for number, topic in enumerate(TOPICS):
        for field, grade in GRADES:
            texts.extend((text, number, grade) for text in topic[field])  # type: ignore[literal-required]
    pairs = [(subject, remark) for subject in FILLER_SUBJECTS for remark in FILLER_REMARKS]
    chooser = random.Random(SEED)
    for subject, remark in chooser.sample(pairs, FILLERS):
        texts.append((f"{subject[0].upper()}{subject[1:]} {remark}", None, 0))
    numbers = list(range(1, len(texts) + 1))
    chooser.shuffle(numbers)
    corpus: list[dict[str, str]] = []
    qrels: list[tuple[str, str, int]] = []
    for (text, topic, grade), number in zip(texts, numbers, strict=True):
        doc_id = f"p{number:03d}"
        corpus.append({"_id": doc_id, "title": "", "text": text})
        if topic is not None:
            qrels.append((f"q{topic + 1:02d}", doc_id, grade))
    corpus.sort(key=lambda doc: doc["_id"])
    qrels.sort()
    queries = [{"_id": f"q{number + 1:02d}", "text": topic["query"]} for number, topic in enumerate(TOPICS)]
    return corpus, queries, qrels


def bm25_run(corpus: list[dict[str, str]], queries: list[dict[str, str]]) -> list[str]:
    """TREC run lines: each query's top :data:`DEPTH` passages by BM25."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([doc["text"] for doc in corpus], stopwords="en", show_progress=False),
        show_progress=False,
    )
    lines: list[str] = []
    for query in queries:
        tokens = bm25s.tokenize([query["text"]], stopwords="en", return_ids=False, show_progress=False)
        scores = retriever.get_scores(tokens[0])
        ranked = sorted(
            ((round(float(score), 4), doc["_id"]) for score, doc in zip(scores, corpus, strict=True)),
            reverse=True,
        )[:DEPTH]
        lines.extend(
            f"{query['_id']} Q0 {doc_id} {rank} {score:.4f} bm25"
            for rank, (score, doc_id) in enumerate(ranked, start=1)
        )
    return lines


def write(out: Path) -> None:
    corpus, queries, qrels = build()
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8", newline="\n") as stream:
        stream.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in corpus)
    with open(out / "queries.jsonl", "w", encoding="utf-8", newline="\n") as stream:
        stream.writelines(json.dumps(query, ensure_ascii=False) + "\n" for query in queries)
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8", newline="\n") as stream:
        stream.write("query-id\tcorpus-id\tscore\n")
        stream.writelines(f"{query}\t{doc}\t{grade}\n" for query, doc, grade in qrels)
    with open(out / "run.trec", "w", encoding="utf-8", newline="\n") as stream:
        stream.writelines(line + "\n" for line in bm25_run(corpus, queries))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write (default: {OUT})")
    write(parser.parse_args().out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
