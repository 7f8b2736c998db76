"""Every searched key must be a key of the job's config, checked before the study is touched.

A typo in a plain override (``optim.lrr=1e-3``) is one line, exit 2, from Hydra. A searched one
(``optim.lrr='interval(1e-5,1e-3)'``, a key of ``search.space`` or ``search.strategy_spaces.<name>``)
would only surface trial by trial, at each trial's composition: every trial failed, the budget spent,
exit 1. So each searched key is looked up in the config every trial of that strategy composes; a key of a
strategy's own space in that strategy's config (``strategy.r`` exists under lora only).
"""

from __future__ import annotations

import difflib
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from sweep.config.errors import ConfigError

ABSENT = object()


def where_named(key: str, strategy: str | None, from_command_line: dict[str, str]) -> str:
    """The key as the user wrote it, for the error."""
    if strategy is not None:
        return f"search.strategy_spaces.{strategy}.{key}"
    return from_command_line.get(key, f"search.space.{key}")


def near_keys(config: DictConfig, key: str) -> str:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(config, parent, default=None) if parent else config
    if not isinstance(node, DictConfig):
        return f"{parent or 'the config'} has no keys"
    siblings = [str(name) for name in node.keys()]
    close = difflib.get_close_matches(leaf, siblings, n=1)
    hint = f"did you mean {parent + '.' if parent else ''}{close[0]}? " if close else ""
    return f"{hint}keys under {parent or 'the root'}: {', '.join(sorted(siblings))}"


def check_searched_keys(
    config: DictConfig,
    base: dict,
    strategy_spaces: dict[str, dict],
    strategies: list[str],
    default_strategy: str,
    from_command_line: dict[str, str],  # searched key -> as typed on the command line
    compose: Callable[[list[str]], DictConfig] | None,
) -> None:
    """``strategies``: those the search can run. ``compose(overrides)``: a trial's config with those
    overrides (None: only the default strategy is checked, on ``config``)."""
    for strategy in strategies:
        if strategy == default_strategy:
            composed = config
        elif compose is None:
            continue
        else:
            composed = compose([f"strategy={strategy}"])
        own = strategy_spaces.get(strategy, {})
        for key in [*base, *own]:
            if key.startswith(("+", "~")):  # added or deleted on purpose
                continue
            if OmegaConf.select(composed, key, default=ABSENT, throw_on_missing=False) is ABSENT:
                named = where_named(key, strategy if key in own else None, from_command_line)
                where = f" (strategy={strategy})" if len(strategies) > 1 or key in own else ""
                raise ConfigError(named, f"is searched, but the job's config{where} has no key {key}: {near_keys(composed, key)}")
