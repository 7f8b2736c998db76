"""The report in MLflow: on the sweep's parent run (a grid's, a search's, a night's), or, for a whole
experiment, on a new run of its own (tag ``sweep.kind=report``, which the report itself never reads back
as a job). Its files go under the artifact folder ``report/``; its Markdown becomes the run's
Description (``mlflow.note.content``), which the UI shows on the run's page."""

from __future__ import annotations

import time
from pathlib import Path

from sweep.report.assemble import Report
from sweep.report.render import note

ARTIFACT_DIR = "report"


def record(report: Report, folder: Path) -> str:
    """Log the report's files and description; returns the id of the run that holds them."""
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.parents import shared
    from sweep.tracking.ui import NOTE_LIMIT, NOTE_TAG

    source, rec = report.source, report.recommendation
    client = source.client
    tags = {
        NOTE_TAG: note(report, NOTE_LIMIT - 100),
        "report.recommendation": rec.text[:5000],
        "report.best": rec.best.label,
        "report.pick": rec.pick.label if rec.pick else "",
    }
    if source.parent_run_id is not None:
        client.log_artifacts(source.parent_run_id, str(folder), ARTIFACT_DIR)
        for key, value in tags.items():  # a search's other workers may write to its parent at the same time
            shared(client.set_tag, source.parent_run_id, key, value)
        return source.parent_run_id
    made = JobRun.create(
        client, source.experiment_id, f"report-{time.strftime('%Y%m%d-%H%M%S')}",
        {"sweep.kind": "report", "report.runs": str(report.table.runs), "task": report.table.task}, kind="report",
    )  # fmt: skip
    try:
        client.log_artifacts(made.run_id, str(folder), ARTIFACT_DIR)
        made.set_tags(tags)
    except BaseException as error:
        made.finish("failed", error=f"{type(error).__name__}: {error}")
        raise
    made.finish("finished")
    return made.run_id
