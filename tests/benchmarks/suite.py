"""The performance suite: every benchmark of ``tests/benchmarks/perf_*.py`` in one command.

    python -m tests.benchmarks.suite [--quick] [--only NAME ...] [--out tests/benchmarks/RESULTS.md]

Each benchmark measures its comparisons A B A B interleaved in this one process (these machines are
noisy: only ratios measured side by side mean anything) and returns Figures: a measured value, the goal
it is held to, and whether it met it. The suite prints one table and writes it, with the machine (CPU
model and flags, cores, torch threads, library versions), to RESULTS.md. ``--quick`` is the smoke run the
test suite executes: tiny sizes, one repeat, and each benchmark checks that both sides of a comparison
trained the same model on the same rows for the same steps. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@dataclass
class Settings:
    quick: bool  # the smoke run: tiny sizes, one repeat
    repeats: int  # A B pairs per comparison (the median is reported)
    work: Path  # a scratch folder of this run (caches, MLflow stores, studies)


@dataclass
class Figure:
    benchmark: str
    what: str
    value: float
    unit: str  # "s", "x" (a ratio), "MB", "%", ...
    goal: str = ""  # e.g. "<= 0.95x"; empty: reported, not held to a goal
    met: bool | None = None
    detail: str = ""  # how it was measured, the other side's number

    def cell(self) -> str:
        return f"{self.value:,.3g} {self.unit}" if abs(self.value) < 1000 else f"{self.value:,.0f} {self.unit}"


class SameWorkError(AssertionError):
    """Two sides of a comparison did not train the same model, rows and steps: the ratio means nothing."""


Benchmark = Callable[[Settings], list[Figure]]
BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    def register(fn: Benchmark) -> Benchmark:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = fn
        return fn

    return register


def same_work(what: str, a, b) -> None:
    """Raise SameWorkError unless ``a == b`` (model, row count, steps... of the two sides)."""
    if a != b:
        raise SameWorkError(f"{what} differ between the two sides: {a!r} != {b!r}")


def interleaved(a: Callable[[], float], b: Callable[[], float], repeats: int) -> tuple[float, float, float]:
    """Medians of ``a`` and ``b`` measured A B A B ..., and the median of the per-pair ratios b / a.

    Each callable returns the seconds it measured (its own timer: what counts is the caller's choice,
    e.g. a training loop without start-up)."""
    times_a, times_b, ratios = [], [], []
    for _ in range(repeats):
        ta, tb = a(), b()
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(tb / ta if ta > 0 else float("inf"))
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def machine() -> list[str]:
    """What every figure is measured on: the CPU named, its bf16 flags, cores, threads, versions."""
    import importlib.metadata as metadata

    import torch

    sys.path.insert(0, str(ROOT))
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags, cpu_name

    flags = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()]
    versions = []
    for package in ("torch", "transformers", "pytorch-lightning", "optuna", "mlflow", "peft", "hydra-core"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_name()}; bf16 flags: {', '.join(flags) or 'none'}; {os.cpu_count()} cores; torch threads {torch.get_num_threads()}",
        f"- versions: Python {sys.version.split()[0]}, {', '.join(versions)}",
    ]


def table(figures: list[Figure]) -> list[str]:
    lines = ["| benchmark | figure | measured | goal | met | how |", "|---|---|---|---|---|---|"]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.benchmark} | {f.what} | {f.cell()} | {f.goal} | {met} | {f.detail} |")
    return lines


def discover() -> None:
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name.startswith("perf_"):
            importlib.import_module(f"tests.benchmarks.{info.name}")


# a folder of checkpoints converted already (the smoke test passes its session cache's zoo/): every cache of the run
# links its zoo/ there, so no run converts MiniLM-L3 again; the benchmarks convert before any clock starts anyway
SHARED_ZOO = "SWEEP_BENCH_ZOO"


def share_zoo(work: Path, name: str) -> None:
    zoo = os.environ.get(SHARED_ZOO)
    if not zoo:
        return
    Path(zoo).mkdir(parents=True, exist_ok=True)
    for cache in (work / "cache", work / name / "cache"):  # sweep_jobs.shared_cache, and a benchmark's own (perf_search, perf_workers)
        cache.mkdir(parents=True, exist_ok=True)
        if not (cache / "zoo").exists():
            (cache / "zoo").symlink_to(zoo, target_is_directory=True)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smoke run: tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="A B pairs per comparison (default 3, quick 1)")
    parser.add_argument("--only", nargs="+", default=None, help="benchmark names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the table (default RESULTS.md; quick: not written)")
    parser.add_argument(
        "--readme", action="store_true", help="also put the table into docs/performance.md and its goals into README.md (between markers)"
    )
    parser.add_argument(
        "--from-results", type=Path, default=None, help="run nothing: put the table of this RESULTS.md into the docs (as --readme)"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.from_results:
        head = results_head(args.from_results.read_text())
        publish(head[2:])  # less its title
        return 0
    discover()
    names = args.only or sorted(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; allowed: {sorted(BENCHMARKS)}")
    out = args.out or (None if args.quick else HERE / "RESULTS.md")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as work:
        settings = Settings(quick=args.quick, repeats=args.repeats or (1 if args.quick else 3), work=Path(work))
        for name in names:
            start = time.perf_counter()
            print(f"== {name}", flush=True)
            (settings.work / name).mkdir()
            share_zoo(settings.work, name)
            found = BENCHMARKS[name](Settings(settings.quick, settings.repeats, settings.work / name))
            figures.extend(found)
            print("\n".join(table(found)[2:]), f"\n   ({time.perf_counter() - start:.0f} s)", flush=True)
    report = ["# Performance suite results", "", *machine(), "", *table(figures), ""]
    print("\n".join(report))
    if out is not None:
        write_results(out, report)
        print(f"written: {out}")
    if args.readme:
        publish([*machine(), "", *table(figures)])
    return 0


def results_head(text: str) -> list[str]:
    """The suite's part of a RESULTS.md: its lines before the first ``## `` section."""
    at = text.find("\n## ")
    return (text[:at] if at >= 0 else text).rstrip("\n").splitlines()


