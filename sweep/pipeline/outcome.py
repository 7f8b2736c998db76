"""What a job hands back to its sweeper: picklable, so it crosses process and node boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field

# every metric a job reports at its end; a search may optimise any of them
STAGE_METRICS = tuple(f"{stage}/{name}" for stage in ("train", "val", "test") for name in ("loss", "acc", "f1"))
RUN_METRICS = ("params_trainable", "params_total", "params_trainable_share", "train_time_s", "peak_memory_mb", "optimizer_steps")
KNOWN_METRICS = STAGE_METRICS + RUN_METRICS


def is_reported(name: str, sub_tasks: list[str] | None = None) -> bool:
    """A metric a job reports: KNOWN_METRICS, or in multi-task training a sub-task's ``val/<task>/acc`` etc."""
    stage, _, rest = name.partition("/")
    task, _, metric = rest.rpartition("/")
    return name in KNOWN_METRICS or (task in (sub_tasks or []) and f"{stage}/{metric}" in STAGE_METRICS)


@dataclass
class JobOutcome:
    state: str  # finished | failed | pruned | interrupted
    value: float | None = None  # best value of trainer.monitor
    metrics: dict[str, float] = field(default_factory=dict)  # KNOWN_METRICS that were reached
    error: str | None = None
    pruned_step: int | None = None
    run_id: str | None = None

    def objective(self, metric: str, monitor: str) -> float | None:
        """The value a search optimises for ``metric``: the best one for the monitored metric."""
        if metric == monitor:
            return self.value
        return self.metrics.get(metric)
