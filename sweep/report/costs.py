"""What a setting costs, one entry per axis: the run's metric, how it is shown and said, and the constraint
that bounds it. The Pareto fronts, the plots, "cheapest" and the constraints all read this registry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


def percent(share: float) -> str:
    value = 100 * share
    if value >= 10:
        return f"{value:.0f} %"
    return f"{value:.2g} %" if value < 1 else f"{value:.1f} %"


def seconds(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.0f} min" if value >= 600 else f"{value / 60:.1f} min"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def megabytes(value: float) -> str:
    return f"{value:,.0f} MB"


@dataclass(frozen=True)
class Cost:
    name: str  # report.cost, and the key of a cell's costs
    metric: str  # what each run logs
    column: str  # the table's column
    axis: str  # the plot's x label
    limit_key: str  # the constraint on it
    show: Callable[[float], str]
    says: str  # how a sentence states it: .format(value)
    bound: str  # how a sentence states its limit: .format(limit)
    least: str  # how a sentence states the lowest value found: .format(value)
    log_axis: bool  # the plot's x axis on a log scale

    @property
    def noun(self) -> str:
        return self.axis.split(" (")[0].replace(" of the parameters", "").replace(" resident", "")

    def phrase(self, value: float) -> str:
        return "" if value is None or math.isnan(value) else self.says.format(self.show(value))

    def limit_phrase(self, limit: float) -> str:
        return self.bound.format(self.show(limit))


COSTS: dict[str, Cost] = {
    cost.name: cost
    for cost in (
        Cost("share", "params_trainable_share", "trainable", "trainable share of the parameters", "report.max_trainable_share",
             percent, "trains {} of the parameters", "at most {} trainable parameters", "the smallest trainable share is {}", True),
        Cost("time", "train_time_s", "train time", "training time (s)", "report.max_train_s",
             seconds, "in {}", "at most {} of training", "the shortest training takes {}", True),
        # PeakMemory (sweep/pipeline/train.py): the job's peak resident memory, model and data included
        Cost("memory", "peak_memory_mb", "peak memory", "peak resident memory (MB)", "report.max_memory_mb",
             megabytes, "(peak {})", "at most {} peak memory", "the lowest peak memory is {}", False),
    )
}  # fmt: skip
