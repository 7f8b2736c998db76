"""The comparison table of a sweep: one row per child run, best first."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def comparison(client, experiment_id: str, parent_run_id: str, monitor: str, mode: str = "max") -> pd.DataFrame:
    import pandas as pd

    runs = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=50000)
    shown = shown_metrics(runs)
    rows = []
    for run in runs:
        metrics, tags = run.data.metrics, run.data.tags
        rows.append(
            {
                "run": run.info.run_name,
                "model": tags.get("model", ""),
                "strategy": tags.get("strategy", ""),
                "trial": tags.get("optuna.trial", ""),
                "state": tags.get("state", run.info.status.lower()),
                f"best {monitor}": metrics.get(f"best_{monitor}", math.nan),
                **{name: metrics.get(name, math.nan) for name in shown},
                "trainable %": 100 * metrics.get("params_trainable_share", math.nan),
                "trainable": metrics.get("params_trainable", math.nan),
                "steps": metrics.get("optimizer_steps", math.nan),
                "train s": metrics.get("train_time_s", math.nan),
                "note": (tags.get("error") or (f"pruned at step {tags['pruned_step']}" if "pruned_step" in tags else ""))[:80],
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if not table["trial"].astype(bool).any():
        table = table.drop(columns="trial")
    return table.sort_values(f"best {monitor}", ascending=mode == "min", na_position="last").reset_index(drop=True)


def shown_metrics(runs) -> list[str]:
    """The test metrics of the runs' task types (classification: test/acc, test/f1; regression: test/rmse, ...),
    each type's in its order; a run recorded before task types existed is classification."""
    from sweep.task_types import TASK_TYPES

    types = dict.fromkeys(run.data.params.get("task.type", "classification") for run in runs) or {"classification": None}
    return list(dict.fromkeys(name for type_name in types if type_name in TASK_TYPES for name in TASK_TYPES.get(type_name).shown))


FORMATS = {
    "trainable %": "{:.3g}",
    "trainable": "{:,.0f}",
    "steps": "{:.0f}",
    "train s": "{:.1f}",
}


def to_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "(no runs)"
    shown = table.copy()
    for column in shown.columns:
        fmt = FORMATS.get(column, "{:.4f}" if column.startswith(("best ", "test/")) else None)
        if fmt is not None:
            shown[column] = [fmt.format(v) if v == v else "" for v in shown[column]]  # v != v: NaN
    return shown.to_markdown(index=False, disable_numparse=True)  # keep our number formats


def print_comparison(
    client, experiment_id: str, parent_run_id: str, uri: str, monitor: str, mode: str, lost: int = 0, footer: str = ""
) -> pd.DataFrame:
    """Log the table on the parent run (comparison.md, comparison.csv, and its description in the UI)
    and print it with the UI command. ``footer``: logged under the table, not printed (a search's failure
    reasons, which its summary printed already)."""
    from sweep.config.secrets import mask_secrets
    from sweep.tracking.parents import shared
    from sweep.tracking.store import ui_hint
    from sweep.tracking.ui import NOTE_TAG, note

    table = comparison(client, experiment_id, parent_run_id, monitor, mode)
    markdown = mask_secrets(to_markdown(table))
    after = f"\n\n{lost} job(s) left no run at all (their process died before recording anything)" if lost else ""
    noted = after + (f"\n\n{footer}" if footer else "")  # the console has it already
    client.log_text(parent_run_id, markdown + noted + "\n", "comparison.md")
    client.log_text(parent_run_id, table.to_csv(index=False), "comparison.csv")
    shared(client.set_tag, parent_run_id, NOTE_TAG, note(markdown) + noted)
    print(f"\n{markdown}{after}\n\n{ui_hint(uri, experiment_id)}", flush=True)
    return table
