"""Image–text matching through the real CLI, on real captions (Tux Paint's stamps): a grid of dual-encoder strategies
logs recall and zero-shot accuracy, keeps its models, and a kept one evaluates again to its run's numbers."""

import pytest

from tests.conftest import run_cli
from tests.test_cli import all_runs, assert_nothing_recorded

pytestmark = pytest.mark.slow
TOWERS = ["task=tuxpaint_captions", "model=dual_encoder", "model.vision=tiny_vit", "model.text=tiny_bert"]
FP32 = ["trainer.precision=32-true"]  # a kept model's round trip is compared in fp32 (1e-6)
METRICS = [f"{stage}/{name}" for stage in ("val", "test") for name in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5", "zeroshot_acc")]


def test_a_grid_of_dual_encoder_strategies_logs_recall_and_zero_shot_and_a_kept_one_reloads_exactly(tmp_path, cache_dir):
    grid = run_cli(
        "-m", *TOWERS, "strategy=full,feature,lora,lit", "tracking.save_model=always", "trainer.max_epochs=2", *FP32,
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert grid.returncode == 0, grid.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    children = {run.data.tags["strategy"]: run for run in runs if run.data.tags.get("model") == "tiny_vit+tiny_bert"}
    assert set(children) == {"full", "feature", "lora", "lit"}
    for strategy, run in children.items():
        assert run.data.tags["state"] == "finished" and run.data.tags["model.kept"] == "true", strategy
        assert set(METRICS) <= set(run.data.metrics), (strategy, sorted(run.data.metrics))
        assert all(0.0 <= run.data.metrics[name] <= 1.0 for name in METRICS)
    shares = {strategy: run.data.metrics["params_trainable_share"] for strategy, run in children.items()}
    assert shares["feature"] < shares["lora"] < shares["full"] and shares["feature"] < shares["lit"] < shares["full"]
    assert "test/zeroshot_acc" in grid.stdout + grid.stderr  # the comparison ranks by the monitor

    lora = children["lora"]
    files = {a.path.split("/")[-1] for a in client.list_artifacts(lora.info.run_id, "model")}
    assert {"vision", "text", "sweep_model.json"} <= files
    source = f"model.source=runs:/{lora.info.run_id}/model"
    again = run_cli("task=tuxpaint_captions", "model=saved", source, "trainer.fit=false", *FP32, cwd=tmp_path, cache=cache_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    (evaluated,) = [run for run in all_runs(tmp_path)[1] if run.data.tags.get("model") == "saved"]  # before the onward ones
    for name in [m for m in METRICS if m.startswith("test/")] + ["test/loss"]:
        assert evaluated.data.metrics[name] == pytest.approx(lora.data.metrics[name], abs=1e-6), name

    # trained on from the kept one with its image tower locked, kept again: the frozen tower is the kept one's
    # (its base is runs:/<id>/model/vision), not its random source rebuilt, so it evaluates again to the same numbers
    onward = run_cli("task=tuxpaint_captions", "model=saved", source, "strategy=lit", "tracking.save_model=always", *FP32,
                     cwd=tmp_path, cache=cache_dir)  # fmt: skip
    assert onward.returncode == 0, onward.stderr[-3000:]
    (locked,) = [run for run in all_runs(tmp_path)[1] if run.data.tags.get("model") == "saved" and run.data.tags["strategy"] == "lit"]
    again = run_cli("task=tuxpaint_captions", "model=saved", f"model.source=runs:/{locked.info.run_id}/model", "trainer.fit=false",
                    *FP32, cwd=tmp_path, cache=cache_dir)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    reloaded = next(run for run in all_runs(tmp_path)[1] if run.data.tags.get("model.source") == f"runs:/{locked.info.run_id}/model")
    assert reloaded.data.metrics["test/loss"] == pytest.approx(locked.data.metrics["test/loss"], abs=1e-6)

    # distillation: the pair's best kept run (by name) teaches a student of the same towers
    taught = run_cli(*TOWERS, "strategy=distill", "distill.teacher=tiny_vit+tiny_bert", *FP32, cwd=tmp_path, cache=cache_dir)
    assert taught.returncode == 0, taught.stderr[-3000:]
    (student,) = [run for run in all_runs(tmp_path)[1] if run.data.tags.get("strategy") == "distill"]
    assert student.data.tags["distill.teacher_run"].split("/")[1] in {run.info.run_id for run in children.values()}
    assert 0.0 <= student.data.metrics["teacher_val_i2t_r1"] <= 1.0 and set(METRICS) <= set(student.data.metrics)


def test_a_text_model_as_the_vision_tower_fails_in_one_line_before_anything_is_recorded(tmp_path):
    result = run_cli(*TOWERS, "model.vision=minilm_l6", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: model.vision=minilm_l6: minilm_l6 (family encoder) reads text; the vision tower must read image"
    )
    assert result.stderr.count("\n") == 1
    assert_nothing_recorded(tmp_path)
