"""Issue 7, import time: what importing the adapters costs a process, beside the framework alone.

Run: .venv/bin/python benchmarks/bench_import.py [--runs 15] [--quick] [--detail]

Each statement runs in a fresh ``python -c`` process, timed from start to exit (interpreter start
included, as a user's process pays it). The statements of one group run in turn, the order
rotating every round, after one untimed round (bytecode caches, the disk cache); each figure is
the median of ``--runs`` rounds.

- ``import langchain_multirerank`` against ``from langchain_core.documents import
  BaseDocumentCompressor`` (what any LangChain compressor needs): target <= 1.10x;
  ``from langchain_multirerank import MultiRerank`` against the same, for reference.
- ``import llama_index_multirerank`` against ``import llama_index.core``: target <= 1.05x;
  ``from llama_index_multirerank import MultiRerank`` against the same, for reference.

``--detail`` adds ``python -X importtime`` of each of our statements: the modules it loads that
its baseline does not, heaviest first (self time), and those modules' share.
A report: it exits 0 whether the figures pass or fail.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from harness import PYTHON, isolate_environment, median, milliseconds, print_table, verdict


@dataclass
class Statement:
    code: str
    target: float | None = None  # against the group's baseline; None: printed for reference
    timings: list[float] = field(default_factory=list)  # wall seconds
    cpu: list[float] = field(default_factory=list)  # the process's user + system seconds


@dataclass
class Group:
    baseline: Statement
    ours: list[Statement]

    @property
    def statements(self) -> list[Statement]:
        return [self.baseline, *self.ours]


def groups() -> list[Group]:
    return [
        Group(
            Statement("from langchain_core.documents import BaseDocumentCompressor"),
            [
                Statement("import langchain_multirerank", target=1.10),
                Statement("from langchain_multirerank import MultiRerank"),
            ],
        ),
        Group(
            Statement("import llama_index.core"),
            [
                Statement("import llama_index_multirerank", target=1.05),
                Statement("from llama_index_multirerank import MultiRerank"),
            ],
        ),
    ]


def environment() -> dict[str, str]:
    """This environment, less what would change what an import does or costs."""
    removed = {"PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE", "PYTHONVERBOSE"}
    return {name: value for name, value in os.environ.items() if name not in removed}


def run(code: str, cwd: str, env: dict[str, str], *options: str) -> tuple[float, float, str]:
    """Wall seconds a fresh interpreter took to run ``code`` and exit, the CPU seconds it used,
    and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [PYTHON, *options, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed:\n{completed.stderr}")
    return elapsed, cpu, completed.stderr


def measure(group: Group, runs: int, cwd: str, env: dict[str, str]) -> None:
    statements = group.statements
    for statement in statements:  # untimed: bytecode caches and the disk cache
        run(statement.code, cwd, env)
    for number in range(runs):
        shift = number % len(statements)
        for statement in statements[shift:] + statements[:shift]:
            wall, cpu, _ = run(statement.code, cwd, env)
            statement.timings.append(wall)
            statement.cpu.append(cpu)


def rows(group: Group) -> list[tuple[str, str, str, str, str, str, str]]:
    """The baseline's line, then each of our statements with its ratios to the baseline; the
    verdict is on wall time, the CPU ratio beside it is steadier on a busy machine."""
    base, base_cpu = median(group.baseline.timings), median(group.baseline.cpu)
    lines = [(group.baseline.code, milliseconds(base), milliseconds(base_cpu), "baseline", "", "", "")]
    for statement in group.ours:
        wall, cpu = median(statement.timings), median(statement.cpu)
        ratio = wall / base
        lines.append(
            (
                statement.code,
                milliseconds(wall),
                milliseconds(cpu),
                f"{ratio:.3f}x ({(wall - base) * 1e3:+.0f} ms)",
                f"{cpu / base_cpu:.3f}x",
                f"<= {statement.target:.2f}x" if statement.target is not None else "",
                verdict(ratio <= statement.target) if statement.target is not None else "",
            )
        )
    return lines


# -- --detail ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportTime:
    module: str
    self_us: int
    cumulative_us: int


def import_times(code: str, cwd: str, env: dict[str, str]) -> list[ImportTime]:
    """``-X importtime``'s lines for ``code``: each module imported, its own and cumulative time."""
    _, _, stderr = run(code, cwd, env, "-X", "importtime")
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_part, cumulative_part, module = line.removeprefix("import time:").split("|", 2)
        if not self_part.strip().isdigit():
            continue  # the header line
        found.append(ImportTime(module.strip(), int(self_part), int(cumulative_part)))
    return found


def detail(group: Group, cwd: str, env: dict[str, str], limit: int = 20) -> None:
    baseline_modules = {item.module for item in import_times(group.baseline.code, cwd, env)}
    for statement in group.ours:
        times = import_times(statement.code, cwd, env)
        extra = [item for item in times if item.module not in baseline_modules]
        total = sum(item.self_us for item in times)
        extra_total = sum(item.self_us for item in extra)
        ours = [item for item in extra if item.module.split(".")[0].endswith("multirerank")]
        print(
            f"\n== python -X importtime -c {statement.code!r}: {len(times)} modules, {total / 1e3:.0f} ms; "
            f"{len(extra)} not loaded by the baseline, {extra_total / 1e3:.0f} ms "
            f"(of which the project's own {len(ours)} modules: {sum(i.self_us for i in ours) / 1e3:.0f} ms)"
        )
        print(f"{'self ms':>8}  {'cumul. ms':>9}  module (top {limit} by self time, not in the baseline)")
        for item in sorted(extra, key=lambda item: item.self_us, reverse=True)[:limit]:
            print(f"{item.self_us / 1e3:8.1f}  {item.cumulative_us / 1e3:9.1f}  {item.module}")
        top_level = [item for item in extra if "." not in item.module]
        print(f"{'':8}  {'cumul. ms':>9}  top-level packages not in the baseline, by cumulative time")
        for item in sorted(top_level, key=lambda item: item.cumulative_us, reverse=True)[:10]:
            print(f"{'':8}  {item.cumulative_us / 1e3:9.1f}  {item.module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="timed rounds per group (median)")
    parser.add_argument("--quick", action="store_true", help="5 timed rounds per group")
    parser.add_argument("--detail", action="store_true", help="-X importtime top offenders of our side")
    args = parser.parse_args()
    runs = 5 if args.quick else max(1, args.runs)
    isolate_environment()
    env = environment()
    started = time.perf_counter()
    measured = groups()
    # A directory of its own: nothing there shadows an installed package on sys.path[0].
    with tempfile.TemporaryDirectory(prefix="bench-import-") as cwd:
        for group in measured:
            measure(group, runs, cwd, env)
        print(
            f"issue 7, import time: whole fresh `python -c` processes, median of {runs} rounds, "
            "statements of a group in rotating order"
        )
        print()
        print_table(
            ("statement", "wall", "CPU", "wall ratio", "CPU ratio", "target", "result"),
            [line for group in measured for line in rows(group)],
        )
        print(f"\ntotal {time.perf_counter() - started:.1f} s")
        if args.detail:
            for group in measured:
                detail(group, cwd, env)


if __name__ == "__main__":
    main()
