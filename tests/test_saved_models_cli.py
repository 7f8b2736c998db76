"""Trained models are kept: saved by the real CLI, loaded back with model.source=runs:/<id>/model."""

from pathlib import Path

import pytest

from tests.conftest import TINY_DATA, run_cli
from tests.test_cli import all_runs

pytestmark = pytest.mark.slow
EXACT = ["trainer.precision=32-true"]  # bf16 would round a merged LoRA weight otherwise than the adapter it came from


def model_files(client, run) -> list[str]:
    return [Path(a.path).name for a in client.list_artifacts(run.info.run_id, "model")]


def test_a_kept_model_evaluates_to_its_runs_test_metrics(tmp_path, cache_dir):
    strategies = ["full", "lora", "prompt", "feature"]
    trained = run_cli("-m", "model=tiny_bert", f"strategy={','.join(strategies)}", *TINY_DATA, *EXACT, cwd=tmp_path, cache=cache_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    jobs = {r.data.tags["strategy"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert sorted(jobs) == sorted(strategies)
    for strategy, run in jobs.items():  # grid jobs keep what they trained (tracking.save_model=auto)
        files = model_files(client, run)
        assert run.data.tags["model.kept"] == "true" and {"sweep_model.json", "head.safetensors", "tokenizer.json"} <= set(files)
        assert ("model.safetensors" in files) == (strategy == "full")
        assert ("adapter_model.safetensors" in files) == (strategy in ("lora", "prompt"))

    sources = ",".join(f"runs:/{run.info.run_id}/model" for run in jobs.values())
    evaluate = ["-m", "model=saved", f"model.source={sources}", "trainer.fit=false", *TINY_DATA, *EXACT]
    evaluated = run_cli(*evaluate, cwd=tmp_path, cache=cache_dir)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    evaluations = {r.data.tags["model.source"]: r for r in runs if r.data.tags.get("model") == "saved"}
    assert len(evaluations) == len(strategies)
    for strategy, run in jobs.items():
        again = evaluations[f"runs:/{run.info.run_id}/model"]
        assert again.data.tags["state"] == "finished" and again.data.metrics["optimizer_steps"] == 0
        for metric in ("test/acc", "test/loss", "test/f1"):
            assert again.data.metrics[metric] == pytest.approx(run.data.metrics[metric], abs=1e-6), (strategy, metric)
        assert "model.kept" not in again.data.tags and model_files(client, again) == []  # evaluating trains nothing to keep


def test_save_model_never_keeps_nothing_and_such_a_run_cannot_be_loaded(tmp_path, cache_dir):
    result = run_cli("model=tiny_bert", "tracking.save_model=never", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = all_runs(tmp_path)
    assert model_files(client, run) == [] and "model.kept" not in run.data.tags

    source = f"runs:/{run.info.run_id}/model"
    loaded = run_cli("model=saved", f"model.source={source}", "trainer.fit=false", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert loaded.returncode == 2
    assert loaded.stderr == f"error: model.source={source}: the run has no saved model (no model/sweep_model.json)\n"
    assert len(all_runs(tmp_path)[1]) == 1  # nothing recorded


def test_a_search_keeps_only_its_best_trials_model(tmp_path, cache_dir):
    """The removal path must run: a grid of a diverging lr (0.5) before a good one (1e-3), in the order the
    seeded grid sampler gives, so the first trial's kept model is removed when the second beats it."""
    from tests.test_search_cli import study_of

    args = ["-m", "search=optuna", "model=tiny_bert", *TINY_DATA, "search.n_trials=2", "search.metrics=[val/loss]"]
    args += ["search.directions=[minimize]", "search.sampler=grid", "search.space.optim.lr=choice(0.5, 0.001)"]
    args += ["search.space.optim.warmup_ratio=choice(0.1)", "search.seed=1"]  # seed 1: the grid runs lr 0.5 first
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    study = study_of(tmp_path)
    client, runs = all_runs(tmp_path)
    children = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: int(r.data.tags["optuna.trial"]))
    assert [float(r.data.params["optim.lr"]) for r in children] == [0.5, 0.001]  # the worse one first
    holding = [r for r in children if model_files(client, r)]
    assert len(holding) == 1 and holding[0].data.tags["model.kept"] == "true"
    assert int(holding[0].data.tags["optuna.trial"]) == study.best_trial.number == 1
    removed = children[0]  # saved while it was the best so far, removed when trial 1 beat it
    assert removed.data.tags["model.kept"] == "false" and "not the best trial" in removed.data.tags["model.removed"]
    source = f"runs:/{removed.info.run_id}/model"
    loaded = run_cli("model=saved", f"model.source={source}", "trainer.fit=false", cwd=tmp_path, timeout=120)
    assert loaded.returncode == 2 and loaded.stderr.startswith(f"error: model.source={source}: its model was removed (not the best")
