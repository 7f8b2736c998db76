"""The cost estimate (sweep/pipeline/cost.py) counts what each strategy really computes, on tiny models."""

import math

import pytest

from tests.conftest import TINY_DATA

OVERRIDES = {"partial": ["strategy.freeze_depth=1"], "prompt": ["strategy.num_virtual_tokens=5"]}


@pytest.mark.parametrize("strategy", ["full", "partial", "lora", "prompt", "feature"])
def test_estimate_follows_the_strategy(job_config, strategy):
    from sweep.pipeline.build import build
    from sweep.pipeline.cost import estimate, parameter_counts

    built = build(job_config("model=tiny_llama", f"strategy={strategy}", *TINY_DATA, *OVERRIDES.get(strategy, [])))
    result = estimate(built, "32-true", "cpu")
    epochs = built.job.root.trainer.max_epochs
    assert result.steps == math.ceil(64 / built.job.root.optim.batch_size) * epochs
    total, trainable, above = parameter_counts(built.model)
    assert 0 < trainable <= above <= total
    tokens = built.loaders["train"].dataset.split.lengths.sum() if strategy != "feature" else None
    if strategy == "full":  # the textbook 6 N T, embedding lookups left out of N
        assert trainable == above == total and result.train_positions == pytest.approx(tokens * epochs, abs=1)
        assert result.train_flops == pytest.approx(6 * total * result.train_positions, rel=1e-6)
    if strategy == "partial":  # gradients stop at the lowest trainable block
        assert trainable == above < total
    if strategy in ("lora", "prompt"):  # adapters and prompts are trained through the whole frozen network
        assert above == total and trainable < total
    if strategy == "prompt":
        assert result.train_positions == pytest.approx((tokens + 5 * 64) * epochs, abs=1)
    if strategy == "feature":  # the head alone, one pooled vector per row
        assert result.train_positions == pytest.approx(64 * epochs, abs=1) and result.train_flops == 6 * trainable * result.train_positions
    assert result.seconds > 0 and result.full_step_seconds > 0 and "estimate.fit_seconds" in result.metrics()


def test_no_estimate_when_rows_do_not_say_their_length():
    from sweep.pipeline.cost import positions_per_row

    class Unknown:  # a dataset type the estimate does not know
        pass

    assert positions_per_row(Unknown()) is None


def test_an_image_row_is_a_vits_patches_and_its_cls_token(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.cost import estimate

    built = build(job_config("model=tiny_vit", "task=digits", "task.train_size=64", "task.val_size=32", "task.test_size=32"))
    result = estimate(built, "32-true", "cpu")
    steps = len(built.loaders["train"])  # 1 epoch, 28x28 images in 7x7 patches: 16 + CLS
    assert result.train_positions == 64 * 17 and result.steps == steps
