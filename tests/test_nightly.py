"""``python -m sweep.nightly``: nights through the real CLI (subprocesses, sqlite Optuna storage, the default
sqlite MLflow store under tmp_path), and the regression report on real Optuna studies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_DATA

ROOT = Path(__file__).resolve().parents[1]
TINY_NIGHT = ["nightly.models=[tiny_bert,tiny_gpt2]", "nightly.strategies=[full,lora]", *TINY_DATA]
# a packaged MiniLM-L3 learns on these rows (val acc 0.67 after one epoch of full fine-tuning, with the lr
# the seeded sampler draws first); at lr 1e-9 it stays where it started (0.58): a real, repeatable regression
L3_NIGHT = ["nightly.models=[minilm_l3]", "nightly.strategies=[full]", "task.train_size=192", "task.val_size=64", "task.test_size=32"]
FROZEN_FULL = "+search.strategy_spaces.full={optim.lr:{low:1e-9,high:2e-9,log:true}}"


def nightly_command(*args: str, out: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "sweep.nightly", f"paths.output_dir={out}", f"paths.cache_dir={cache}", *args]


def environment() -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_nightly(*args: str, out: Path, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    command = nightly_command(*args, out=out, cache=cache)
    return subprocess.run(command, cwd=out.parent, env=environment(), capture_output=True, text=True, timeout=timeout)


def storage_of(out: Path) -> str:
    return f"sqlite:///{out / 'optuna' / 'nightly.db'}"


def night(out: Path, date: str):
    """The night's study, read through the product's own opener: it takes the lock the nodes take while one
    creates a fresh sqlite schema (a plain RDBStorage here raced node B's, "UNIQUE constraint failed")."""
    import optuna

    from sweep.search.storage import open_storage

    return optuna.load_study(study_name=f"nightly-{date}", storage=open_storage(storage_of(out)))


def cells_run(study) -> dict:
    """(model, strategy) -> trials that used the budget."""
    from sweep.nightly.matrix import cell_of
    from sweep.search.liveness import counts

    found: dict = {}
    for trial in study.trials:
        if counts(trial):
            found.setdefault(cell_of(trial), []).append(trial)
    return found


def parent_run(out: Path, study: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    query = f"tags.`optuna.study` = '{study}' and tags.`sweep.kind` = 'optuna'"
    (parent,) = [r for r in client.search_runs([experiment.experiment_id], query) if "mlflow.parentRunId" not in r.data.tags]
    return client, parent


def report_of(out: Path, study: str) -> dict:
    client, parent = parent_run(out, study)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "nightly")}
    assert artifacts == {"nightly/report.md", "nightly/report.json"}
    folder = client.download_artifacts(parent.info.run_id, "nightly", str(out.parent / f"report-{study}"))
    report = json.loads((Path(folder) / "report.json").read_text())
    report["markdown"] = (Path(folder) / "report.md").read_text()
    report["tags"] = parent.data.tags
    return report


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "args, message",
    [
        (["nightly.models=[tiny_bert,nope]"], "error: nightly.models=['tiny_bert', 'nope']: unknown model nope; choose from "),
        (
            ["nightly.strategies=[full,bogus]"],
            "error: nightly.strategies=['full', 'bogus']: unknown strategy bogus; choose from adalora, bitfit, distill,",
        ),
        (["nightly.trials_per_cell=0"], "error: nightly.trials_per_cell=0: must be >= 1"),
        (["nightly.seeds=-1"], "error: nightly.seeds=-1: must be >= 0 (new seeds per cell's best trial; 0: none)"),
        (["nightly.z=-2"], "error: nightly.z=-2.0: must be >= 0 (standard deviations of the seeds a drop must exceed)"),
        (["nightly.date=2026-02-30"], "error: nightly.date=2026-02-30: must be a date YYYY-MM-DD, or null for today (UTC)"),
        (["search.n_trials=3"], "error: search.n_trials=3: set by the night: the budget is cells x nightly.trials_per_cell"),
        (["nightly.models=[vit_small]"], "error: nightly=['vit_small'] x ['full', 'lora', 'feature']: cell model=vit_small strategy=full:"),
        (  # a searched key of a strategy's own space, misspelt: before, each of that strategy's trials failed
            ["search.strategy_spaces.feature.optim.lrr=interval(1e-4,1e-3)"],
            "error: search.strategy_spaces.feature.optim.lrr: is searched, but the job's config (strategy=feature) has no key optim.lrr",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, cache_dir, args, message):
    out = tmp_path / "outputs"
    result = run_nightly(*args, out=out, cache=cache_dir, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not out.exists()  # no study, no MLflow store, no run folder


def test_a_report_of_a_night_that_does_not_exist_is_one_line_and_creates_no_storage(tmp_path, cache_dir):
    out = tmp_path / "outputs"
    result = run_nightly("--report-only", "nightly.date=2026-01-01", out=out, cache=cache_dir, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == "error: nightly.date=2026-01-01: no night nightly-2026-01-01 in search.storage: nothing to report\n"
    assert not (out / "optuna").exists()  # opening the storage would have created it


def test_help_answers_at_once(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "sweep.nightly", "--help"], env=environment(), capture_output=True, text=True)
    assert result.returncode == 0 and "Exit codes" in result.stdout and "3 regression" in result.stdout
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------------------ the report, unit
def make_night(storage: str, date: str, cells: dict, direction: str = "maximize", metric: str = "val/acc", prefix: str = "nightly"):
    """A real study as a night leaves it: ``cells`` maps (model, strategy) to a list of values (None: pruned)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from sweep.search.liveness import FAILED_BY_TRIAL

    study = optuna.create_study(study_name=f"{prefix}-{date}", storage=storage, direction=direction)
    study.set_user_attr("metrics", [metric])
    models = sorted({m for m, _ in cells}) + ["other"]
    strategies = sorted({s for _, s in cells}) + ["other"]
    space = {
        "model": CategoricalDistribution(models),
        "strategy": CategoricalDistribution(strategies),
        "optim.lr": FloatDistribution(1e-5, 1),
    }
    for (model, strategy), values in cells.items():
        for value in values:
            params = {"model": model, "strategy": strategy, "optim.lr": 1e-3}
            if value == "failed":  # its job raised: counted, no value
                trial = optuna.trial.create_trial(params=params, distributions=space, state=optuna.trial.TrialState.FAIL,
                                                  system_attrs={FAILED_BY_TRIAL: True})  # fmt: skip
            elif value is None:
                trial = optuna.trial.create_trial(params=params, distributions=space, state=optuna.trial.TrialState.PRUNED)
            else:
                trial = optuna.trial.create_trial(params=params, distributions=space, value=value)
            study.add_trial(trial)
    return study


def test_report_verdicts_on_real_studies(tmp_path):
    from sweep.nightly.report import REGRESSION_EXIT, night_report

    storage = f"sqlite:///{tmp_path / 'nights.db'}"
    make_night(storage, "2026-11-20", {("a", "full"): [0.10]})  # older: not the previous night
    make_night(storage, "2026-11-27", {
        ("a", "full"): [0.70, 0.72],       # best 0.72
        ("a", "lora"): [0.60],
        ("b", "full"): [0.80],
        ("b", "lora"): [0.75],
        ("b", "feature"): [0.50],          # not in tonight's matrix
        ("a", "prompt"): [None],           # pruned last night: no result to lose
    })  # fmt: skip
    make_night(storage, "2026-11-29", {("a", "full"): [0.0]})  # later: never the previous night of the 28th
    make_night(storage, "2026-11-26", {("a", "full"): [0.0]}, prefix="gpu")  # another line of nights
    make_night(storage, "2026-11-28", {
        ("a", "full"): [0.65, 0.70],       # 0.70 vs 0.72: -0.02 is not beyond 0.02 (floats: 0.7 - 0.72 = -0.02000000000000002)
        ("a", "lora"): [0.55, 0.62],       # improved? +0.02: ok; the best of two counts
        ("b", "full"): [0.70],             # -0.10: REGRESSION
        ("b", "lora"): [None, "failed"],   # no result tonight, one last night: missing, fails the night
        ("a", "prompt"): [0.40],           # no result last night: new
        ("c", "full"): [0.90],             # new
    })  # fmt: skip
    cells = [("a", "full"), ("a", "lora"), ("b", "full"), ("b", "lora"), ("a", "prompt"), ("c", "full"), ("c", "lora")]
    report = night_report(storage, "nightly-2026-11-28", "nightly", "2026-11-28", cells, "val/acc", "maximize", 0.02)
    assert report.previous_study == "nightly-2026-11-27"
    verdicts = {(r.model, r.strategy): r.verdict for r in report.rows}
    assert verdicts == {
        ("a", "full"): "ok", ("a", "lora"): "ok", ("b", "full"): "REGRESSION", ("b", "lora"): "missing", ("a", "prompt"): "new",
        ("c", "full"): "new", ("c", "lora"): "missing", ("b", "feature"): "removed",
    }  # fmt: skip
    rows = {(r.model, r.strategy): r for r in report.rows}
    assert rows[("b", "full")].delta == pytest.approx(-0.10) and rows[("a", "lora")].tonight == 0.62
    assert rows[("b", "lora")].note == "1 fail, 1 pruned" and rows[("c", "lora")].note == "not run"
    assert [(r.model, r.strategy) for r in report.failing] == [("b", "full"), ("b", "lora")]  # c/lora had no result to lose
    assert report.exit_code == REGRESSION_EXIT
    assert "| b | full | 0.7000 | 0.8000 | -0.1000 | REGRESSION |" in report.markdown()
    assert json.loads(report.to_json())["regressions"] == 2

    improved = night_report(storage, "nightly-2026-11-28", "nightly", "2026-11-28", [("a", "lora")], "val/acc", "maximize", 0.01)
    assert [r.verdict for r in improved.rows if r.model == "a" and r.strategy == "lora"] == ["improved"]  # +0.02 beyond 0.01
    lenient = night_report(
        storage, "nightly-2026-11-28", "nightly", "2026-11-28", cells, "val/acc", "maximize", 0.02, fail_on_missing=False
    )
    assert [(r.model, r.strategy) for r in lenient.failing] == [("b", "full")]


def test_report_minimize_first_night_and_other_objectives(tmp_path):
    from sweep.nightly.report import night_report

    storage = f"sqlite:///{tmp_path / 'nights.db'}"
    make_night(storage, "2026-11-27", {("a", "full"): [0.50, 0.40], ("a", "lora"): [0.60]}, direction="minimize", metric="val/loss")
    first = night_report(storage, "nightly-2026-11-27", "nightly", "2026-11-27", [("a", "full")], "val/loss", "minimize", 0.02)
    assert first.previous_study is None and first.exit_code == 0 and [r.verdict for r in first.rows] == ["first night"]
    assert first.rows[0].tonight == 0.40  # the lowest loss is the best
    make_night(storage, "2026-11-28", {("a", "full"): [0.45], ("a", "lora"): [0.30]}, direction="minimize", metric="val/loss")
    report = night_report(
        storage, "nightly-2026-11-28", "nightly", "2026-11-28", [("a", "full"), ("a", "lora")], "val/loss", "minimize", 0.02
    )
    assert [r.verdict for r in report.rows] == ["REGRESSION", "improved"]  # loss up 0.05 is worse; down 0.30 is better
    assert report.rows[0].delta == pytest.approx(0.05)
    # a night on another objective is not compared: no false alarm, and the report says why
    make_night(storage, "2026-11-29", {("a", "full"): [0.9]}, metric="val/acc")
    other = night_report(storage, "nightly-2026-11-29", "nightly", "2026-11-29", [("a", "full")], "val/acc", "maximize", 0.02)
    assert other.previous_study is None and other.exit_code == 0 and "not comparable" in other.note


def test_a_crashed_night_between_two_good_ones_does_not_hide_a_regression(tmp_path):
    """Regression: the report compared with the latest earlier study, result or not; a night that crashed
    (no trial complete) made every cell of the next night "new", exit 0, and a 30-point drop went unflagged."""
    from sweep.nightly.report import REGRESSION_EXIT, night_report

    storage = f"sqlite:///{tmp_path / 'nights.db'}"
    make_night(storage, "2026-11-26", {("a", "full"): [0.80], ("a", "lora"): [0.70]})
    make_night(storage, "2026-11-27", {("a", "full"): [0.81], ("a", "lora"): ["failed"]})  # lora crashed
    make_night(storage, "2026-11-28", {("a", "full"): ["failed"], ("a", "lora"): ["failed"]})  # the whole night crashed
    cells = [("a", "full"), ("a", "lora")]
    make_night(storage, "2026-11-29", {("a", "full"): [0.51], ("a", "lora"): [0.40]})
    report = night_report(storage, "nightly-2026-11-29", "nightly", "2026-11-29", cells, "val/acc", "maximize", 0.02)
    rows = {(r.model, r.strategy): r for r in report.rows}
    assert (rows[("a", "full")].verdict, rows[("a", "full")].previous, rows[("a", "full")].previous_study) == (
        "REGRESSION", 0.81, "nightly-2026-11-27",
    )  # fmt: skip
    assert (rows[("a", "lora")].verdict, rows[("a", "lora")].previous, rows[("a", "lora")].previous_study) == (
        "REGRESSION", 0.70, "nightly-2026-11-26",
    )  # fmt: skip
    assert report.previous_study == "nightly-2026-11-28" and report.exit_code == REGRESSION_EXIT
    assert "| a | lora | 0.4000 | 0.7000 | -0.3000 | REGRESSION | nightly-2026-11-26 |" in report.markdown()
    # and a cell missing tonight fails against the last night that had it, not against the crashed one
    make_night(storage, "2026-11-30", {("a", "full"): [0.80], ("a", "lora"): [None]})
    make_night(storage, "2026-12-01", {("a", "full"): [0.80]})
    missing = night_report(storage, "nightly-2026-12-01", "nightly", "2026-12-01", cells, "val/acc", "maximize", 0.02)
    lora = next(r for r in missing.rows if r.strategy == "lora")
    assert (lora.verdict, lora.fails, lora.previous_study) == ("missing", True, "nightly-2026-11-29")


def test_with_seeds_a_regression_is_a_drop_beyond_max_of_threshold_and_z_sd():
    """nightly.seeds: the cell's value is the mean over its seeds; a drop of 0.03 regresses only where the seeds agree."""
    from sweep.nightly.report import CellBest, Earlier, compare

    def cell(*seeds: float) -> CellBest:
        return CellBest(value=sum(seeds) / len(seeds), trial=0, seeds=list(seeds), search_value=0.9)

    before = Earlier(results={("a", "full"): CellBest(value=0.80, trial=0)}, nights={("a", "full"): "nightly-1"}, latest={})
    noisy = compare({("a", "full"): cell(0.72, 0.77, 0.82)}, before, [("a", "full")], "maximize", 0.02, z=2.0)  # mean 0.77, sd 0.05
    (row,) = noisy
    assert row.delta == pytest.approx(-0.03) and row.verdict == "ok" and not row.fails
    assert row.threshold == pytest.approx(0.1) and row.threshold_source == "0.1 = 2.0 x sd 0.05 over 3 seeds"
    (row,) = compare({("a", "full"): cell(0.769, 0.770, 0.771)}, before, [("a", "full")], "maximize", 0.02, z=2.0)  # sd 0.001
    assert row.verdict == "REGRESSION" and row.threshold == 0.02
    assert row.threshold_source == "0.02 (fixed; 2.0 x sd 0.001 over 3 seeds is smaller)"
    # pooled with the compared night's seeds: ((3-1) x 0.05^2 + (3-1) x 0.01^2) / 4, square root
    seeded = Earlier(results={("a", "full"): cell(0.79, 0.80, 0.81)}, nights={("a", "full"): "nightly-1"}, latest={})
    (row,) = compare({("a", "full"): cell(0.72, 0.77, 0.82)}, seeded, [("a", "full")], "maximize", 0.02, z=2.0)
    assert row.threshold == pytest.approx(2 * (0.0013**0.5)) and "over 3 seeds (tonight) + 3 seeds (nightly-1)" in row.threshold_source
    # without seeds: exactly as before, and said so
    (row,) = compare({("a", "full"): CellBest(value=0.77, trial=0)}, before, [("a", "full")], "maximize", 0.02, z=2.0)
    assert (row.verdict, row.threshold, row.threshold_source) == ("REGRESSION", 0.02, "0.02 (fixed)")


def test_a_night_with_seeds_reports_their_mean_and_the_threshold_it_used(tmp_path):
    from sweep.nightly.report import night_report
    from sweep.search import claims

    storage = f"sqlite:///{tmp_path / 'nights.db'}"
    make_night(storage, "2026-11-27", {("a", "full"): [0.80]})
    study = make_night(storage, "2026-11-28", {("a", "full"): [0.70, 0.79], ("a", "lora"): [0.6]})
    for seed, value in ((1042, 0.72), (2042, 0.77), (3042, 0.82)):  # the best trial (1) confirmed: mean 0.77, sd 0.05
        claims.write(study, claims.Claim(1, seed, {"state": "finished", "value": value, "k": 1}))
    claims.write(study, claims.Claim(1, 4042, {"state": "failed", "k": 4}))
    report = night_report(storage, "nightly-2026-11-28", "nightly", "2026-11-28", [("a", "full")], "val/acc", "maximize", 0.02, z=2.0)
    (row,) = report.rows
    assert (row.tonight, row.seeds, row.verdict) == (pytest.approx(0.77), 3, "ok")
    assert "| a | full | 0.7700 | 0.8000 | -0.0300 | ok | nightly-2026-11-27 | 0.1 = 2.0 x sd 0.05 over 3 seeds |" in report.markdown()
    assert "trial 1, mean of 3 seeds (search 0.7900)" in report.markdown()
    assert json.loads(report.to_json())["rows"][0]["threshold_source"] == "0.1 = 2.0 x sd 0.05 over 3 seeds"


def test_a_night_left_with_queued_trials_and_none_running_is_not_over_and_not_a_success(tmp_path, capsys):
    """A trial returned to the queue after every worker stopped: no node runs it, so no node may say "done" (exit 0)."""
    from types import SimpleNamespace

    import optuna

    from sweep.nightly.__main__ import report_if_over

    study = optuna.create_study(study_name="nightly-2026-11-27", storage=f"sqlite:///{tmp_path / 'n.db'}")
    study.enqueue_trial({"model": "a", "strategy": "full"})
    night = SimpleNamespace(study_name="nightly-2026-11-27", date="2026-11-27")
    assert report_if_over(night, study, ending="search") == 1
    assert "not over, no verdict: 0 trial(s) still running, 1 queued (a/full)" in capsys.readouterr().err


def test_top_up_is_idempotent_and_returns_follow_their_cell(tmp_path):
    """Enqueued cells do not use the budget until asked; a trial returned to the budget is enqueued again."""
    import optuna

    from sweep.nightly.matrix import NightlyConfig, cell_of, top_up
    from sweep.search.liveness import RETURNED, budget_used

    study = optuna.create_study(study_name="nightly-2026-11-27", storage=f"sqlite:///{tmp_path / 'n.db'}")
    config = NightlyConfig(models=["a", "b"], strategies=["full", "lora"], trials_per_cell=2)
    assert top_up(study, config) == 8 and top_up(study, config) == 0 and budget_used(study) == 0
    trial = study.ask()  # the first cell, as enqueued
    assert trial.suggest_categorical("model", ["a", "b"]) == "a" and trial.suggest_categorical("strategy", ["full", "lora"]) == "full"
    assert budget_used(study) == 1 and top_up(study, config) == 0
    study._storage.set_trial_system_attr(trial._trial_id, RETURNED, "interrupted")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)  # returned: no longer counted, its cell lacks one
    assert budget_used(study) == 0 and top_up(study, config) == 1
    waiting = study.get_trials(states=[optuna.trial.TrialState.WAITING])
    assert len(waiting) == 8 and cell_of(waiting[-1]) == ("a", "full")


def test_a_new_night_starts_each_cell_from_the_previous_nights_best_configuration(tmp_path):
    import optuna

    from sweep.nightly.matrix import NightlyConfig, top_up
    from sweep.nightly.warm_start import previous_bests

    storage = f"sqlite:///{tmp_path / 'nights.db'}"
    before = make_night(storage, "2026-11-26", {("a", "full"): [0.9]})
    make_night(storage, "2026-11-27", {("a", "full"): [0.5, 0.7], ("a", "lora"): [None], ("b", "full"): [0.6]})
    best = max((t for t in optuna.load_study(study_name="nightly-2026-11-27", storage=storage).trials if t.value), key=lambda t: t.value)
    config = NightlyConfig(models=["a"], strategies=["full", "lora"], trials_per_cell=2)
    name, starts = previous_bests(optuna.storages.RDBStorage(storage), config, "2026-11-28", "maximize")
    assert name == "nightly-2026-11-27" and before.study_name != name  # the latest earlier night, not an older one
    assert starts == {("a", "full"): {"optim.lr": best.params["optim.lr"]}}  # a cell with no complete trial starts cold; b is not tonight's
    tonight = optuna.create_study(study_name="nightly-2026-11-28", storage=storage)
    assert top_up(tonight, config, starts) == 4
    first = tonight.get_trials(states=[optuna.trial.TrialState.WAITING])[0]
    assert first.system_attrs["fixed_params"] == {"optim.lr": best.params["optim.lr"], "model": "a", "strategy": "full"}
    assert NightlyConfig(models=["a"], strategies=["full"]).warm_start  # on by default


# ----------------------------------------------------------------------------------- nights, end to end
@pytest.mark.slow
def test_two_nights_each_cell_searched_compared_and_resumed(tmp_path, cache_dir):
    import optuna

    out = tmp_path / "outputs"
    started = time.monotonic()
    first = run_nightly(*TINY_NIGHT, "nightly.trials_per_cell=1", "nightly.date=2026-11-27", out=out, cache=cache_dir)
    one_night_s = time.monotonic() - started
    assert first.returncode == 0, first.stderr[-3000:]
    assert "night nightly-2026-11-27: 4 cells x 1 trials = 4 (0 already used, 4 enqueued now)" in first.stdout
    assert "(no previous night)" in first.stdout
    print(f"one tiny night (2 models x 2 strategies x 1 trial): {one_night_s:.1f} s")

    args = [*TINY_NIGHT, "nightly.trials_per_cell=2", "nightly.date=2026-11-28"]
    second = run_nightly(*args, out=out, cache=cache_dir)
    assert second.returncode in (0, 3), second.stderr[-3000:]
    cells = [("tiny_bert", "full"), ("tiny_bert", "lora"), ("tiny_gpt2", "full"), ("tiny_gpt2", "lora")]
    for date, per_cell in (("2026-11-27", 1), ("2026-11-28", 2)):
        study = night(out, date)
        found = cells_run(study)
        assert sorted(found) == cells and all(len(trials) == per_cell for trials in found.values()), {c: len(t) for c, t in found.items()}
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)  # none waiting, none extra
        # the sampler kept each cell's own choice and searched the rest: the strategy's own lr range
        for (model, strategy), trials in found.items():
            assert all(t.params["model"] == model and t.params["strategy"] == strategy for t in trials)
            assert all((f"{strategy}/optim.lr" if strategy == "lora" else "optim.lr") in t.params for t in trials)

    # warm start: each cell's first trial of the second night is the first night's best configuration of that cell
    for cell, trials in cells_run(night(out, "2026-11-28")).items():
        (before,) = cells_run(night(out, "2026-11-27"))[cell]
        assert min(trials, key=lambda t: t.number).params == before.params, cell
    report = report_of(out, "nightly-2026-11-28")
    assert report["previous_study"] == "nightly-2026-11-27" and report["tags"]["nightly.previous"] == "nightly-2026-11-27"
    first_night = night(out, "2026-11-27")
    for row in report["rows"]:
        (before,) = cells_run(first_night)[(row["model"], row["strategy"])]
        assert row["previous"] == pytest.approx(before.value)
        assert row["tonight"] == pytest.approx(max(t.value for t in cells_run(night(out, "2026-11-28"))[(row["model"], row["strategy"])]))
        assert row["verdict"] in ("ok", "improved", "REGRESSION")
    assert second.returncode == report["exit_code"] == (3 if report["regressions"] else 0)
    assert "## Nightly nightly-2026-11-28 against nightly-2026-11-27" in report["markdown"] in second.stdout + "\n"
    assert report_of(out, "nightly-2026-11-27")["previous_study"] is None

    # the same night again: nothing enqueued, nothing run, the same report
    again = run_nightly(*args, out=out, cache=cache_dir)
    assert again.returncode == second.returncode, again.stderr[-3000:]
    assert "night nightly-2026-11-28: 4 cells x 2 trials = 8 (8 already used, 0 enqueued now)" in again.stdout
    assert len(night(out, "2026-11-28").trials) == 8
    # another matrix for a night under way is refused
    other = run_nightly(*TINY_NIGHT, "nightly.trials_per_cell=3", "nightly.date=2026-11-28", out=out, cache=cache_dir, timeout=60)
    assert other.returncode == 2 and other.stderr.startswith("error: nightly.trials_per_cell=3: study nightly-2026-11-28 was started with")


