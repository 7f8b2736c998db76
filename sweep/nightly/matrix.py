"""The night's matrix: models x strategies, each cell searched with exactly ``trials_per_cell`` trials.

Why enqueued trials: the night is one Optuna study (one budget, one parent run, workers on a cluster
share it), but a sampler left alone would spend the budget on the cells it likes. Each cell is put in
the study's queue ``trials_per_cell`` times as a fixed ``{model, strategy}``; Optuna samples the other
parameters of an enqueued trial as usual (lr, warmup and the strategy's own space), and a worker's ask
takes queued trials first. A queued trial does not use the budget until it is asked, and one returned
to the budget (interrupted, its worker died) is queued again (sweep/search/worker.py), so at any time
``trials that count + trials queued = cells x trials_per_cell`` per cell: topping up is idempotent, and
resuming a night after a crash neither enqueues twice nor loses a cell.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, List, Optional

from sweep.config.errors import ConfigError, require

MATRIX_ATTR = "nightly.matrix"  # study user attribute: the matrix a night was started with
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class NightlyConfig:
    """The ``nightly`` block of conf/experiment/nightly.yaml."""

    models: List[str] = field(default_factory=list)
    strategies: List[str] = field(default_factory=list)
    trials_per_cell: int = 2
    threshold: float = 0.02
    date: Optional[str] = None
    study_prefix: str = "nightly"
    fail_on_missing: bool = True
    seeds: int = 0  # K > 0: each cell's best trial re-run with K new seeds (search.confirm); its value is their mean
    z: float = 2.0  # with seeds: a regression is a drop beyond max(threshold, z x sd over the seeds)
    warm_start: bool = True  # each cell's first trial: the previous night's best configuration of that cell

    def __post_init__(self) -> None:
        require(self.trials_per_cell >= 1, "nightly.trials_per_cell", self.trials_per_cell, "must be >= 1")
        require(self.threshold >= 0, "nightly.threshold", self.threshold, "must be >= 0 (an absolute change of the objective)")
        require(self.seeds >= 0, "nightly.seeds", self.seeds, "must be >= 0 (new seeds per cell's best trial; 0: none)")
        require(self.z >= 0, "nightly.z", self.z, "must be >= 0 (standard deviations of the seeds a drop must exceed)")
        require(bool(re.fullmatch(r"[\w.-]+", self.study_prefix)), "nightly.study_prefix", self.study_prefix, "letters, digits, _ . - only")
        for key, names in (("nightly.models", self.models), ("nightly.strategies", self.strategies)):
            require(len(names) >= 1, key, list(names), "needs at least one name")
            require(len(set(names)) == len(names), key, list(names), "must not repeat a name")
        if self.date is not None:
            self.date = str(self.date)  # YAML may hand over a datetime.date
            try:
                valid = bool(DATE.match(self.date)) and datetime.date.fromisoformat(self.date) is not None
            except ValueError:
                valid = False
            require(valid, "nightly.date", self.date, "must be a date YYYY-MM-DD, or null for today (UTC)")

    @property
    def cells(self) -> list[tuple[str, str]]:
        return [(model, strategy) for model in self.models for strategy in self.strategies]

    @property
    def n_trials(self) -> int:
        return len(self.cells) * self.trials_per_cell

    def night(self, today: datetime.date | None = None) -> str:
        """The night's date: the configured one, else today in UTC (a night does not change with the host's zone)."""
        return self.date or (today or datetime.datetime.now(datetime.UTC).date()).isoformat()

    def study_name(self, date: str) -> str:
        return f"{self.study_prefix}-{date}"


def nightly_config(raw: Any, roots) -> NightlyConfig:
    """Typed and checked: every model and strategy must be a config of its group (``roots``: conf/ and the zoo)."""
    from omegaconf import OmegaConf

    from sweep.config.groups import group_options
    from sweep.config.schema import typed

    require(raw is not None, "nightly", None, "missing: add experiment=nightly")
    config: NightlyConfig = typed(NightlyConfig, OmegaConf.create(raw), prefix="nightly.")
    for key, group, names in (("nightly.models", "model", config.models), ("nightly.strategies", "strategy", config.strategies)):
        options = group_options(group, roots) or []
        unknown = [name for name in names if name not in options]
        if unknown:
            raise ConfigError(key, f"unknown {group} {', '.join(unknown)}; choose from {', '.join(options)}", list(names))
    return config


def cell_of(trial) -> tuple[str, str] | None:
    """The (model, strategy) a trial runs: fixed when it was enqueued, else as sampled."""
    fixed = trial.system_attrs.get("fixed_params") or {}
    model, strategy = fixed.get("model", trial.params.get("model")), fixed.get("strategy", trial.params.get("strategy"))
    return (model, strategy) if model is not None and strategy is not None else None


def check_same_matrix(study, config: NightlyConfig) -> None:
    """A night resumed with another matrix would mix two nights in one study: refuse (exit 2)."""
    stored = study.user_attrs.get(MATRIX_ATTR)
    wanted = {"models": list(config.models), "strategies": list(config.strategies), "trials_per_cell": config.trials_per_cell}
    if stored is not None and stored != wanted:
        changed = next(key for key in wanted if stored.get(key) != wanted[key])
        raise ConfigError(
            f"nightly.{changed}",
            f"study {study.study_name} was started with {changed}={stored.get(changed)}; keep it, or name another nightly.date",
            wanted[changed],
        )
    study.set_user_attr(MATRIX_ATTR, wanted)


def top_up(study, config: NightlyConfig, starts: dict | None = None) -> int:
    """Enqueue what each cell lacks to reach ``trials_per_cell``; returns how many were enqueued. ``starts``: per cell the
    params of the previous night's best trial (``previous_bests``), given to the cell's first trial (a warm start)."""
    import optuna

    from sweep.search.liveness import counts

    have: Counter = Counter()
    for trial in study.get_trials(deepcopy=False):
        if trial.state == optuna.trial.TrialState.WAITING or counts(trial):
            have[cell_of(trial)] += 1
    added = 0
    # round by round (every cell's first trial, then every cell's second, ...): a night cut short still has
    # a result in every cell, and a cell's later trials start once its first has completed, which gives
    # pruning within a cell (search.prune_within) something to compare with
    for round_ in range(config.trials_per_cell):
        for model, strategy in config.cells:
            if have[(model, strategy)] <= round_:
                warm = (starts or {}).get((model, strategy), {}) if round_ == 0 else {}
                study.enqueue_trial({**warm, "model": model, "strategy": strategy}, skip_if_exists=False)
                added += 1
    return added
