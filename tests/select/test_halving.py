"""Successive halving with a fake trainer on constructed values (the right arms survive each round, budgets grow
by eta), and select.method=halving's config checks (one line naming the key, before anything loads)."""

from __future__ import annotations

import pytest

from sweep.config.errors import ConfigError
from sweep.select.halving import Outcome, budget, kept, successive_halving


class FakeTrainer:
    """Values by (arm, steps): each arm's curve; records every call."""

    def __init__(self, curves: dict, fail: tuple = ()):
        self.curves, self.fail, self.calls = curves, fail, []

    def __call__(self, arm, round_number, steps):
        self.calls.append((arm, round_number, steps))
        if arm in self.fail:
            raise RuntimeError(f"{arm} broke")
        return Outcome(self.curves[arm](steps), run_id=f"run-{arm}-{round_number}")


def test_kept_and_budgets():
    assert [kept(n, 2) for n in (1, 2, 3, 4, 5, 8)] == [1, 1, 2, 2, 3, 4]
    assert [kept(n, 3) for n in (1, 2, 3, 4, 9, 10)] == [1, 1, 1, 2, 3, 4]
    assert [budget(16, 2, r) for r in range(4)] == [16, 32, 64, 128]
    assert [budget(10, 3, r) for r in range(3)] == [10, 30, 90]


def test_the_best_half_survives_each_round_and_budgets_grow_by_eta():
    # a and b start best, b's curve is flat; c learns but not enough; d and e are out after round 0
    curves = {
        "a": lambda s: {16: 0.80, 32: 0.81, 64: 0.82}[s],
        "b": lambda s: 0.79,
        "c": lambda s: {16: 0.70, 32: 0.78}[s],  # asked for 64 steps it would fail: it must not be
        "d": lambda s: {16: 0.60}[s],
        "e": lambda s: {16: 0.50}[s],
    }
    trainer = FakeTrainer(curves)
    result = successive_halving(list("abcde"), trainer, min_steps=16, eta=2)
    assert result.budgets == [16, 32, 64]
    assert [[(t.arm, t.steps) for t in trials] for trials in result.rounds] == [
        [("a", 16), ("b", 16), ("c", 16), ("d", 16), ("e", 16)],
        [("a", 32), ("b", 32), ("c", 32)],  # ceil(5 / 2) = 3 kept
        [("a", 64), ("b", 64)],  # ceil(3 / 2) = 2 kept
    ]
    assert result.survivors == [["a", "b", "c"], ["a", "b"], ["a"]]
    assert result.stopped == "one arm left"
    # ranking: by the round reached, then the value of that round
    assert [(p.arm, p.reached, p.value) for p in result.ranking] == [
        ("a", 2, 0.82),
        ("b", 2, 0.79),
        ("c", 1, 0.78),
        ("d", 0, 0.60),
        ("e", 0, 0.50),
    ]
    assert result.best.arm == "a" and all(t.state == "finished" for trials in result.rounds for t in trials)
    assert trainer.calls == [(t.arm, t.round, t.steps) for trials in result.rounds for t in trials]
    assert result.rounds[1][0].run_id == "run-a-1" and result.seconds >= 0


def test_a_late_bloomer_wins_when_it_is_kept_long_enough():
    """Frozen-like early values put l3 first; at twice the budget l6 overtakes it and wins."""
    curves = {"l3": lambda s: 0.70 if s == 8 else 0.72, "l6": lambda s: 0.66 if s == 8 else 0.76, "rand": lambda s: 0.5}
    result = successive_halving(["l3", "l6", "rand"], FakeTrainer(curves), min_steps=8, eta=2)
    assert result.survivors == [["l3", "l6"], ["l6"]]
    assert [p.arm for p in result.ranking] == ["l6", "l3", "rand"]
    assert result.budgets == [8, 16]


def test_eta_3_min_mode_and_rounds_limit():
    # a lower value is better (a loss, an RMSE)
    curves = {name: (lambda v: lambda s: v / s)(value) for name, value in zip("abcdefghi", [9, 1, 8, 2, 7, 3, 6, 4, 5])}
    trainer = FakeTrainer(curves)
    result = successive_halving(list("abcdefghi"), trainer, min_steps=4, eta=3, mode="min")
    assert result.budgets == [4, 12]
    assert result.survivors == [["b", "d", "f"], ["b"]]
    assert [p.arm for p in result.ranking][:3] == ["b", "d", "f"]
    assert [p.arm for p in result.ranking][3:] == ["h", "i", "g", "e", "c", "a"]  # round 0, by value (lower first)

    limited = successive_halving(list("abcdefghi"), FakeTrainer(curves), min_steps=4, eta=2, rounds=2, mode="min")
    assert limited.budgets == [4, 8] and limited.stopped == "select.rounds=2 reached"
    assert len(limited.rounds[1]) == 5  # ceil(9 / 2) kept, then stopped: ranked by the second round's values
    assert [p.arm for p in limited.ranking][:5] == ["b", "d", "f", "h", "i"]


