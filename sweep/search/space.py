"""Search spaces: parameters from YAML dicts or from Hydra's sweep syntax, sampled define-by-run.

Two spellings, one meaning:

    search.space.optim.lr: {low: 1e-5, high: 3e-4, log: true}      # YAML (or a dict override)
    search.space.optim.lr='tag(log, interval(1e-5, 3e-4))'          # Hydra sweep syntax
    search.space.strategy='choice(full,partial,prompt,lora)'        # a choice over a config group
    model=minilm_l6,minilm_l3                                       # any sweep override is a choice too

``high: blocks`` bounds an integer by the chosen model's transformer block count (freeze depth).
A strategy's own space (``search.strategy_spaces.<name>``) is added when that strategy runs and
replaces base entries for the same key; when the strategy itself is searched, its parameters are
named ``<strategy>/<key>`` in Optuna, so each strategy keeps its own history (a conditional space).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from sweep.config.errors import ConfigError

BLOCKS = "blocks"  # placeholder bound: the model's block count


@dataclass(frozen=True)
class Param:
    key: str  # the config key (or group) the sampled value overrides
    kind: str  # float | int | categorical
    low: Any = None
    high: Any = None  # for int: a number or BLOCKS
    log: bool = False
    step: Any = None
    choices: tuple = ()

    def suggest(self, trial, name: str, blocks: Callable[[], int | None]) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            high = self.high
            if high == BLOCKS:
                high = blocks()
                if high is None:
                    raise ConfigError(f"search.space.{self.key}", "high: blocks needs a model whose block count its config tells")
            return trial.suggest_int(name, int(self.low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), step=self.step, log=self.log)

    def grid_values(self, key: str) -> list:
        """Every value, for the grid sampler."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int" and self.high != BLOCKS:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.kind == "float" and self.step:
            count = int(round((self.high - self.low) / self.step))
            return [self.low + i * self.step for i in range(count + 1)]
        raise ConfigError(key, "the grid sampler needs choices, integer ranges or float ranges with a step")


def _number(key: str, value: Any) -> float | int | str:
    if isinstance(value, str) and value == BLOCKS:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, "bounds must be numbers", value) from None


def param_from_dict(key: str, spec: Any, where: str) -> Param:
    """``{low, high, log?, step?}`` or ``{choices: [...]}`` (or a bare list of choices)."""
    name = f"{where}.{key}"
    if isinstance(spec, (list, tuple)):
        spec = {"choices": list(spec)}
    if not isinstance(spec, dict):
        raise ConfigError(name, "must be {low, high, log, step} or {choices: [...]}", spec)
    unknown = set(spec) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(name, f"unknown fields {sorted(unknown)}; allowed: low, high, log, step, choices", spec)
    if "choices" in spec:
        choices = tuple(spec["choices"])
        if not choices:
            raise ConfigError(name, "choices must not be empty", list(choices))
        return Param(key, "categorical", choices=choices)
    if "low" not in spec or "high" not in spec:
        raise ConfigError(name, "needs low and high (or choices)", spec)
    low, high = _number(name, spec["low"]), _number(name, spec["high"])
    step, log = spec.get("step"), bool(spec.get("log", False))
    integer = isinstance(low, int) and (isinstance(high, int) or high == BLOCKS) and (step is None or isinstance(step, int))
    param = Param(key, "int" if integer else "float", low=low, high=high if integer else float(high), log=log, step=step)
    check_range(name, param)
    return param


def check_range(name: str, param: Param) -> None:
    if param.kind == "categorical" or param.high == BLOCKS:
        if param.kind == "int" and param.low < 0:
            raise ConfigError(name, "low must be >= 0 with high: blocks", param.low)
        return
    if not param.low < param.high:
        raise ConfigError(
            name, f"empty or inverted range [{param.low}, {param.high}]: low must be below high", f"[{param.low}, {param.high}]"
        )
    if param.log and param.low <= 0:
        raise ConfigError(name, f"a log range needs low > 0, got {param.low}", f"[{param.low}, {param.high}]")
    if param.step is not None and param.log:
        raise ConfigError(name, "step and log cannot be combined", param.step)
    if param.step is not None and (param.step <= 0 or math.isnan(param.step)):
        raise ConfigError(name, "step must be > 0", param.step)


def param_from_override(override) -> Param:
    """Hydra sweep syntax: ``a,b``/``choice(...)``, ``range(a,b[,step])``, ``interval(a,b)``, ``tag(log, ...)``."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    key = override.key_or_group
    if key.startswith("search.space."):
        key = key[len("search.space.") :]
    name = f"search.space.{key}"
    sweep = override.value()
    if isinstance(sweep, ChoiceSweep):
        return Param(key, "categorical", choices=tuple(override.sweep_iterator()))
    if isinstance(sweep, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(name, "empty or inverted range", override.input_line)
        if all(isinstance(v, int) for v in values):
            step = int(sweep.step)
            param = Param(key, "int", low=values[0], high=values[-1], step=step if step != 1 else None)
            return param
        return Param(key, "categorical", choices=tuple(values))
    if isinstance(sweep, IntervalSweep):  # Hydra's intervals are always floats: integers use range()
        param = Param(key, "float", low=float(sweep.start), high=float(sweep.end), log="log" in sweep.tags)
        check_range(name, param)
        return param
    raise ConfigError(name, "unsupported sweep; use choice(), range(), interval() or tag(log, interval())", override.input_line)


def describe_params(params: dict) -> str:
    return "  ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in params.items())
