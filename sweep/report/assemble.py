"""One report, computed: the runs' cells, their Pareto fronts, the recommendation. Nothing written yet."""

from __future__ import annotations

from dataclasses import dataclass

from sweep.report.collect import Table, build_table
from sweep.report.config import ReportConfig
from sweep.report.pareto import mark_fronts
from sweep.report.recommend import Recommendation, best_key, recommend
from sweep.report.source import Source


@dataclass
class Report:
    source: Source
    config: ReportConfig
    table: Table
    recommendation: Recommendation


def build_report(source: Source, config: ReportConfig) -> Report:
    table = build_table(source.records, config.task, config.metric, (source.scope_key, source.scope_value))
    ranked = sorted(table.ranked, key=best_key(config.cost))  # the table's order is the recommendation's: ties alike
    table.cells = ranked + [cell for cell in table.cells if not cell.ranked]
    mark_fronts(ranked, table.costs)
    recommendation = recommend(ranked, table.metric, table.mode, config.limits, config.tolerance, config.cost)
    return Report(source, config, table, recommendation)