def test_a_failed_arm_is_ranked_last_and_never_kept():
    curves = {"a": lambda s: 0.6, "b": lambda s: 0.9, "c": lambda s: 0.7}
    result = successive_halving(["a", "b", "c"], FakeTrainer(curves, fail=("b",)), min_steps=2, eta=2)
    assert result.survivors[0] == ["c", "a"]
    assert result.ranking[-1].arm == "b" and result.ranking[-1].last.state == "failed"
    assert "RuntimeError: b broke" in result.ranking[-1].last.error


def test_every_arm_failing_stops_and_nan_counts_as_failed():
    result = successive_halving(["a", "b"], FakeTrainer({}, fail=("a", "b")), min_steps=2)
    assert result.stopped == "every arm of round 0 failed" and result.best.value is None
    nan = successive_halving(["a", "b"], FakeTrainer({"a": lambda s: float("nan"), "b": lambda s: 0.1}), min_steps=2)
    assert [p.arm for p in nan.ranking] == ["b", "a"] and nan.ranking[1].last.state == "failed"


def test_one_arm_is_trained_once():
    result = successive_halving(["a"], FakeTrainer({"a": lambda s: 0.5}), min_steps=16)
    assert result.budgets == [16] and result.stopped == "one arm trained" and result.best.arm == "a"


def test_an_interruption_goes_through():
    from sweep.runtime.signals import Interrupted

    def train(arm, round_number, steps):
        raise Interrupted(15)

    with pytest.raises(Interrupted):
        successive_halving(["a", "b"], train, min_steps=2)


def select_config(tmp_path, *overrides: str):
    from hydra import compose, initialize_config_dir

    from tests.conftest import CONF, TINY_DATA

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("select", overrides=[f"paths.output_dir={tmp_path}", *TINY_DATA, *overrides])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["select.method=nope"], "select.method=nope: must be one of scores, halving"),
        (["select.eta=1"], "select.eta=1: must be >= 2"),
        (["select.min_steps=0"], "select.min_steps=0: must be >= 1"),
        (["select.rounds=0"], "select.rounds=0: must be >= 1"),
        (["select.strategy=nope"], "select.strategy=nope: unknown strategy nope; choose from "),
        (["select.strategies=[lora,lora]"], "select.strategies=['lora', 'lora']: must not repeat a strategy"),
        (["select.strategies=[]"], "select.strategies=[]: needs at least one strategy"),
        (["select.method=scores", "scores=[]"], "scores=[]: needs at least one score"),
    ],
)
def test_bad_halving_input_names_the_key(tmp_path, overrides, message):
    from sweep.select.select_config import validate_select

    cfg = select_config(tmp_path, "candidates=[tiny_bert,tiny_gpt2]", "select.method=halving", *overrides)
    with pytest.raises(ConfigError) as raised:
        validate_select(cfg)
    assert str(raised.value).startswith(message), str(raised.value)


def refused_pair() -> tuple[str, str] | None:
    """A text candidate and a strategy its family refuses (None: every family runs every strategy)."""
    from sweep.models.families import FAMILIES
    from sweep.select.select_config import model_node

    for model in ("tiny_t5", "tiny_gpt2", "tiny_llama", "tiny_bert"):
        refuses = FAMILIES.get(model_node(model)["family"]).refuses
        if refuses:
            return model, sorted(refuses)[0]
    return None


def test_a_strategy_the_family_refuses_names_select_strategies(tmp_path):
    from sweep.select.select_config import validate_select

    pair = refused_pair()
    if pair is None:
        pytest.skip("no text family refuses a strategy")
    model, strategy = pair
    cfg = select_config(tmp_path, f"candidates=[tiny_bert,{model}]", "select.method=halving", f"select.strategies=[lora,{strategy}]")
    with pytest.raises(ConfigError) as raised:
        validate_select(cfg)
    text = str(raised.value)
    assert text.startswith(f"select.strategies=['lora', '{strategy}']: candidate {model} x strategy {strategy}: "), text
    assert "cannot run it" in text and "(allowed: " in text


def test_the_arms_are_sweep_run_jobs_with_a_step_budget(tmp_path):
    from sweep.pipeline.validate import validate
    from sweep.select.arms import with_budget
    from sweep.select.select_config import validate_select

    cfg = select_config(
        tmp_path, "candidates=[tiny_bert,tiny_gpt2]", "select.method=halving", "select.strategies=[lora,feature]", "scores=[]"
    )
    plan = validate_select(cfg)
    assert list(plan.arms) == [("tiny_bert", "lora"), ("tiny_gpt2", "lora"), ("tiny_bert", "feature"), ("tiny_gpt2", "feature")]
    assert plan.jobs == {}  # scores=[]: nothing featurised
    job = validate(with_budget(plan.arms[("tiny_gpt2", "lora")], 64, 2)).root
    assert (job.trainer.max_steps, job.trainer.early_stopping_patience, job.tracking.save_model) == (64, None, "never")
    assert job.tracking.run_name == "halving-r2-tiny_gpt2-lora" and job.optim.lr == pytest.approx(3e-3)  # LoRA's own lr
    assert job.task.train_size == 64 and job.model.name == "tiny_gpt2"
    feature = validate(with_budget(plan.arms[("tiny_bert", "feature")], 16, 0))
    assert feature.strategy.name == "feature" and feature.root.trainer.max_steps == 16
