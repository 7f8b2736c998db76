"""The performance suite (tests/benchmarks/suite.py): its helpers, and its smoke run through the real command."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from tests.benchmarks.suite import Figure, SameWorkError, interleaved, same_work, table
from tests.conftest import ROOT

# every benchmark the smoke run executes, with a figure each must print
SMOKE = {
    "trial_vs_trainer": ["fp32, sweep / Trainer: training loop", "fp32, sweep / Trainer: whole process", "fp32 test accuracy"],
    "fixed_cost": ["sweep.run --help", "config error: unknown group choice", "single job: process start to first optimizer step",
                   "search: later trials, launch to first step"],
    "hardware": ["fp32 matmul ceiling", "fp32 fine-tuning epoch, achieved", "fp32 fine-tuning epoch, share of the fp32 ceiling"],
    "feature_cache": ["feature epoch: recomputed backbone / cached features"],
    "partial_prefix": ["freeze_depth=3: epoch with the prefix cache"],
    "search": ["(a) / (c) wall time, medians over sampler seeds", "(c) HF Trainer.hyperparameter_search: process wall time"],
    "scaling": ["1k Rotten Tomatoes (1,000 rows): training time per row"],
    "workers": ["2 workers x 1 thread / 1 worker x 2 threads: wall time"],
}  # fmt: skip


def test_interleaved_alternates_the_sides_and_takes_medians_of_pairs():
    calls = []
    a_times, b_times = iter([1.0, 3.0, 2.0]), iter([2.0, 3.0, 8.0])

    def a():
        calls.append("a")
        return next(a_times)

    def b():
        calls.append("b")
        return next(b_times)

    median_a, median_b, ratio = interleaved(a, b, 3)
    assert calls == ["a", "b"] * 3
    assert (median_a, median_b) == (2.0, 3.0)
    assert ratio == 2.0  # the pairs' ratios are 2, 1, 4: their median, not the ratio of the medians


def test_same_work_raises_on_any_difference():
    same_work("rows", [2000, 500, 500], [2000, 500, 500])
    with pytest.raises(SameWorkError, match="optimizer steps differ"):
        same_work("optimizer steps", 63, 62)


def test_table_has_a_row_per_figure_with_its_goal_and_verdict():
    figures = [
        Figure("b", "ratio", 0.91234, "x", "<= 0.95x", True, "ours 9 s"),
        Figure("b", "missed", 1.7, "s", "<= 1.5 s", False),
        Figure("b", "ceiling", 1234.5, "GFLOP/s"),
    ]
    lines = table(figures)
    assert lines[0].startswith("| benchmark |") and len(lines) == 2 + len(figures)
    assert lines[2] == "| b | ratio | 0.912 x | <= 0.95x | yes | ours 9 s |"
    assert "| 1.7 s | <= 1.5 s | **no** |" in lines[3]
    assert "| 1,234 GFLOP/s |  |  |" in lines[4]


def test_the_trainer_validates_on_the_steps_sweep_plans():
    from tests.benchmarks.perf_trainer import eval_steps

    assert eval_steps(2000) == 63  # one validation per epoch: at its last step
    assert eval_steps(128) == 4


def test_the_smoke_run_covers_every_benchmark():
    from tests.benchmarks.suite import BENCHMARKS, discover

    discover()
    assert set(SMOKE) == set(BENCHMARKS), "a benchmark the smoke run does not cover: add it to SMOKE"


# one benchmark a test (its own `suite --quick --only NAME` process), so that make test's two workers share them
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_the_quick_suite_runs_every_benchmark_and_prints_its_figures(name, cache_dir):
    # the session's converted checkpoints: each run would otherwise convert MiniLM-L3 again, before its clocks start
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "SWEEP_BENCH_ZOO": str(cache_dir / "zoo")}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "tests.benchmarks.suite", "--quick", "--only", name]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = done.stdout.split("# Performance suite results", 1)[1]
    rows = [line for line in report.splitlines() if line.startswith(f"| {name} |")]
    for figure in SMOKE[name]:
        (row,) = [line for line in rows if f"| {figure}" in line]
        measured = float(row.split("|")[3].split()[0].replace(",", ""))
        assert math.isfinite(measured), row


def test_the_suite_rewrites_its_table_and_keeps_the_sections_below_it(tmp_path):
    from tests.benchmarks.suite import write_results

    out = tmp_path / "RESULTS.md"
    out.write_text("# Performance suite results\n\n| old | table |\n\n## Chaos\n\nkept by hand\n\n## Task types\n\nalso kept\n")
    write_results(out, ["# Performance suite results", "", "| new | table |", ""])
    assert out.read_text() == "# Performance suite results\n\n| new | table |\n\n## Chaos\n\nkept by hand\n\n## Task types\n\nalso kept\n"
    fresh = tmp_path / "new.md"
    write_results(fresh, ["# Performance suite results", "", "| t |"])
    assert fresh.read_text() == "# Performance suite results\n\n| t |"


def test_the_readme_gets_the_goals_of_the_results_table(tmp_path, monkeypatch):
    import tests.benchmarks.suite as suite

    page, readme = tmp_path / "performance.md", tmp_path / "README.md"
    page.write_text(f"# Fast\n{suite.README_BEGIN}\nold\n{suite.README_END}\ntail\n")
    readme.write_text(f"# sweep\n{suite.GOALS_BEGIN}\n{suite.GOALS_END}\n## Documentation\n")
    monkeypatch.setattr(suite, "PERFORMANCE_PAGE", page)
    monkeypatch.setattr(suite, "README", readme)
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Performance suite results\n\n- CPU: AMD EPYC\n\n"
        "| benchmark | figure | measured | goal | met | how |\n|---|---|---|---|---|---|\n"
        "| hardware | bf16 share | 40.2 % | >= 25 % | yes | 157 of 390 |\n| hardware | fp32 ceiling | 177 GFLOP/s |  |  | best |\n"
        "\n## Chaos\n\n| not | this |\n"
    )
    assert suite.main(["--from-results", str(results)]) == 0
    text = readme.read_text()
    assert "- CPU: AMD EPYC" in text and "| hardware | bf16 share | 40.2 % | >= 25 % | yes |" in text
    assert "fp32 ceiling" not in text and "| not | this |" not in text  # goals only, the suite's table only
    assert "| hardware | fp32 ceiling | 177 GFLOP/s |  |  | best |" in page.read_text() and page.read_text().endswith("tail\n")
