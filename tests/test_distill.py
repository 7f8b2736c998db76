"""Knowledge distillation through the real CLI: the teacher runs once per split, ever; bad teachers fail clearly."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_DATA, run_cli, save_classifier
from tests.test_cli import all_runs, assert_nothing_recorded


@pytest.mark.slow
def test_the_teacher_runs_once_per_split_across_jobs_and_epochs(tmp_path, cache_dir):
    # its label order differs from the task's: the columns are put in the task's order
    teacher = save_classifier(tmp_path / "teacher", ["fresh", "rotten"], cache_dir)
    result = run_cli(
        "-m", "strategy=distill,full", "seed=1,2", "model=tiny_bert", *TINY_DATA, "trainer.max_epochs=2",
        f"distill.teacher={teacher}", "distill.alpha=0.3", "distill.temperature=3", cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    children = sorted((run for run in runs if "mlflow.parentRunId" in run.data.tags), key=lambda run: int(run.data.tags["sweep.job"]))
    assert [run.data.tags["strategy"] for run in children] == ["distill", "distill", "full", "full"]
    distilled, alone = children[:2], children[2:]
    # the first job runs the teacher on train, val and test (one batch each at eval batch size 128);
    # every later job, in the same process or not, reads its logits from the cache, and epochs never run it
    assert [run.data.metrics["prepare_teacher_forward_batches"] for run in distilled] == [3, 0]
    assert [run.data.metrics["prepare_teacher_cache_hits"] for run in distilled] == [0, 3]
    for run in distilled:
        assert 0.0 <= run.data.metrics["teacher_test_acc"] <= 1.0
        assert run.data.tags["distill.teacher"] == str(teacher)
    for run in alone:  # full is the student alone: it never loads the teacher
        assert "prepare_teacher_forward_batches" not in run.data.metrics
        assert "distill.teacher" not in run.data.tags


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["strategy=distill"], "error: distill.teacher=None: strategy=distill needs a teacher"),
        (["distill.alpha=1.5"], "error: distill.alpha=1.5: must be in [0, 1]"),
        (
            ["strategy=distill", "distill.teacher=minilm_l6"],
            "error: distill.teacher=minilm_l6: no finished run of model minilm_l6 on task rotten_tomatoes kept its model",
        ),
        (["strategy=lora", "distill.teacher=/no/such/folder"], "error: distill.teacher=/no/such/folder: not a runs:/ URI"),
    ],
)
def test_bad_teachers_fail_clearly_and_record_nothing(tmp_path, cache_dir, args, message):
    result = run_cli("model=tiny_bert", *TINY_DATA, *args, cwd=tmp_path, cache=cache_dir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(message), result.stderr[-2000:]
    assert_nothing_recorded(tmp_path)


@pytest.mark.slow
def test_a_teacher_with_other_labels_is_refused(tmp_path, cache_dir):
    teacher = save_classifier(tmp_path / "teacher", ["negative", "positive"], cache_dir)
    result = run_cli("model=tiny_bert", *TINY_DATA, "strategy=distill", f"distill.teacher={teacher}", cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 2
    assert "the teacher's labels ['negative', 'positive'] differ from the task's ['rotten', 'fresh']" in result.stderr
    assert_nothing_recorded(tmp_path)


@pytest.mark.slow
def test_a_grid_of_distillation_and_augmentation_runs_every_combination(tmp_path, cache_dir):
    teacher = save_classifier(tmp_path / "teacher", ["rotten", "fresh"], cache_dir)
    result = run_cli(
        "-m", "strategy=full,distill", "augment=none,tokens", "model=tiny_bert", *TINY_DATA, "trainer.max_epochs=2",
        f"distill.teacher={teacher}", cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    combos = sorted((run.data.tags["strategy"], run.data.params["augment.name"], run.data.tags["state"]) for run in children)
    assert combos == [(s, a, "finished") for s in ("distill", "full") for a in ("none", "tokens")]


@pytest.mark.slow
def test_a_kept_run_teaches_by_its_uri_or_by_its_model_name_one_teacher_per_sweep(tmp_path, cache_dir):
    """Regression (one teacher per sweep): a model name was resolved inside each job, so a grid's full job
    that kept its model before the grid's distill job became that job's teacher. Now the name is resolved
    as of the sweep's start and pinned on its parent."""
    from mlflow.tracking import MlflowClient

    fp32 = "trainer.precision=32-true"  # the teacher's logits are computed in float32
    result = run_cli("model=tiny_bert", *TINY_DATA, "trainer.max_epochs=2", fp32, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    _, (teacher_run,) = all_runs(tmp_path)
    assert teacher_run.data.tags["model.kept"] == "true"
    uri = f"runs:/{teacher_run.info.run_id}/model"
    # the teacher scores worst of all: any model the grid keeps would win a lookup made during the grid
    MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}").log_metric(teacher_run.info.run_id, "best_val/acc", -1.0)

    result = run_cli(
        "-m", "strategy=full,distill", f"distill.teacher=tiny_bert,{uri}", "model=tiny_bert", *TINY_DATA, fp32, cwd=tmp_path,
        cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    (parent,) = [run for run in runs if run.data.tags.get("sweep.kind") == "grid"]
    kept_in_grid = [run for run in children if run.data.tags["strategy"] == "full"]
    assert len(kept_in_grid) == 2 and all(run.data.tags["model.kept"] == "true" for run in kept_in_grid)
    students = [run for run in children if run.data.tags["strategy"] == "distill"]
    # both students learn from the run kept before the grid, and the name's run is on record (tag and param)
    assert sorted(run.data.tags["distill.teacher"] for run in students) == [uri, "tiny_bert"]
    assert [run.data.tags.get("distill.teacher_run", uri) for run in students] == [uri, uri]
    assert [run.data.params.get("distill.teacher_run", uri) for run in students] == [uri, uri]
    assert parent.data.tags["distill.teacher_pin.tiny_bert.rotten_tomatoes.val/acc.max"] == uri
    for run in students:
        # the reloaded teacher scores the test split as its own run did
        assert run.data.metrics["teacher_test_acc"] == pytest.approx(teacher_run.data.metrics["test/acc"], abs=1e-6)


def fake_teacher(labels: list[str]):
    """A teacher whose logits are a function of each row's ids: (sum, -sum); counts its forward passes."""
    import torch

    from sweep.pipeline.teacher import Teacher

    class Tokenizer:
        pad_token_id = 0

        def __call__(self, texts, **kwargs):
            return {"input_ids": [[101] + [len(word) for word in text.split()] + [102] for text in texts]}

        def get_vocab(self):
            return {"fake": 0}

    def forward(input_ids, attention_mask):
        total = (input_ids * attention_mask).sum(1).float()
        return torch.stack([total, -total], 1)

    return Teacher("fake", forward, Tokenizer(), labels, fingerprint="fake-teacher")


def test_teacher_logits_keep_rows_in_place_and_columns_in_the_tasks_order(tmp_path):
    import numpy as np

    from sweep.pipeline.teacher import label_order, teacher_logits

    teacher = fake_teacher(["fresh", "rotten"])
    columns = label_order(teacher, ["rotten", "fresh"])
    assert columns == [1, 0]
    texts = [" ".join("x" * (i % 7 + 1) for _ in range(i % 5 + 1)) for i in range(300)]  # lengths vary: sorted for batching
    logits, hit = teacher_logits(teacher, texts, np.zeros(300, np.int64), columns, 64, 32, tmp_path)
    expected = np.array([203 + sum(len(word) for word in text.split()) for text in texts], np.float32)
    assert not hit and teacher.batches_run == 10
    assert np.array_equal(logits[:, 1], expected) and np.array_equal(logits[:, 0], -expected)  # rotten is the teacher's column 1
    again, hit = teacher_logits(teacher, texts, np.zeros(300, np.int64), columns, 64, 32, tmp_path)
    assert hit and teacher.batches_run == 10 and np.array_equal(again, logits)


def test_per_row_extras_stay_with_their_rows_through_every_training_loader():
    import numpy as np

    from sweep.config.schema import AugmentConfig
    from sweep.data.augment import AUGMENTERS
    from sweep.data.loaders import train_loader
    from sweep.data.tokens import TokenizedSplit

    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 50, size=rng.integers(3, 30)).tolist() for _ in range(200)]
    split = TokenizedSplit.from_rows(rows, np.arange(200), "k")  # label = row index
    extras = {"task": np.arange(200) % 3, "teacher_logits": np.stack([np.arange(200), -np.arange(200)], 1).astype(np.float32)}

    class Tokenizer:
        all_special_ids, mask_token_id = [0], 1

    augment = AUGMENTERS.get("tokens").make(AugmentConfig(name="tokens"), Tokenizer(), split, 0, 64)
    loaders = {
        "length-grouped": train_loader(split, 16, 0, 0, extras),
        "temperature": train_loader(split, 16, 0, 0, extras, weights=np.linspace(1, 2, 200)),
        "augmented": train_loader(split, 16, 0, 0, extras, augmenter=augment),
    }
    for name, loader in loaders.items():
        for batch in loader:
            rows_of_batch = batch["labels"]
            assert (batch["task"] == rows_of_batch % 3).all(), name
            assert (batch["teacher_logits"][:, 0] == rows_of_batch.float()).all(), name