@pytest.mark.slow
def test_an_injected_regression_is_flagged_and_fails_the_night(tmp_path, cache_dir):
    out = tmp_path / "outputs"
    first = run_nightly(*L3_NIGHT, "nightly.trials_per_cell=1", "nightly.date=2026-11-27", out=out, cache=cache_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    # the next night's full fine-tuning cannot move its weights (lr 1e-9): a true drop, not a faked number
    second = run_nightly(*L3_NIGHT, "nightly.trials_per_cell=1", "nightly.date=2026-11-28", FROZEN_FULL, out=out, cache=cache_dir)
    assert second.returncode == 3, second.stdout[-3000:] + second.stderr[-3000:]
    assert second.stderr.strip().endswith("nightly nightly-2026-11-28: 1 regression(s): minilm_l3/full (REGRESSION)")
    report = report_of(out, "nightly-2026-11-28")
    (row,) = report["rows"]
    assert row["verdict"] == "REGRESSION" and row["delta"] < -0.05, row
    assert report["exit_code"] == 3 and report["tags"]["nightly.verdict"] == "regression"
    (trial,) = night(out, "2026-11-28").trials
    assert trial.params["full/optim.lr"] < 2e-9  # the strategy's own space, named by strategy (a conditional space)


@pytest.mark.slow
def test_an_interrupted_night_resumes_without_enqueuing_twice(tmp_path, cache_dir):
    """SIGTERM to sweep.nightly mid-trial reaches the search; the trial returns to the budget and to its
    cell's queue; the same command then meets the budget exactly, each cell with its one trial."""
    import optuna

    from sweep.search.liveness import RETURNED

    out = tmp_path / "outputs"
    # the MiniLM cell first (enqueued first, asked first): slow enough to be caught running
    args = ["nightly.models=[minilm_l3,tiny_bert]", "nightly.strategies=[full]", "nightly.trials_per_cell=1", "nightly.date=2026-11-27",
            "task.train_size=192", "task.val_size=64", "task.test_size=32", "trainer.max_epochs=3"]  # fmt: skip
    process = subprocess.Popen(
        nightly_command(*args, out=out, cache=cache_dir), cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline, caught = time.time() + 300, False
    while time.time() < deadline and not caught and process.poll() is None:
        time.sleep(0.5)
        try:
            study = night(out, "2026-11-27")
            caught = any(t.state == optuna.trial.TrialState.RUNNING and "mlflow_run_id" in t.user_attrs for t in study.trials)
        except Exception:  # the study is not there yet
            continue
    if not caught:
        process.kill()
        out_text, err_text = process.communicate()
        raise AssertionError(f"no trial was ever caught running (exit {process.returncode}):\n{out_text[-3000:]}\n{err_text[-3000:]}")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-3000:]
    study = night(out, "2026-11-27")
    returned = [t for t in study.trials if RETURNED in t.system_attrs]
    found = [(t.number, t.state.name, t.params.get("model"), t.system_attrs.get(RETURNED)) for t in study.trials]
    assert len(returned) == 1 and returned[0].params["model"] == "minilm_l3", (found, stderr[-3000:])

    resumed = run_nightly(*args, out=out, cache=cache_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(0 already used, 0 enqueued now)" in resumed.stdout  # the returned cell was queued again when it returned
    study = night(out, "2026-11-27")
    found = cells_run(study)
    assert {cell: len(trials) for cell, trials in found.items()} == {("minilm_l3", "full"): 1, ("tiny_bert", "full"): 1}
    assert all(t.state == optuna.trial.TrialState.COMPLETE for trials in found.values() for t in trials)
    assert not study.get_trials(states=[optuna.trial.TrialState.WAITING]) and len(study.trials) == 3


def test_searched_parameters_pass_through_to_the_search(tmp_path, cache_dir):
    """``key=choice(a,b)`` means a searched parameter to the search; the night itself composes without it."""
    from sweep.nightly.night import resolve

    night = resolve([*TINY_NIGHT, "search.space.optim.lr=choice(1e-4,1e-9)", f"paths.output_dir={tmp_path}"])
    assert "search.space.optim.lr=choice(1e-4,1e-9)" in night.search_overrides
    assert list(night.plan.base["optim.lr"].choices) == [1e-4, 1e-9]  # the sweeper reads it as the space of optim.lr


def unlocked(store: Path) -> bool:
    """No other process holds a lock on this sqlite file (an exclusive transaction can start, and is undone)."""
    import sqlite3

    connection = sqlite3.connect(store, timeout=0.05)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        connection.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


@pytest.mark.slow
def test_two_nodes_one_night_the_node_that_ends_it_writes_the_report(tmp_path, cache_dir):
    """Regression: the first node to end counted the other node's running trial toward the budget and
    reported at once, judging a cell on half its trials (and a cell whose only trial ran elsewhere as
    "missing", exit 3). Node B holds a trial (its process tree stopped mid-trial, alive); node A runs the
    other trial and ends: no verdict from A, exit 0; --report-only refuses a night not over; B ends the
    night and writes the one report, on both trials."""
    import optuna
    import psutil
    import sqlalchemy.exc

    out = tmp_path / "outputs"
    args = ["nightly.models=[tiny_bert]", "nightly.strategies=[full]", "nightly.trials_per_cell=2", "nightly.date=2026-11-27", *TINY_DATA]
    node_b = subprocess.Popen(
        nightly_command(*args, out=out, cache=cache_dir), cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while True:  # B's trial has opened its run: it is training
        assert node_b.poll() is None and time.monotonic() < deadline, node_b.communicate()
        if (out / "optuna" / "nightly.db").exists():
            try:
                trials = night(out, "2026-11-27").get_trials(states=[optuna.trial.TrialState.RUNNING])
            except (KeyError, sqlalchemy.exc.OperationalError):  # the study (or the storage's tables) being created by B
                trials = []
            if trials and "mlflow_run_id" in trials[0].user_attrs:
                break
        time.sleep(0.2)
    tree = [psutil.Process(node_b.pid), *psutil.Process(node_b.pid).children(recursive=True)]
    stores = [out / "mlflow.db", out / "optuna" / "nightly.db"]
    for _ in range(200):  # B stopped where it holds no sqlite lock: a node stalled inside a write would stall A too
        for process in tree:
            process.suspend()
        if all(unlocked(store) for store in stores):
            break
        for process in tree:
            process.resume()
        time.sleep(0.05)
    else:
        pytest.fail("node B never left its sqlite stores unlocked")
    try:
        node_a = run_nightly(*args, out=out, cache=cache_dir)
        assert node_a.returncode == 0, node_a.stderr[-3000:]
        assert "nightly nightly-2026-11-27: this node is done; 1 trial(s) still running, 0 queued (tiny_bert/full)" in node_a.stdout
        assert "## Nightly" not in node_a.stdout  # no verdict on half the night
        assert "this worker is done (budget); 1 trial(s) of study nightly-2026-11-27 still run" in node_a.stdout
        assert "study nightly-2026-11-27:" not in node_a.stdout  # the study's summary is the last worker's
        early = run_nightly("--report-only", *args, out=out, cache=cache_dir, timeout=120)
        assert early.returncode == 1 and "not over, no verdict: 1 trial(s) still running" in early.stderr, early.stderr[-2000:]
    finally:
        for process in tree:
            process.resume()
    stdout, stderr = node_b.communicate(timeout=300)
    assert node_b.returncode == 0, stderr[-3000:]
    assert "## Nightly nightly-2026-11-27 (no previous night)" in stdout
    assert "study nightly-2026-11-27: 2 complete, 0 pruned, 0 failed" in stdout  # printed once, by the worker that ended it
    study = night(out, "2026-11-27")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    (row,) = report_of(out, "nightly-2026-11-27")["rows"]
    assert row["tonight"] == pytest.approx(max(t.value for t in study.trials))
    later = run_nightly("--report-only", *args, out=out, cache=cache_dir, timeout=120)
    assert later.returncode == 0 and "## Nightly nightly-2026-11-27 (no previous night)" in later.stdout, later.stderr[-2000:]