def publish(lines: list[str]) -> None:
    """The machine and the whole table into docs/performance.md; the machine and the figures held to a goal
    (measured / goal / met) into README.md."""
    regenerate_readme(PERFORMANCE_PAGE, lines)
    machine_lines = [line for line in lines if line.startswith("- ")]
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| benchmark")]
    goals = ["| benchmark | figure | measured | goal | met |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) >= 5 and cells[3]:
            goals.append(f"| {' | '.join(cells[:5])} |")
    regenerate_readme(README, [*machine_lines, "", *goals], GOALS_BEGIN, GOALS_END)


def write_results(out: Path, report: list[str]) -> None:
    """The suite's table at the top of ``out``; the sections below it (``## ...``: the other benchmarks' write-ups,
    kept by hand) stay as they are."""
    kept = ""
    if out.exists():
        text = out.read_text()
        at = text.find("\n## ")
        kept = text[at + 1 :] if at >= 0 else ""
    out.write_text("\n".join(report) + ("\n" + kept if kept else ""))


# the page of the docs that shows the suite's table (README.md links to it), between these two markers
PERFORMANCE_PAGE = ROOT / "docs" / "performance.md"
README_BEGIN, README_END = "<!-- performance suite: begin -->", "<!-- performance suite: end -->"
# README.md's performance table: the suite's goals alone (measured / goal / met), between these two markers
README = ROOT / "README.md"
GOALS_BEGIN, GOALS_END = "<!-- performance goals: begin -->", "<!-- performance goals: end -->"


def regenerate_readme(readme: Path, lines: list[str], begin: str = README_BEGIN, end: str = README_END) -> None:
    """Replace what stands between two markers in ``readme`` (docs/performance.md, "What makes it fast"; README.md)."""
    text = readme.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: the markers {begin!r} and {end!r} are missing")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    command = "python -m tests.benchmarks.suite --readme"
    body = [begin, f"Generated by `{command}` (the whole suite; every ratio measured A B A B in one run):", "", *lines, end]
    readme.write_text(head + "\n".join(body) + tail)
    print(f"written: {readme}")


if __name__ == "__main__":
    # run as the module the benchmarks import (python -m makes this file __main__, a second copy whose
    # registry no benchmark would fill)
    sys.path.insert(0, str(ROOT))
    from tests.benchmarks.suite import main as suite_main

    sys.exit(suite_main())
