"""The arms of ``select.method=halving``: every candidate x strategy as the config of the ``sweep.run`` job that
trains it, ``python -m sweep.run model=<candidate> strategy=<strategy>`` on the select's task, tracking and paths,
with a budget in optimizer steps instead of epochs.

Composed from conf/config.yaml by Hydra's compose API, so a strategy's own defaults (LoRA's lr 3e-3, the feature
strategy's) are those a user's job gets, and checked whole by sweep.pipeline.validate before anything loads: a
strategy the candidate's family (or the task type) refuses is one line naming ``select.strategy`` (or
``select.strategies``), exit 2, nothing recorded.
"""

from __future__ import annotations

import copy

from omegaconf import DictConfig, OmegaConf, open_dict

from sweep.config.errors import ConfigError

ARM_KIND = "halving"  # sweep.kind of an arm's run: a short fine-tune, not a result to compare with (sweep/select/finetuned.py)


def strategies_of(select) -> tuple[str, list[str]]:
    """The config key that named the strategies, and the strategies."""
    if select.strategies is not None:
        return "select.strategies", list(select.strategies)
    return "select.strategy", [select.strategy]


def compose_job(overrides: list[str]) -> DictConfig:
    """conf/config.yaml with ``overrides``, as ``python -m sweep.run`` composes it (inside the select's Hydra app,
    whose search path is conf/ too, or from a test)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=overrides)
    from sweep.config.groups import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides)


def arm_configs(root, plain: dict, models: dict[str, dict]) -> dict[tuple[str, str], DictConfig]:
    """(candidate, strategy) -> its job's config at round 0's budget, each validated; raises ConfigError.
    ``models``: each candidate's model node (select_config.model_node), in the order given."""
    from sweep.config.groups import CONF, group_options
    from sweep.pipeline.validate import validate

    key, strategies = strategies_of(root.select)
    known = group_options("strategy", [CONF]) or []
    unknown = [name for name in strategies if name not in known]
    if unknown:
        value = strategies if key == "select.strategies" else strategies[0]
        raise ConfigError(key, f"unknown strategy {', '.join(unknown)}; choose from {', '.join(known)}", value)
    arms = {}
    for strategy in strategies:
        composed = compose_job([f"strategy={strategy}"])
        for model, node in models.items():
            cfg = copy.deepcopy(composed)
            with open_dict(cfg):
                cfg.model = copy.deepcopy(node)
                for node in ("task", "paths", "tracking", "seed"):
                    cfg[node] = copy.deepcopy(plain[node])
            cfg = with_budget(cfg, root.select.min_steps, 0)
            try:
                validate(cfg)
            except ConfigError as error:
                value = strategies if key == "select.strategies" else strategy
                why = error.message if error.key == "strategy" else str(error)
                raise ConfigError(key, f"candidate {model} x strategy {strategy}: {why}", value) from None
            arms[(model, strategy)] = cfg
    return arms


def arm_name(model: str, strategy: str) -> str:
    return f"{model}-{strategy}"


def with_budget(cfg: DictConfig, steps: int, round_number: int) -> DictConfig:
    """The arm's job for one round: ``steps`` optimizer steps (epochs enough to reach them, no early stopping,
    so every arm of a round gets the same budget), named after the round, no kept model."""
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.trainer.max_steps = steps
        cfg.trainer.max_epochs = steps  # an epoch has at least one step: max_steps decides
        cfg.trainer.early_stopping_patience = None
        cfg.tracking.run_name = f"halving-r{round_number}-{arm_name(cfg.model.name, cfg.strategy.name)}"
        cfg.tracking.save_model = "never"
    return cfg


def overrides_of(cfg: DictConfig) -> str:
    """The command that trains the same job by itself (for the run's tag and the docs)."""
    return (
        f"python -m sweep.run model={cfg.model.name} strategy={cfg.strategy.name} task={cfg.task.name} "
        f"task.train_size={OmegaConf.select(cfg, 'task.train_size')} trainer.max_steps={cfg.trainer.max_steps} "
        f"trainer.max_epochs={cfg.trainer.max_epochs} trainer.early_stopping_patience=null"
    )
