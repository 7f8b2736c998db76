"""Vision through the real CLI: a ViT trains on real digit images (augmented), keeps its model with its
image processor, and that model evaluates again to its run's numbers and fine-tunes on another image task."""

import pytest

from tests.conftest import run_cli
from tests.test_cli import all_runs, assert_nothing_recorded

pytestmark = pytest.mark.slow
SMALL = ["task.train_size=200", "task.val_size=100", "task.test_size=100", "trainer.precision=32-true"]


def test_a_vit_trains_keeps_its_model_and_fine_tunes_it_on_another_image_task(tmp_path, cache_dir):
    trained = run_cli(
        "model=tiny_vit", "task=digits", "augment=images", "trainer.max_epochs=2", "optim.lr=1e-3", *SMALL, cwd=tmp_path, cache=cache_dir
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    (run,) = runs
    assert run.data.tags["state"] == "finished" and run.data.tags["model.kept"] == "true"
    files = {a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "model")}
    assert {"preprocessor_config.json", "model.safetensors", "head.safetensors", "sweep_model.json"} <= files
    assert "tokenizer.json" not in files

    source = f"model.source=runs:/{run.info.run_id}/model"
    evaluated = run_cli("model=saved", source, "task=digits", "trainer.fit=false", *SMALL, cwd=tmp_path, cache=cache_dir)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    again = next(r for r in all_runs(tmp_path)[1] if r.data.tags.get("model") == "saved")
    for metric in ("test/acc", "test/loss"):
        assert again.data.metrics[metric] == pytest.approx(run.data.metrics[metric], abs=1e-6), metric

    # on MNIST (28x28, the same ten labels): its head fits; partial freezing trains the top block on
    tuned = run_cli(
        "model=saved", source, "task=mnist", "strategy=partial", "strategy.freeze_depth=1", *SMALL, cwd=tmp_path, cache=cache_dir
    )
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    runs = all_runs(tmp_path)[1]
    assert sum(r.data.tags.get("state") == "finished" for r in runs) == 3


def test_a_vision_model_on_a_text_task_fails_before_anything_is_recorded(tmp_path):
    result = run_cli("model=tiny_vit", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: model=tiny_vit: model tiny_vit (family vision) reads image, task rotten_tomatoes has text rows")
    assert_nothing_recorded(tmp_path)
