"""The report on the night's MLflow parent run: ``nightly/report.md`` and ``nightly/report.json`` as
artifacts, the verdict as tags, so the MLflow UI shows each night's outcome where its runs are.

The parent is the search's own (sweep/tracking/search_runs.py): tags ``sweep.kind=optuna``,
``optuna.study=<night>``, ``optuna.storage=<the storage URL, masked>`` and ``optuna.study_id=<the study's
identity>`` (a night deleted and run again is another study); found, never created here.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from sweep.nightly.report import Report

log = logging.getLogger("sweep")
ARTIFACT_DIR = "nightly"


def night_parent(client, experiment_id: str, study: str, storage_shown: str, study_id: str) -> str | None:
    from sweep.tracking.search_runs import parent_query

    query = parent_query(study, storage_shown, study_id)
    runs = [r for r in client.search_runs([experiment_id], filter_string=query, max_results=100) if "mlflow.parentRunId" not in r.data.tags]
    runs.sort(key=lambda r: (r.info.start_time, r.info.run_id))  # workers agree on the oldest (search_runs.study_parent)
    return runs[0].info.run_id if runs else None


def record_report(report: Report, tracking_uri: str, experiment: str, storage_shown: str, study_id: str) -> str | None:
    """Log the report on the night's parent run; returns its run id (None: no parent found)."""
    from mlflow.tracking import MlflowClient

    from sweep.tracking.parents import shared

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    parent = night_parent(client, found.experiment_id, report.study, storage_shown, study_id) if found else None
    if parent is None:
        log.warning("no parent run of study %s in experiment %s: the report is not logged", report.study, experiment)
        return None
    with tempfile.TemporaryDirectory() as folder:
        for name, text in (("report.md", report.markdown()), ("report.json", report.to_json())):
            path = Path(folder) / name
            path.write_text(text)
            shared(client.log_artifact, parent, str(path), ARTIFACT_DIR)
    tags = {
        "nightly.verdict": "regression" if report.failing else "ok",
        "nightly.regressions": str(len(report.failing)),
        "nightly.previous": report.previous_study or "",
    }
    for key, value in tags.items():
        shared(client.set_tag, parent, key, value)
    return parent
