"""Config validation: every bad value is a ConfigError naming its key, before anything loads."""

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import compose

BAD_VALUES = [
    (["optim.lr=0"], "optim.lr"),
    (["optim.lr=-1e-3"], "optim.lr"),
    (["optim.warmup_ratio=1.5"], "optim.warmup_ratio"),
    (["optim.scheduler=step"], "optim.scheduler"),
    (["optim.layer_decay=0"], "optim.layer_decay"),
    (["optim.batch_size=0"], "optim.batch_size"),
    (["task.train_size=-5"], "task.train_size"),
    (["task.val_size=-1"], "task.val_size"),
    (["task.test_size=-100"], "task.test_size"),
    (["task.val_size=0"], "task.val_size"),
    (["task.max_length=2"], "task.max_length"),
    (["trainer.max_epochs=0"], "trainer.max_epochs"),
    (["trainer.val_check_interval=0"], "trainer.val_check_interval"),
    (["trainer.precision=8bit"], "trainer.precision"),
    (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val"),
    (["trainer.mode=up"], "trainer.mode"),
    (["model.family=rnn"], "model.family"),
    (["model.pooling=max"], "model.pooling"),
    (["model.dropout=1.0"], "model.dropout"),
    (["optim.lr=abc"], "optim.lr"),
    (["strategy=partial", "strategy.freeze_depth=-1"], "strategy.freeze_depth"),
    (["strategy=lora", "strategy.r=0"], "strategy.r"),
    (["strategy=prompt", "strategy.num_virtual_tokens=0"], "strategy.num_virtual_tokens"),
    (["strategy.name=nope"], "strategy.name"),
    (["augment=tokens", "augment.p_mask=1.01"], "augment.p_mask"),
    (["augment=tokens", "augment.p_delete=-0.5"], "augment.p_delete"),
    (["augment=tokens", "augment.p_swap=2"], "augment.p_swap"),
    (["augment=tokens", "augment.p_insert=abc"], "augment.p_insert"),
    (["strategy=feature", "augment=tokens"], "augment"),
]


@pytest.mark.parametrize("overrides, key", BAD_VALUES)
def test_bad_value_names_its_key(overrides, key):
    from sweep.pipeline.validate import validate

    with pytest.raises(ConfigError) as error:
        validate(compose(*overrides))
    assert str(error.value).startswith(key), str(error.value)


def test_unknown_strategy_lists_known_names():
    from sweep.pipeline.validate import validate

    known = "adalora, bitfit, distill, feature, full, ia3, lit, ln_tuning, loha, lokr, lora, partial, prefix, prompt, ptuning, vera"
    with pytest.raises(ConfigError, match=f"known: {known}"):
        validate(compose("strategy.name=nope"))


def test_defaults_are_valid_and_typed():
    from sweep.pipeline.validate import validate

    job = validate(compose())
    assert job.root.model.name == "minilm_l6"
    assert job.strategy.name == "full"
    assert job.root.optim.lr == pytest.approx(5e-5)


@pytest.mark.parametrize(
    "strategy, lr, epochs",
    [("full", 5e-5, 1), ("prompt", 3e-2, 1), ("lora", 3e-3, 1), ("feature", 3e-3, 10)],
)
def test_strategy_brings_its_own_defaults_and_the_command_line_wins(strategy, lr, epochs):
    from sweep.pipeline.validate import validate

    job = validate(compose(f"strategy={strategy}"))
    assert job.root.optim.lr == pytest.approx(lr)
    assert job.root.trainer.max_epochs == epochs
    assert validate(compose(f"strategy={strategy}", "optim.lr=1e-3")).root.optim.lr == pytest.approx(1e-3)
