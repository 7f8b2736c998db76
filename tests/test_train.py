"""Training: when it validates, which precision it uses, and what it reports from the best step."""

import pytest
import pytorch_lightning as pl

# 72 rows in batches of 8: 9 optimizer steps an epoch
NINE_STEPS = ["model=tiny_bert", "task.train_size=72", "task.val_size=32", "task.test_size=32", "optim.batch_size=8"]
NO_STOP = ["trainer.early_stopping_patience=null"]


class ValidationSteps(pl.Callback):
    """Records the optimizer step of every validation."""

    def __init__(self):
        self.steps = []

    def on_validation_end(self, trainer, pl_module):
        self.steps.append(trainer.global_step)


def test_validation_is_spread_over_the_budget_and_comes_at_its_end(job_config):
    """Regression: Lightning validated at steps 2, 4, 6, 8 of 9 and never after the last step."""
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    recorder = ValidationSteps()
    result = train(build(job_config(*NINE_STEPS, *NO_STOP, "trainer.val_check_interval=0.25")), callbacks=[recorder])
    assert recorder.steps == [2, 5, 7, 9]
    assert result.steps == 9


def test_validation_plan_puts_trials_of_different_lengths_on_one_scale():
    from lightning_modules.validation import ValidationPlan

    short, long = ValidationPlan.for_budget(32, 1, -1, 0.25), ValidationPlan.for_budget(63, 1, -1, 0.25)
    assert short.steps == [8, 16, 24, 32] and long.steps == [16, 32, 47, 63]
    assert [short.progress(s) for s in short.steps] == [long.progress(s) for s in long.steps] == [250, 500, 750, 1000]
    feature = ValidationPlan.for_budget(63, 10, -1, 0.25)  # 10 epochs: 40 validations, quarters still line up
    assert {250, 500, 750, 1000} <= {feature.progress(s) for s in feature.steps}
    assert ValidationPlan.for_budget(8, 3, 5, 1.0).steps == [5]  # max_steps caps the budget; validation at its end


def test_bf16_trains_with_gradient_clipping_and_records_itself(job_config):
    """Regression: Lightning's mixed precision refused to clip the fused AdamW at the first step."""
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    job = job_config(*NINE_STEPS, *NO_STOP, "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=0.5", "trainer.max_steps=3")
    result = train(build(job))
    assert result.precision == "bf16-mixed" and result.steps == 3


def test_clipping_can_be_turned_off(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    job = job_config(*NINE_STEPS, "trainer.gradient_clip_val=null", "trainer.max_steps=2")
    assert job.root.trainer.gradient_clip_val is None
    assert train(build(job)).steps == 2


@pytest.mark.parametrize(
    "flags, cuda, expected",
    [({"avx512_bf16", "avx512f"}, False, "bf16-mixed"), ({"amx_bf16"}, False, "bf16-mixed"), ({"avx2", "avx512f"}, False, "32-true"),
     (set(), False, "32-true"), ({"avx2"}, True, "bf16-mixed")],
)  # fmt: skip
def test_auto_precision_reads_the_hardware(monkeypatch, flags, cuda, expected):
    import torch

    import sweep.runtime.hardware as hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hardware.resolve_precision("auto", "auto") == expected
    assert hardware.resolve_precision("32-true", "auto") == "32-true"  # an explicit choice is kept
    assert hardware.resolve_precision("auto", "cpu") == ("bf16-mixed" if flags & {"avx512_bf16", "amx_bf16"} else "32-true")


def test_auto_precision_takes_no_emulated_bf16_on_a_gpu(monkeypatch):
    """A V100 or T4 emulates bf16, slower than fp32: torch's is_bf16_supported() says True there unless asked for native."""
    import torch

    import sweep.runtime.hardware as hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert hardware.resolve_precision("auto", "gpu") == "32-true"


def test_every_validation_metric_is_reported_at_the_best_step(job_config):
    """Secondary objectives come from the step whose weights are kept and tested, not the last one."""
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    result = train(build(job_config(*NINE_STEPS, *NO_STOP, "trainer.val_check_interval=0.25", "optim.lr=3e-3", "trainer.max_epochs=2")))
    assert result.at_best["val/acc"] == result.monitored
    assert {"val/acc", "val/f1", "val/loss"} <= set(result.at_best)


def test_a_feature_job_trains_alike_whether_its_features_were_cached_or_computed(job_config, tmp_path):
    """Regression: a cache miss iterated DataLoaders, which draw from the global generator: the head's dropout
    then drew otherwise, and the same job gave another result on a fresh cache (val/acc 0.58 vs 0.59)."""
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    fresh = [f"paths.cache_dir={tmp_path / 'features'}", "strategy=feature", "trainer.precision=32-true", "trainer.max_steps=6"]
    computed = build(job_config(*NINE_STEPS, *fresh))
    assert computed.timings["feature_cache_hits"] == 0
    first = train(computed).metrics
    cached = build(job_config(*NINE_STEPS, *fresh))
    assert cached.timings["feature_cache_hits"] == 3
    assert train(cached).metrics["test/loss"] == first["test/loss"]
