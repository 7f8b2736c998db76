"""One report, computed: the runs' cells, their Pareto fronts, the recommendation. Nothing written yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweep.report.collect import Table, build_table
from sweep.report.config import ReportConfig, with_search_limits
from sweep.report.intervals import Bootstrap, Predictions, bootstrap_cells
from sweep.report.pareto import mark_fronts
from sweep.report.recommend import Recommendation, best_key, recommend
from sweep.report.source import Source


@dataclass
class Report:
    source: Source
    config: ReportConfig
    table: Table
    recommendation: Recommendation
    noise: Bootstrap | None = None  # the validation metric's bootstrap (None: no run kept predictions, or resamples=0)
    limits_from: dict[str, str] = field(default_factory=dict)  # cost name -> where its limit came from (report.max_*, a search)


def build_report(source: Source, config: ReportConfig) -> Report:
    """``config``: the user's; the report's own has, for each limit the user did not give, the search's constraint on it."""
    config, limits_from = with_search_limits(config, source.search_limits, source.limits_from)
    table = build_table(source.records, config.task, config.metric, (source.scope_key, source.scope_value))
    ranked = sorted(table.ranked, key=best_key(config.cost))  # the table's order is the recommendation's: ties alike
    table.cells = ranked + [cell for cell in table.cells if not cell.ranked]
    mark_fronts(ranked, table.costs)
    noise = attach_intervals(table, Predictions(source.client), config.resamples, config.confidence)
    recommendation = recommend(ranked, table.metric, table.mode, config.limits, config.tolerance, config.cost, noise)
    return Report(source, config, table, recommendation, noise, limits_from)


def attach_intervals(table: Table, predictions: Predictions, resamples: int, confidence: float) -> Bootstrap | None:
    """Each ranked cell's interval on validation (``cell.interval``) and on its first test metric (``cell.test_interval``);
    returns the validation bootstrap, which the recommendation compares cells with."""
    if not resamples or not table.ranked:
        return None
    sign = 1.0 if table.mode == "max" else -1.0
    noise = bootstrap_cells(table.ranked, predictions, "val", table.metric, sign, resamples, confidence)
    test_metric = table.tests[0] if table.tests else None
    tested = bootstrap_cells(table.ranked, predictions, "test", test_metric, sign, resamples, confidence) if test_metric else None
    for cell in table.ranked:
        key = (cell.model, cell.strategy)
        if noise is not None and key in noise.samples:
            cell.interval = noise.interval(key)
        if tested is not None and key in tested.samples:
            cell.test_interval = tested.interval(key)
    return noise
