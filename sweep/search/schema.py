"""The ``search`` config group's schema: checked before any storage or tracking store is touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from sweep.errors import ConfigError, require

DIRECTIONS = ("maximize", "minimize")


@dataclass
class SearchConfig:
    study_name: Optional[str] = None  # null: derived from the command, so re-running it resumes
    storage: Optional[str] = None  # null: sqlite under paths.output_dir/optuna/; journal:<file>; postgresql://...
    n_trials: int = 12  # budget for the whole study, counted in the storage, shared by all workers
    n_jobs: int = 1  # trials in flight in this process (>1 needs a process launcher: joblib, submitit)
    sampler: str = "tpe"
    pruner: str = "median"
    seed: Optional[int] = 0
    metrics: List[str] = field(default_factory=lambda: ["val/acc"])
    directions: List[str] = field(default_factory=lambda: ["maximize"])
    max_failure_rate: float = 0.5  # stop when more of the finished trials than this failed
    sampler_options: Dict[str, Any] = field(default_factory=dict)  # passed to the Optuna sampler
    pruner_options: Dict[str, Any] = field(default_factory=dict)  # passed to the Optuna pruner
    heartbeat_interval: int = 30  # seconds between a running trial's heartbeats
    grace_period: int = 600  # a trial of another host without a heartbeat for this long is dead
    space: Dict[str, Any] = field(default_factory=dict)  # key -> {low, high, log, step} or {choices}
    strategy_spaces: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # strategy -> its own space

    def __post_init__(self) -> None:
        require(self.n_trials >= 1, "search.n_trials", self.n_trials, "must be >= 1")
        require(self.n_jobs >= 1, "search.n_jobs", self.n_jobs, "must be >= 1")
        require(0.0 < self.max_failure_rate <= 1.0, "search.max_failure_rate", self.max_failure_rate, "must be in (0, 1]")
        require(self.heartbeat_interval >= 1, "search.heartbeat_interval", self.heartbeat_interval, "must be >= 1")
        require(self.grace_period > self.heartbeat_interval, "search.grace_period", self.grace_period, "must exceed search.heartbeat_interval")
        require(len(self.metrics) >= 1, "search.metrics", self.metrics, "needs at least one metric")
        for direction in self.directions:
            require(direction in DIRECTIONS, "search.directions", list(self.directions), f"each must be one of {', '.join(DIRECTIONS)}")
        if len(self.directions) != len(self.metrics):
            raise ConfigError(
                "search.directions",
                f"{len(self.directions)} direction(s) for {len(self.metrics)} metric(s) {list(self.metrics)}: give one per metric",
                list(self.directions),
            )
        require(len(set(self.metrics)) == len(self.metrics), "search.metrics", list(self.metrics), "must not repeat a metric")
        if self.study_name is not None:
            require(bool(self.study_name.strip()), "search.study_name", self.study_name, "must not be empty")

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1


def search_config(tree: dict | None) -> SearchConfig:
    """The ``search`` node of a job's config, typed and checked."""
    from sweep.schema import typed

    return typed(SearchConfig, tree or {}, prefix="search.")
