"""The runs a report covers, read from MLflow into one row (a ``Cell``) per model x strategy.

Runs of one configuration (every recorded param equal but ``seed``: ``-m seed=0,1,2``, or a search's confirmation
runs) are seeds of it. A cell is its best configuration: the highest mean ``best_<metric>`` over its finished
seeds, in the runs' direction; its value, test metrics and costs are that configuration's means (one run: that
run's numbers, as before seeds existed), its ``values`` each seed's. Runs that did not finish (pruned, failed,
interrupted) are counted in their cell but never ranked. A tie between two configurations keeps the one whose
first run is older (as the search keeps its earliest best trial).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sweep.config.errors import ConfigError
from sweep.report.costs import COSTS
from sweep.task_types import TASK_TYPES
from sweep.tracking.params import configuration_of
from sweep.tracking.reuse import REUSED_FROM


@dataclass
class RunRecord:
    run_id: str
    name: str
    model: str
    strategy: str
    task: str
    state: str  # our `state` tag: finished | pruned | failed | interrupted | running
    start: int  # ms since the epoch: the tie-break between runs of one cell
    monitor: str  # the run's trainer.monitor, which it logs as best_<monitor>
    mode: str  # max | min
    metrics: dict[str, float]
    configuration: str = ""  # what its seeds share: its params but seed (``configuration_of``); "" : its own
    seed: str = ""

    @classmethod
    def of(cls, run) -> RunRecord:
        tags, params = run.data.tags, run.data.params
        state = tags.get("state", run.info.status.lower())
        return cls(
            run.info.run_id, run.info.run_name or run.info.run_id, tags["model"], tags["strategy"], tags.get("task", ""), state,
            run.info.start_time or 0, params.get("trainer.monitor", ""), params.get("trainer.mode", "max"), dict(run.data.metrics),
            configuration_of(params), params.get("seed", ""),
        )  # fmt: skip


def is_job(run) -> bool:
    """A fine-tuning job: a model and a strategy, and not a sweep's parent, a pre-training run or a report."""
    tags = run.data.tags
    return "model" in tags and "strategy" in tags and "sweep.kind" not in tags


def job_records(runs) -> list[RunRecord]:
    jobs = [run for run in runs if is_job(run)]
    read = {run.info.run_id for run in jobs}
    # a run answered from another (search.reuse) is that run again: counted once, as its source, when both are read
    return [RunRecord.of(run) for run in jobs if run.data.tags.get(REUSED_FROM) not in read]


@dataclass
class Cell:
    model: str
    strategy: str
    value: float | None = None  # best_<metric> of the best finished run; None: nothing to rank
    score: float = -math.inf  # value turned so that higher is better (the direction applied)
    tests: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)  # by costs.COSTS name; NaN: not logged
    run_id: str = ""
    run_name: str = ""
    states: Counter = field(default_factory=Counter)
    fronts: list[str] = field(default_factory=list)  # the costs on whose Pareto front it lies
    # the seeds of its chosen configuration (same config but for `seed`): value is their mean
    values: list[float] = field(default_factory=list)  # best_<metric> of each finished run of it, oldest first
    run_ids: list[str] = field(default_factory=list)  # those runs, in the same order
    seeds: list[str] = field(default_factory=list)  # and their seeds
    run_names: list[str] = field(default_factory=list)  # and names
    interval: tuple[float, float] | None = None  # 95 % bootstrap interval of value (rows and seeds); None: no predictions
    test_interval: tuple[float, float] | None = None  # the same for the table's first test metric

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def sd(self) -> float:
        """The sample standard deviation over seeds; NaN for one run."""
        if len(self.values) < 2:
            return math.nan
        mean = sum(self.values) / len(self.values)
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / (len(self.values) - 1))

    @property
    def label(self) -> str:
        return f"{self.strategy} on {self.model}"

    @property
    def ranked(self) -> bool:
        return self.value is not None

    def cost(self, name: str) -> float:
        return self.costs.get(name, math.nan)

    def runs_text(self) -> str:
        others = ", ".join(f"{n} {state}" for state, n in sorted(self.states.items()) if state != "finished")
        total = sum(self.states.values())
        return f"{total}" + (f" ({others})" if others else "")


