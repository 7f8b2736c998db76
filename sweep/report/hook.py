"""The paragraph a grid or a search ends with: the recommendation, without plots or files (about a second: one
query of the parent's children, their per-example predictions read and bootstrapped), printed and put at the top of
the parent's description. It must never fail a finished sweep: any error is a warning, and bad or missing
data (several tasks, nothing finished) is one line saying why there is no recommendation."""

from __future__ import annotations

import logging

log = logging.getLogger("sweep")
HEAD = "**Recommendation.**"


def end_of_sweep(client, experiment_id: str, parent_run_id: str, monitor: str) -> str | None:
    """Print the recommendation for a sweep's jobs; returns it (None: none was made)."""
    try:
        return _recommend(client, experiment_id, parent_run_id, monitor)
    except Exception:  # a report failure must never fail a finished sweep
        log.warning("no recommendation: the report failed", exc_info=True)
        return None


def _recommend(client, experiment_id: str, parent_run_id: str, monitor: str) -> str | None:
    from sweep.config.errors import ConfigError
    from sweep.report.assemble import attach_intervals
    from sweep.report.collect import build_table, job_records
    from sweep.report.config import ReportConfig
    from sweep.report.intervals import Predictions
    from sweep.report.recommend import best_key, recommend
    from sweep.report.source import MAX_RUNS
    from sweep.tracking.parents import shared
    from sweep.tracking.ui import NOTE_LIMIT, NOTE_TAG

    runs = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=MAX_RUNS)
    command = f"python -m sweep.report report.parent={parent_run_id}"
    try:
        table = build_table(job_records(runs), None, monitor, ("report.parent", parent_run_id))
    except ConfigError as error:
        print(f"\nNo recommendation: {error.message}. ({command} says more.)", flush=True)
        return None
    from sweep.report.config import with_search_limits
    from sweep.report.source import recorded_limits

    # the report's own defaults, and a search's constraints as its limits (as python -m sweep.report applies them)
    defaults, _ = with_search_limits(ReportConfig(), recorded_limits(client.get_run(parent_run_id)), f"parent run {parent_run_id}")
    ranked = sorted(table.ranked, key=best_key(defaults.cost))
    noise = attach_intervals(table, Predictions(client), defaults.resamples, defaults.confidence)
    text = recommend(ranked, table.metric, table.mode, defaults.limits, defaults.tolerance, defaults.cost, noise).text
    print(f"\n{text}\nThe full report, with Pareto fronts and plots: {command}", flush=True)
    shared(client.set_tag, parent_run_id, "report.recommendation", text[:5000])
    described = client.get_run(parent_run_id).data.tags.get(NOTE_TAG, "")
    if described.startswith(HEAD):  # another worker of the search got here first: replace its paragraph
        described = described.split("\n\n", 1)[-1]
    joined = f"{HEAD} {text}\n\n{described}"
    if len(joined) <= NOTE_LIMIT:  # the table's own trimming left room; else the tag above still holds it
        shared(client.set_tag, parent_run_id, NOTE_TAG, joined)
    return text
