"""A search plan is fully checked before any storage or tracking store is touched."""

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import compose


def plan(*overrides, arguments=()):
    from sweep.search.plan import plan_search

    return plan_search(compose("search=optuna", *overrides), list(arguments))


def test_default_plan(tmp_path):
    p = plan(f"paths.output_dir={tmp_path}")
    assert set(p.base) == {"optim.lr", "optim.warmup_ratio"}
    assert p.storage_url == f"sqlite:///{tmp_path}/optuna/{p.study_name}.db"
    assert p.study_name.startswith("rotten_tomatoes-minilm_l6-full-")
    assert p.job_overrides == ["trainer.monitor=val/acc", "trainer.mode=max"]
    assert not (tmp_path / "optuna").exists()  # nothing created yet


def test_same_command_same_study_and_budget_changes_keep_it(tmp_path):
    a = plan(f"paths.output_dir={tmp_path}", arguments=["search=optuna", "search.n_trials=5"])
    b = plan(f"paths.output_dir={tmp_path}", arguments=["search=optuna", "search.n_trials=50"])
    c = plan(f"paths.output_dir={tmp_path}", arguments=["search=optuna", "task.train_size=100"])
    assert a.study_name == b.study_name != c.study_name


def test_choices_over_groups_and_strategy_spaces(tmp_path):
    p = plan(
        f"paths.output_dir={tmp_path}", arguments=["search.space.strategy=choice(full,partial,prompt,lora)", "model=minilm_l6,minilm_l3"]
    )
    assert {param.key for param in p.choices} == {"strategy", "model"}
    assert p.searches_strategy and "strategy.freeze_depth" in p.strategy_spaces["partial"]
    assert "strategies" in p.study_name and "models" in p.study_name


def test_choices_over_groups_in_yaml_are_chosen_first(tmp_path):
    """search.space.model: {choices: [...]} (experiment=nightly) means what model=a,b means: the
    strategy, chosen first, brings its own space, and an enqueued {model, strategy} fixes both."""
    p = plan(f"paths.output_dir={tmp_path}", "experiment=nightly", "nightly.models=[tiny_bert,tiny_gpt2]", "nightly.strategies=[full,lora]")
    assert [(param.key, param.choices) for param in p.choices] == [("model", ("tiny_bert", "tiny_gpt2")), ("strategy", ("full", "lora"))]
    assert set(p.base) == {"optim.lr", "optim.warmup_ratio"} and p.searches_strategy


def test_pruners_start_at_the_first_validation(tmp_path):
    """Regression: hyperband and successive halving had min_resource=1, passed by every report."""
    from sweep.search.pruners import pruner_for

    p = plan(f"paths.output_dir={tmp_path}")  # search=optuna validates 4 times in the default 1 epoch
    assert p.first_report == 250
    assert plan(f"paths.output_dir={tmp_path}", "trainer.max_epochs=2").first_report == 125
    hyperband = pruner_for(plan(f"paths.output_dir={tmp_path}", "search.pruner=hyperband").search, p.first_report)
    assert hyperband._min_resource == 250 and hyperband._max_resource == 1000
    median = pruner_for(p.search, p.first_report)
    assert median._n_warmup_steps == 500 and median._n_startup_trials == 4


def test_multi_objective_does_not_touch_the_monitor(tmp_path):
    p = plan(f"paths.output_dir={tmp_path}", "search.metrics=[val/acc,params_trainable]", "search.directions=[maximize,minimize]")
    assert p.search.multi_objective and p.monitor == "val/acc"


