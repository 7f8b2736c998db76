"""The report's settings (conf/report.yaml): composed by Hydra's compose API, checked by dataclasses
before any store is opened, so a bad value is one line naming its key (exit 2) and nothing is written."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

from sweep.config.errors import ConfigError, require
from sweep.config.schema import SEARCH_CONSTRAINTS, PathsConfig, TrackingConfig
from sweep.report.costs import COSTS

LIMIT_FIELDS = {"share": "max_trainable_share", "time": "max_train_s", "memory": "max_memory_mb"}  # cost -> ReportConfig field


def positive(key: str, value: float | None, upper: float = math.inf) -> None:
    if value is not None:
        bound = f"in (0, {upper:g}]" if upper < math.inf else "> 0"
        require(math.isfinite(value) and 0 < value <= upper, key, value, f"must be {bound}, or null for no limit")


@dataclass
class ReportConfig:
    parent: Optional[str] = None
    study: Optional[str] = None
    task: Optional[str] = None
    metric: Optional[str] = None
    tolerance: float = 0.01
    confidence: float = 0.95
    resamples: int = 1000
    cost: str = "share"
    max_trainable_share: Optional[float] = None
    max_train_s: Optional[float] = None
    max_memory_mb: Optional[float] = None
    out: Optional[str] = None

    def __post_init__(self) -> None:
        if self.parent is not None and self.study is not None:
            raise ConfigError("report.study", "give report.parent or report.study, not both", self.study)
        require(math.isfinite(self.tolerance) and self.tolerance >= 0, "report.tolerance", self.tolerance, "must be >= 0")
        require(0 < self.confidence < 1, "report.confidence", self.confidence, "must be in (0, 1), e.g. 0.95")
        require(self.resamples == 0 or self.resamples >= 100, "report.resamples", self.resamples, "must be 0 (no intervals) or >= 100")
        require(self.cost in COSTS, "report.cost", self.cost, f"must be one of {', '.join(COSTS)}")
        positive("report.max_trainable_share", self.max_trainable_share, 1.0)
        positive("report.max_train_s", self.max_train_s)
        positive("report.max_memory_mb", self.max_memory_mb)
        if self.metric is not None:
            require(not self.metric.startswith("test/"), "report.metric", self.metric, "choosing on test/* would tune on the test set")

    @property
    def limits(self) -> dict[str, float]:
        """The constraints given, by cost name (costs.py)."""
        given = {"share": self.max_trainable_share, "time": self.max_train_s, "memory": self.max_memory_mb}
        return {name: value for name, value in given.items() if value is not None}


def cost_of_constraint(name: str) -> str | None:
    """The report's cost (costs.py) that a search constraint (search.constraints.<name>) bounds: the same run metric."""
    metric = SEARCH_CONSTRAINTS.get(name)
    return next((cost.name for cost in COSTS.values() if cost.metric == metric), None)


def with_search_limits(config: ReportConfig, search_limits: dict[str, float], where: str) -> tuple[ReportConfig, dict[str, str]]:
    """The limits the report applies, and where each came from (by cost name): the user's own report.max_* first; for
    each one not given, the search's constraint on the same cost (``search_limits``: by constraint name, as its parent
    run recorded them; ``where``: that run, in words)."""
    origins = {name: COSTS[name].limit_key for name in config.limits}
    filled = {}
    for constraint, limit in search_limits.items():
        cost = cost_of_constraint(constraint)
        if cost is None or cost in config.limits or cost in filled:
            continue
        filled[cost] = limit
        origins[cost] = f"search.constraints.{constraint} of {where}"
    if not filled:
        return config, origins
    return replace(config, **{LIMIT_FIELDS[cost]: limit for cost, limit in filled.items()}), origins


@dataclass
class ReportSettings:
    report: ReportConfig = field(default_factory=ReportConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def resolve(overrides: list[str]) -> ReportSettings:
    """conf/report.yaml with the user's overrides, typed and checked; touches no store."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from sweep.config.groups import CONF, check_group_choices
    from sweep.config.schema import typed

    for arg in overrides:
        if arg.startswith("-"):
            raise ConfigError("arguments", "only key=value overrides (python -m sweep.report --help)", arg)
    check_group_choices(overrides)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("report", overrides=overrides)
    return typed(ReportSettings, OmegaConf.to_container(cfg, resolve=True))
