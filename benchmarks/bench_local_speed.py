"""The local backend against sentence-transformers used directly on the same model.

Run: .venv/bin/python benchmarks/bench_local_speed.py [--repeats 7] [--documents 64] [--queries 100]

Both sides score one query against the same documents with the packaged all-MiniLM-L6-v2 on
the CPU: sentence-transformers' ``encode`` of the query and the documents (batch size 32,
normalised embeddings, cosine by dot product; it cuts each document at 256 tokens) against
``LocalBackend.rerank_batch`` (token-budget batches; ``windows`` reads long documents whole in
passages, ``truncate`` cuts them as sentence-transformers does). The two sides alternate,
``--repeats`` times each, and the ratio is of the medians (above 1: the backend is faster).

Document sets: ``uniform`` (every document 60 or 180 words) and ``mixed`` (10 to 400 words,
log-uniform, so most are short and a few long, as retrieved passages are).

Then, on ``--queries`` queries, how ``dtype="auto"`` ranks against float32: at each of the top
10 ranks, whether the document auto chose has a float32 score within 0.01 of the one float32
chose there (near-ties may swap), and the largest score difference.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_needle import make_case

from multirerank.backends.local import LocalBackend, default_model_dir
from multirerank.backends.local_device import cpu_has_native_bf16

QUERY = "Who designed the harbour bridge in the old fishing town?"


def _words(chooser: random.Random, count: int) -> str:
    """``count`` words of varied prose, cut from the needle benchmark's generated documents."""
    words: list[str] = []
    while len(words) < count:
        words += make_case(chooser, mixed=False, words=200, distractors=1).documents[0].split()
    return " ".join(words[:count])


def document_sets(count: int, seed: int = 3) -> dict[str, list[str]]:
    chooser = random.Random(seed)
    return {
        "uniform 60 words": [_words(chooser, 60) for _ in range(count)],
        "uniform 180 words": [_words(chooser, 180) for _ in range(count)],
        "mixed 10-400 words": [_words(chooser, int(10 * 40 ** chooser.random())) for _ in range(count)],
    }


def alternate(first: Callable[[], Any], second: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median seconds of each, timed in turn so that other load on the machine hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, timings in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            timings.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def throughput(documents: dict[str, list[str]], repeats: int) -> None:
    from sentence_transformers import SentenceTransformer

    direct = SentenceTransformer(str(default_model_dir()), device="cpu")

    def sentence_transformers(texts: list[str]) -> np.ndarray:
        options: dict[str, Any] = {"batch_size": 32, "normalize_embeddings": True, "show_progress_bar": False}
        query = direct.encode_query([QUERY], **options)[0]
        embeddings: np.ndarray = direct.encode_document(texts, **options)
        return embeddings @ query

    backends = {
        (dtype, mode): LocalBackend(dtype=dtype, long_documents=mode)  # type: ignore[arg-type]
        for dtype in ("float32", "auto")
        for mode in ("windows", "truncate")
    }
    for backend in backends.values():
        backend.rerank_batch(QUERY, ["warm up"], None)
    sentence_transformers(["warm up"])
    print(f"throughput, {len(next(iter(documents.values())))} documents, median of {repeats} alternated runs")
    print(
        f"{'documents':20} {'dtype':8} {'long_documents':14} {'s-t direct':>10} {'backend':>9} {'ratio':>6}"
    )
    for label, texts in documents.items():
        for (dtype, mode), backend in backends.items():
            theirs, ours = alternate(
                lambda texts=texts: sentence_transformers(texts),
                lambda texts=texts, backend=backend: backend.rerank_batch(QUERY, texts, None),
                repeats,
            )
            print(
                f"{label:20} {dtype:8} {mode:14} {theirs * 1e3:8.1f}ms {ours * 1e3:7.1f}ms {theirs / ours:5.2f}x"
            )
    for backend in backends.values():
        backend.close()


def agreement(queries: int, seed: int = 5) -> None:
    """dtype="auto" against float32 on ``queries`` queries of 40 documents of mixed lengths."""
    chooser = random.Random(seed)
    exact = LocalBackend(dtype="float32")
    auto = LocalBackend(dtype="auto")
    agreeing = 0
    largest = 0.0
    for _ in range(queries):
        case = make_case(chooser, mixed=True, words=chooser.randrange(200, 1500), distractors=20)
        texts = [*case.documents, *(_words(chooser, int(10 * 40 ** chooser.random())) for _ in range(19))]
        reference = dict(exact.rerank_batch(case.query, texts, None).scores)
        candidate = dict(auto.rerank_batch(case.query, texts, None).scores)
        largest = max(largest, max(abs(reference[index] - candidate[index]) for index in reference))
        by_reference = sorted(reference, key=lambda index: -reference[index])[:10]
        by_candidate = sorted(candidate, key=lambda index: -candidate[index])[:10]
        agreeing += all(
            abs(reference[chosen] - reference[expected]) <= 0.01
            for chosen, expected in zip(by_candidate, by_reference, strict=True)
        )
    print(
        f"dtype='auto' ({'bfloat16' if cpu_has_native_bf16() else 'float32'} here) against float32 on "
        f"{queries} queries of 40 documents: top 10 agreeing up to near-ties (0.01) on {agreeing}/{queries}; "
        f"largest score difference {largest:.1e}"
    )
    exact.close()
    auto.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--documents", type=int, default=64)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--only", choices=("throughput", "agreement"), help="run one part")
    parser.add_argument("--set", choices=("uniform", "mixed"), help="one kind of document set")
    args = parser.parse_args()
    if args.only != "agreement":
        sets = document_sets(args.documents)
        throughput(
            {name: texts for name, texts in sets.items() if args.set in (None, name.split()[0])}, args.repeats
        )
    if args.only != "throughput":
        agreement(args.queries)


if __name__ == "__main__":
    main()
