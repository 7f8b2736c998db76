"""How our experiment looks in the MLflow UI (read from MLflow 3.17's bundled UI, mlflow/server/js/build).

- The experiment is marked as model training (``mlflow.experimentKind``). MLflow 3.17's own UI no longer
  reads the tag (a sidebar switch, GenAI | Model training, decides, remembered per browser, default GenAI):
  the link we print carries ``workflowType=machine_learning``, which opens the runs list instead of
  the GenAI overview. Older UIs and Databricks read the tag.
- A saved view of the runs list (an experiment tag ``mlflow.sharedViewState.<id>``, what the UI's
  "Views" menu saves): children as rows, best first, our tags and metrics as the first columns. The UI
  nests children under a collapsed parent only when runs are sorted by start time; no server-side
  setting expands them (a view cannot carry ``runsExpanded``), so the view sorts by the monitor.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

KIND_TAG = "mlflow.experimentKind"
TRAINING = "custom_model_development"  # the UI's "Machine learning" kind (GENAI_DEVELOPMENT is the other)
EXPERIMENT_TAGS = {KIND_TAG: TRAINING}
VIEW_TAG = "mlflow.sharedViewState."
VIEW_ID = "sweep"  # one view per experiment: the latest sweep's monitor
NOTE_TAG = "mlflow.note.content"  # a run's Description (markdown) on its page
NOTE_LIMIT = 8000  # MLflow's limit on a run tag's value


def mark_training(client, experiment) -> None:
    """Mark an experiment that lacks a kind; one a user gave another kind keeps it."""
    if KIND_TAG not in experiment.tags:
        set_experiment_tag(client, experiment.experiment_id, KIND_TAG, TRAINING)


def set_experiment_tag(client, experiment_id: str, key: str, value: str) -> None:
    from sweep.tracking.parents import shared  # many jobs start at once: one tag, racing inserts

    shared(client.set_experiment_tag, experiment_id, key, value)


def columns(monitor: str, objectives: list[str] | None = None) -> list[str]:
    """The runs list's first columns: what a sweep compares, then what the job was. ``objectives``: a search's metrics."""
    metrics = [f"best_{monitor}", monitor]
    if monitor.startswith("val/"):
        metrics.append("test/" + monitor.removeprefix("val/"))
    metrics += [m for m in objectives or [] if m not in metrics] + ["params_trainable_share", "train_time_s"]
    tags = ["strategy", "model", "state"] + (["optuna.trial"] if objectives is not None else [])
    shown = [f"tags.`{tag}`" for tag in tags] + [f"metrics.`{metric}`" for metric in metrics]
    return ["attributes.`Run Name`", *shown, "attributes.`Dataset`"]


def runs_view(monitor: str, mode: str, objectives: list[str] | None = None) -> dict:
    """The view's state: search facets and the runs table's UI state, as the UI's Share button writes them."""
    shown = columns(monitor, objectives)
    return {
        "searchFilter": "",
        "orderByKey": f"metrics.`best_{monitor}`",  # not start time: the UI then lists children as rows
        "orderByAsc": mode == "min",
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "modelVersionFilter": "All Runs",
        "datasetsFilter": [],
        "selectedColumns": shown[1:],  # the run name is always shown
        "columnOrder": shown,
    }


def save_runs_view(client, experiment_id: str, monitor: str, mode: str, objectives: list[str] | None = None) -> None:
    """Write (or update) the experiment's saved view; unchanged views are not rewritten."""
    state = json.dumps(runs_view(monitor, mode, objectives))
    found = client.get_experiment(experiment_id).tags.get(VIEW_TAG + VIEW_ID)
    if found is not None and json.loads(found).get("state") == state:
        return
    now = int(time.time() * 1000)
    envelope = {"name": f"sweep: best {monitor} first", "createdAt": now, "updatedAt": now, "state": state}
    set_experiment_tag(client, experiment_id, VIEW_TAG + VIEW_ID, json.dumps(envelope))


def runs_link(server: str, experiment_id: str) -> str:
    """The runs list of the experiment, as model training, in our saved view."""
    query = urlencode({"workflowType": "machine_learning", "viewStateShareKey": VIEW_ID})
    return f"{server.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def note(table: str, limit: int = NOTE_LIMIT - 200, full: str = "comparison.md") -> str:
    """A markdown table as a run's description: whole rows, as many as MLflow keeps (room left for a line after it).
    ``full``: the artifact that holds every row."""
    if len(table) <= limit:
        return table
    lines = table.splitlines()
    header, rows, kept = lines[:2], lines[2:], []
    for row in rows:
        if len("\n".join(header + kept + [row])) + 100 > limit:  # 100: the line saying what was left out
            break
        kept.append(row)
    return "\n".join(header + kept) + f"\n\n(the first {len(kept)} of {len(rows)} rows; all of them in {full})"
