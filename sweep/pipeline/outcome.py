"""What a job hands back to its sweeper: picklable, so it crosses process and node boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweep.task_types import TASK_TYPES
from sweep.task_types.base import RUN_METRIC_DIRECTIONS

# every metric a job of some task type reports at its end; a search may optimise any of them
_NAMES = dict.fromkeys(name for type_name in TASK_TYPES for name in TASK_TYPES.get(type_name).metrics)
STAGE_METRICS = tuple(f"{stage}/{name}" for stage in ("train", "val", "test") for name in _NAMES)
RUN_METRICS = tuple(RUN_METRIC_DIRECTIONS)
KNOWN_METRICS = STAGE_METRICS + RUN_METRICS


def stage_metrics(task_type: str | None = None) -> tuple[str, ...]:
    """``<stage>/<metric>`` for every metric a job of ``task_type`` logs (None: of any type)."""
    names = TASK_TYPES.get(task_type).metrics if task_type is not None else _NAMES
    return tuple(f"{stage}/{name}" for stage in ("train", "val", "test") for name in names)


def is_reported(name: str, sub_tasks: list[str] | None = None, task_type: str | None = None) -> bool:
    """A metric a job reports: a stage metric of its task type (any type's, if None), a run metric, or in
    multi-task training a sub-task's ``val/<task>/acc`` etc."""
    stage, _, rest = name.partition("/")
    task, _, metric = rest.rpartition("/")
    known = stage_metrics(task_type)
    return name in known or name in RUN_METRICS or (task in (sub_tasks or []) and f"{stage}/{metric}" in known)


@dataclass
class JobOutcome:
    state: str  # finished | failed | pruned | interrupted
    value: float | None = None  # best value of trainer.monitor
    metrics: dict[str, float] = field(default_factory=dict)  # KNOWN_METRICS that were reached
    error: str | None = None
    pruned_step: int | None = None
    run_id: str | None = None
    reused_from: str | None = None  # answered from this finished run, not trained (search.reuse, sweep/tracking/reuse.py)

    def objective(self, metric: str, monitor: str) -> float | None:
        """The value a search optimises for ``metric``: the best one for the monitored metric."""
        if metric == monitor:
            return self.value
        return self.metrics.get(metric)