@pytest.mark.parametrize(
    "overrides, arguments, message",
    [
        (["search.sampler=bayes"], [], "search.sampler=bayes: unknown name; known: cmaes, grid, nsgaii, random, tpe"),
        (["search.pruner=early"], [], "search.pruner=early: unknown name; known: hyperband, median, none, successive_halving"),
        (["search.n_trials=0"], [], "search.n_trials=0: must be >= 1"),
        (
            ["search.metrics=[val/accuracy]"],
            [],
            "search.metrics=['val/accuracy']: ['val/accuracy'] never logged by a job of task.type=classification; logged: train/loss",
        ),
        (
            ["search.metrics=[val/acc,train_time_s]", "search.directions=[maximize]"],
            [],
            "search.directions=['maximize']: 1 direction(s) for 2 metric(s)",
        ),
        (["search.metrics=[test/acc]"], [], "search.metrics=['test/acc']: 'test/acc' would tune on the test set"),
        (["search.metrics=[val/acc,test/f1]", "search.directions=[maximize,maximize]"], [], "'test/f1' would tune on the test set"),
        (["search.directions=[up]"], [], "search.directions=['up']: each must be one of maximize, minimize"),
        ([], ["search.space.optim.lr=interval(1e-3,1e-5)"], "search.space.optim.lr"),
        ([], ["search.space.strategy=choice(full,zap)"], "unknown strategies ['zap']"),
        (
            ["search.storage=postgresql://u:secret@127.0.0.1:9/optuna"],
            [],
            "search.storage=postgresql://u:***@127.0.0.1:9/optuna: cannot connect",
        ),
        (["search.storage=redis://x"], [], "search.storage=redis://x: unknown storage"),
        (["search.sampler=grid"], [], "search.space.optim.lr: the grid sampler needs choices"),
    ],
)
def test_bad_search_input(tmp_path, overrides, arguments, message):
    with pytest.raises(ConfigError) as error:
        plan(f"paths.output_dir={tmp_path}", *overrides, arguments=arguments)
    assert message in str(error.value)
    assert "secret" not in str(error.value)
    assert not (tmp_path / "optuna").exists()


def test_a_multi_task_search_may_optimise_one_sub_task(tmp_path):
    multi = ("task=multi", "task.tasks=[rotten_tomatoes,rotten_subjectivity]")
    p = plan(f"paths.output_dir={tmp_path}", *multi, "search.metrics=[val/rotten_subjectivity/f1]")
    assert p.job_overrides == ["trainer.monitor=val/rotten_subjectivity/f1", "trainer.mode=max"]
    with pytest.raises(ConfigError, match="'val/nope/f1' is never logged by a job"):
        plan(f"paths.output_dir={tmp_path}", *multi, "search.metrics=[val/nope/f1]")
    with pytest.raises(ConfigError, match="'val/rotten_tomatoes/acc' is never logged by a job"):  # not a multi-task job
        plan(f"paths.output_dir={tmp_path}", "search.metrics=[val/rotten_tomatoes/acc]")


def test_a_strategys_own_space_from_the_command_line_and_its_keys_checked(tmp_path):
    from sweep.search.plan import plan_search

    searched = ["search.space.strategy=choice(full,lora)", "search.strategy_spaces.lora.strategy.r=choice(4,8)"]
    config = compose("search=optuna", f"paths.output_dir={tmp_path}")
    p = plan(f"paths.output_dir={tmp_path}", arguments=searched)
    assert p.strategy_spaces["lora"]["strategy.r"].choices == (4, 8) and "search.strategy_spaces.lora.strategy.r" not in p.base
    typo = ["search.space.strategy=choice(full,lora)", "search.strategy_spaces.lora.strategy.rr=choice(4,8)"]
    with pytest.raises(ConfigError) as refusal:
        plan_search(config, typo, compose=lambda extra: compose("search=optuna", f"paths.output_dir={tmp_path}", *extra))
    assert refusal.value.key == "search.strategy_spaces.lora.strategy.rr" and "did you mean strategy.r?" in str(refusal.value)
    with pytest.raises(ConfigError, match="search.space.optim.lrr: is searched"):  # named as typed
        plan(f"paths.output_dir={tmp_path}", arguments=["search.space.optim.lrr=interval(1e-5,1e-3)"])


def test_the_keys_of_each_searched_strategy_are_checked_in_the_commands_own_config(tmp_path):
    """Regression: another strategy's trial config was composed from the config files alone (as Hydra's
    load_sweep_config composes, without the command's plain overrides), so a key that only the command's model has
    (a dual encoder's model.lr_scale.vision) was refused as missing, with every strategy but the default."""
    from sweep.search.plan import plan_search

    command = [
        "task=tuxpaint_captions",
        "model=dual_encoder",
        "model.vision=tiny_vit",
        "model.text=tiny_bert",
        f"paths.output_dir={tmp_path}",
    ]
    searched = ["search.space.strategy=choice(full,lit,feature)", "search.space.model.lr_scale.vision=tag(log, interval(0.1, 10))"]
    config = compose("search=optuna", *command)
    p = plan_search(config, [*command, *searched], compose=lambda extra: compose("search=optuna", *extra))
    assert "model.lr_scale.vision" in p.base