@dataclass
class Table:
    """What the report ranks: one cell per model x strategy, best first, unranked ones last."""

    task: str
    metric: str  # e.g. val/acc; runs log best_<metric>
    mode: str
    tests: list[str]  # the test metrics shown, from each cell's best run
    cells: list[Cell]
    runs: int  # job runs read
    left_out: int = 0  # finished runs that log no best_<metric> (they monitored something else)

    @property
    def ranked(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.ranked]

    @property
    def costs(self) -> list[str]:
        """The cost axes any ranked cell logs, in the registry's order."""
        return [name for name in COSTS if any(not math.isnan(cell.cost(name)) for cell in self.ranked)]

    def states(self) -> Counter:
        total = Counter()
        for cell in self.cells:
            total.update(cell.states)
        return total


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def choose(cell: Cell, runs: list[RunRecord], metric: str, tests: list[str], sign: float) -> None:
    """The cell's numbers from its chosen configuration's runs: means over seeds (NaN where a run did not log a cost)."""
    cell.values = [r.metrics[f"best_{metric}"] for r in runs]
    cell.run_ids = [r.run_id for r in runs]
    cell.seeds = [r.seed for r in runs]
    cell.run_names = [r.name for r in runs]
    cell.value = mean(cell.values)
    cell.score = sign * cell.value
    best = max(runs, key=lambda r: sign * r.metrics[f"best_{metric}"])  # the first of equals: the oldest
    cell.run_id, cell.run_name = best.run_id, best.name
    cell.tests = {name: mean([r.metrics[name] for r in runs]) for name in tests if all(name in r.metrics for r in runs)}
    cell.costs = {name: mean([r.metrics.get(cost.metric, math.nan) for r in runs]) for name, cost in COSTS.items()}


def majority(values: list[str]) -> str:
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))  # most common; a tie: alphabetical


def build_table(records: list[RunRecord], task: str | None, metric: str | None, scope: tuple[str, str]) -> Table:
    """The cells of these runs; a ConfigError when there is nothing to rank, naming the report key, or ``scope``:
    (key, value) that chose the runs (``("report.parent", <run id>)``)."""
    tasks = sorted({r.task for r in records})
    if task is not None:
        if task not in tasks:
            raise ConfigError("report.task", f"no runs of this task here; tasks: {', '.join(tasks) or '(none)'}", task)
        records = [r for r in records if r.task == task]
    elif len(tasks) > 1:
        raise ConfigError("report.task", f"the runs cover several tasks: choose one of {', '.join(tasks)}")
    finished = [r for r in records if r.state == "finished"]
    if not finished:
        states = Counter(r.state for r in records)
        found = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no fine-tuning runs at all"
        raise ConfigError(scope[0], f"no finished runs to compare ({found})", scope[1])
    if metric is None:
        metric = majority([r.monitor for r in finished if r.monitor])
    ranked = [r for r in finished if f"best_{metric}" in r.metrics]
    if not ranked:
        logged = sorted({key for r in finished for key in r.metrics if key.startswith("best_")})
        raise ConfigError(
            "report.metric", f"no finished run logs best_{metric}; they log {', '.join(logged) or 'no best_* metric'}", metric
        )
    mode = majority([r.mode for r in ranked if r.monitor == metric] or ["max"])
    sign = 1.0 if mode == "max" else -1.0
    suffix = metric.split("/", 1)[-1]
    shown = [name for type_name in TASK_TYPES for name in TASK_TYPES.get(type_name).shown]  # the runs' own types' logged ones
    tests = [name for name in dict.fromkeys([f"test/{suffix}", *shown]) if any(name in r.metrics for r in ranked)]
    cells: dict[tuple[str, str], Cell] = {}
    seeds: dict[tuple[str, str], dict[str, list[RunRecord]]] = {}  # cell -> configuration -> its finished runs, oldest first
    for record in sorted(records, key=lambda r: (r.start, r.run_id)):
        cell = cells.setdefault((record.model, record.strategy), Cell(record.model, record.strategy))
        cell.states[record.state] += 1
        value = record.metrics.get(f"best_{metric}")
        if record.state != "finished" or value is None or math.isnan(value):
            continue
        key = record.configuration or record.run_id
        seeds.setdefault((record.model, record.strategy), {}).setdefault(key, []).append(record)
    for place, configurations in seeds.items():
        cell = cells[place]
        # the best mean; a tie keeps the configuration whose first run is older (dicts keep insertion order: oldest first)
        runs = max(configurations.values(), key=lambda runs: sign * mean([r.metrics[f"best_{metric}"] for r in runs]))
        choose(cell, runs, metric, tests, sign)
    ordered = sorted(cells.values(), key=lambda c: (not c.ranked, -c.score, c.model, c.strategy))
    left_out = len(finished) - len(ranked)
    return Table(task or tasks[0], metric, mode, tests, ordered, len(records), left_out)
