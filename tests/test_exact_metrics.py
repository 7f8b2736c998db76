"""Count-based metrics are recorded as the exact fraction: an accuracy of k of n rows reaches MLflow, best_*,
the test metrics and the job's outcome as float(k) / float(n) (float64), not as float32's 0.79000002."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import compose

# 31 and 29 rows: no k/n in (0, 1) is a float32 number, so a float32 value would read k/n +- a few 1e-9
TRAIN = ["model=tiny_bert", "task.train_size=64", "task.val_size=31", "task.test_size=29", "optim.batch_size=16", "optim.lr=1e-3"]
TRAIN += ["trainer.max_steps=4", "trainer.val_check_interval=0.5", "trainer.early_stopping_patience=null", "trainer.precision=32-true"]


def assert_exact_fraction(name: str, value: float, rows: int) -> None:
    k = round(value * rows)
    assert value == k / rows, f"{name}={value!r} is not {k}/{rows} = {k / rows!r}"


def test_classification_metrics_divide_their_counts_in_float64():
    from lightning_modules.objectives import classification_metrics

    torch.manual_seed(0)
    metrics = classification_metrics(3)
    logits, labels = torch.randn(31, 3), torch.randint(0, 3, (31,))
    metrics.update(logits, labels)
    values = metrics.compute()
    correct = int((logits.argmax(-1) == labels).sum())
    assert values["acc"].dtype == values["f1"].dtype == torch.float64
    assert values["acc"].item() == correct / 31
    assert metrics["acc"].tp.dtype == torch.int64  # the counts stay integers


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


def test_accuracies_reach_mlflow_as_exact_fractions(tmp_path, cache_dir, store):
    """Regression: val/acc, best_val/acc and test/acc read 0.7419354915618896 for 23/31 (float32 through a tensor)."""
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.job import JobContext, run_job

    paths = [f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", f"tracking.uri={store}", "tracking.save_model=never"]
    outcome = run_job(compose(*paths, *TRAIN), JobContext(multirun=False, parent_run_id=None, job_number=None))
    assert outcome.state == "finished", outcome
    client = MlflowClient(store)
    metrics = client.get_run(outcome.run_id).data.metrics
    val_rows, test_rows = int(metrics["data_val_rows"]), int(metrics["data_test_rows"])
    assert (val_rows, test_rows) == (31, 29)

    history = [m.value for m in client.get_metric_history(outcome.run_id, "val/acc")]
    assert len(history) == 2  # one per validation
    recorded = [("val/acc", value, val_rows) for value in history]
    recorded += [("best_val/acc", metrics["best_val/acc"], val_rows), ("test/acc", metrics["test/acc"], test_rows)]
    recorded += [("outcome val/acc", outcome.metrics["val/acc"], val_rows), ("outcome value", outcome.value, val_rows)]
    for name, value, rows in recorded:
        assert_exact_fraction(name, value, rows)
    assert metrics["best_val/acc"] == max(history) == outcome.value
    # the check has teeth: these fractions are not float32 numbers (nor is a float32 rounding of one exact)
    assert any(float(np.float32(value)) != value for _, value, _ in recorded)


def test_pretraining_accuracy_is_the_exact_fraction(tmp_path, cache_dir, monkeypatch):
    """Regression: LanguageModelingModule logged correct / count as a Python float, which Lightning made float32."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from lightning_modules.language_modeling import LanguageModelingModule
    from sweep.pretrain.pretrain_job import prepare
    from sweep.pretrain.pretrain_training import fit
    from tests.conftest import CONF

    totals = []
    log_metrics = LanguageModelingModule.log_metrics

    def recording(self, stage):
        if stage == "val":
            totals.append(tuple(self.totals[stage][1:]))  # (correct tokens, tokens), before they are reset
        log_metrics(self, stage)

    monkeypatch.setattr(LanguageModelingModule, "log_metrics", recording)
    # image classification: ten classes, so even a few steps get some of 31 right (token accuracy of a tiny
    # random language model is 0 of n, which float32 holds exactly)
    overrides = ["model=tiny_vit", "task=digits", "pretrain.objective=image_classification", "trainer.val_check_interval=1.0"]
    overrides += [f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", "task.train_size=64", "task.val_size=31"]
    overrides += ["trainer.max_steps=3", "optim.batch_size=16", "trainer.precision=32-true", "trainer.monitor=val/acc", "trainer.mode=max"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose("pretrain", overrides=overrides)
    prepared, _ = prepare(cfg)
    result = fit(prepared)
    assert len(totals) == 1
    correct, count = totals[0]
    assert count == 31 and 0 < correct < 31
    assert result.at_best["val/acc"] == result.monitored == result.metrics["best_val/acc"] == correct / count
