"""Issue 7, overhead: ``compress_documents`` of langchain_multirerank's ``BedrockRerank`` against
langchain-aws's on the same boto3 client.

Run: .venv/bin/python benchmarks/bench_overhead.py [--processes 5] [--calls 400] [--quick] [--profile]

Both compressors share one boto3 ``bedrock-agent-runtime`` client pointed at the wire emulator,
which runs in a separate process and answers at once (no injected latency), so what differs is
each library's own work around the same request: 100 ``Document`` objects with metadata, the
default ``top_n`` (3). The calls take turns, the order rotating every round, and each side's
figure is the median of ``--calls`` calls after a warm-up.

Each measurement runs in a fresh process, ``--processes`` times in a row. Between the SDK's
work, each side's own code runs with cold CPU caches, and what that costs depends on where a
process happens to lay out its objects: the ratio moves by about +-0.01 from one process to the
next while within a process it is steady. The figure is therefore the median over processes of
each process's ratio (target: ours / theirs <= 1.05); the spread is printed beside it. For
context, langchain-aws timed a second time as a side of its own: its ratio to itself is the
within-process noise (1.000 on a quiet machine).

``--profile`` adds a cProfile of our side (top 20 by tottime) over as many calls, in this process.
A report: it exits 0 whether the figure passes or fails.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from harness import (
    MODEL_ARN,
    QUERY,
    REGION,
    Figure,
    emulator_process,
    isolate_environment,
    median,
    milliseconds,
    print_figures,
    synthetic_texts,
    verdict,
)
from langchain_aws import BedrockRerank as AWSBedrockRerank
from langchain_core.documents import Document

from langchain_multirerank import BedrockRerank

DOCUMENTS = 100
TARGET = 1.05  # ours / theirs
WARM_UP = 20  # calls per side before timing


def documents() -> list[Document]:
    return [
        Document(page_content=text, metadata={"source": f"doc-{number}.txt", "page": number % 7})
        for number, text in enumerate(synthetic_texts(DOCUMENTS))
    ]


def client(url: str) -> Any:
    return boto3.client(
        "bedrock-agent-runtime",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-a-real-secret",
    )


def check(name: str, result: object, expected: list[str]) -> None:
    """Both sides must rank the same documents, or the timing compares different work."""
    if not isinstance(result, list) or [document.page_content for document in result] != expected:
        raise RuntimeError(f"{name} returned other documents than expected")


def timed(call: Callable[[], object], timings: list[float]) -> None:
    started = time.perf_counter()
    call()
    timings.append(time.perf_counter() - started)


def profile_text(call: Callable[[], object], calls: int, limit: int = 20) -> str:
    """The top ``limit`` functions by tottime over ``calls`` calls; then the same among the
    project's own functions only, which the SDK's otherwise push off the list."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    parts = []
    for title, restrictions in (
        ("all functions", (limit,)),
        ("the project's own functions", (r"multirerank[/\\]", limit)),
    ):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(*restrictions)
        parts.append(f"-- {title}\n{stream.getvalue().strip()}")
    return "\n\n".join(parts)


def measure(url: str, calls: int) -> dict[str, float]:
    """One process's medians (seconds) of each side over ``calls`` rotating rounds, and the
    median of the per-round ratios ours / theirs."""
    docs = documents()
    shared = client(url)
    ours = BedrockRerank(client=shared, model_arn=MODEL_ARN)
    theirs = AWSBedrockRerank(client=shared, model_arn=MODEL_ARN)

    def ours_call() -> Sequence[Document]:
        return ours.compress_documents(docs, QUERY)

    def theirs_call() -> Sequence[Document]:
        return theirs.compress_documents(docs, QUERY)

    expected = [document.page_content for document in theirs_call()]
    check("multirerank", ours_call(), expected)
    for _ in range(WARM_UP):
        ours_call()
        theirs_call()
    # langchain-aws runs twice per round, as two sides: their A/A ratio shows the noise.
    sides: list[tuple[Callable[[], object], list[float]]] = [(ours_call, []), (theirs_call, []), (theirs_call, [])]
    for number in range(calls):
        shift = number % len(sides)
        for call, timings in sides[shift:] + sides[:shift]:
            timed(call, timings)
    shared.close()
    ours_times, theirs_times, again_times = (timings for _, timings in sides)
    return {
        "ours": median(ours_times),
        "theirs": median(theirs_times),
        "again": median(again_times),
        "paired": median([mine / its for mine, its in zip(ours_times, theirs_times, strict=True)]),
    }


def in_fresh_process(url: str, calls: int) -> dict[str, float]:
    """:func:`measure` run by this script in a new interpreter (``--worker``)."""
    command = [sys.executable, __file__, "--worker", url, "--calls", str(calls)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if finished.returncode != 0:
        raise RuntimeError(f"a measuring process failed:\n{finished.stderr}")
    result: dict[str, float] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, default=5, help="fresh processes measured in a row (median)")
    parser.add_argument("--calls", type=int, default=400, help="timed calls per side in each process (median)")
    parser.add_argument("--quick", action="store_true", help="3 processes of 150 timed calls per side")
    parser.add_argument("--profile", action="store_true", help="cProfile our side, top 20 by tottime")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    calls = 150 if args.quick else max(1, args.calls)
    processes = 3 if args.quick else max(1, args.processes)
    isolate_environment()
    if args.worker:
        print(json.dumps(measure(args.worker, calls)))
        return
    started = time.perf_counter()
    profile = ""
    with emulator_process(0.0) as emulator:
        runs = [in_fresh_process(emulator.url, calls) for _ in range(processes)]
        if args.profile:
            shared = client(emulator.url)
            ours = BedrockRerank(client=shared, model_arn=MODEL_ARN)
            docs = documents()
            profile = profile_text(lambda: ours.compress_documents(docs, QUERY), calls)
            shared.close()
    ratios = sorted(run["ours"] / run["theirs"] for run in runs)
    ratio = median(ratios)
    ours_median, theirs_median = median([run["ours"] for run in runs]), median([run["theirs"] for run in runs])
    paired = median([run["paired"] for run in runs])
    noise = median([run["again"] / run["theirs"] for run in runs])
    print(
        f"issue 7, overhead: compress_documents of {DOCUMENTS} Documents, one boto3 client shared, "
        f"emulator in its own process with no latency;\n{processes} fresh processes, each the median of "
        f"{calls} calls per side, the sides taking turns in rotating order"
    )
    print()
    print_figures(
        [
            Figure("multirerank BedrockRerank (median over processes)", milliseconds(ours_median)),
            Figure("langchain-aws BedrockRerank (median over processes)", milliseconds(theirs_median)),
            Figure(
                f"ours / theirs, median over processes ({(ours_median - theirs_median) * 1e6:+.0f} us per call)",
                f"{ratio:.3f}x",
                f"<= {TARGET:.2f}x",
                verdict(ratio <= TARGET),
            ),
            Figure("  each process's ratio", " ".join(f"{value:.3f}" for value in ratios)),
            Figure("  median of the per-round ratios ours / theirs", f"{paired:.3f}x"),
            Figure("  noise gauge: langchain-aws / itself (1.000 when quiet)", f"{noise:.3f}x"),
        ]
    )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if profile:
        print(f"\n== multirerank BedrockRerank.compress_documents, {calls} calls (top 20 by tottime)")
        print(profile)


if __name__ == "__main__":
    main()
