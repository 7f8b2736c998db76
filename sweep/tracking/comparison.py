"""The comparison table of a sweep: one row per child run, best first."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sweep.tracking.params import configuration_of
from sweep.tracking.reuse import REUSED_FROM

if TYPE_CHECKING:
    import pandas as pd


def seed_summary(table: pd.DataFrame, monitor: str) -> pd.DataFrame:
    """Per configuration run with several seeds (params equal but ``seed``): the mean ± sd over its finished runs of
    the monitored and test metrics, and n. Empty when every configuration ran once."""
    import pandas as pd

    finished = table[table["state"] == "finished"] if not table.empty else table
    if not finished.empty:  # a run answered from another of the table (search.reuse) is that run again, not a seed
        finished = finished[~finished["reused_from"].isin(set(table["run_id"]))]
    keys = ["model", "strategy", "configuration"]
    if finished.empty or finished.groupby(keys).size().max() < 2:
        return pd.DataFrame()
    columns = [column for column in finished.columns if column.startswith(("best ", "test/"))]
    rows = []
    for _, group in finished.groupby(keys, sort=False):
        row = {"model": group["model"].iloc[0], "strategy": group["strategy"].iloc[0], "n": len(group)}
        for column in columns:
            values = group[column].astype(float)
            row[column] = f"{values.mean():.4f} ± {values.std(ddof=1):.4f}" if len(values) > 1 else f"{values.mean():.4f}"
        row["seeds"] = ", ".join(sorted(map(str, group["seed"]), key=lambda seed: (len(seed), seed)))  # 2 before 10
        rows.append(row)
    summary = pd.DataFrame(rows)
    means = [float(text.split(" ")[0]) for text in summary[f"best {monitor}"]]
    return summary.assign(_mean=means).sort_values("_mean", ascending=False).drop(columns="_mean").reset_index(drop=True)


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
                "note": note_of(tags)[:80],
                "seed": run.data.params.get("seed", ""),
                "configuration": configuration_of(run.data.params),
                "run_id": run.info.run_id,
                "reused_from": tags.get(REUSED_FROM, ""),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if not table["trial"].astype(bool).any():
        table = table.drop(columns="trial")
    return table.sort_values(f"best {monitor}", ascending=mode == "min", na_position="last").reset_index(drop=True)


def note_of(tags: dict) -> str:
    if "pruned_step" in tags and "error" not in tags:
        return f"pruned at step {tags['pruned_step']}"
    if REUSED_FROM in tags:  # not trained: answered from that run (search.reuse)
        return f"reused from {tags[REUSED_FROM]}"
    return tags.get("error", "")


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
    summary = seed_summary(table, monitor)
    if mode == "min" and not summary.empty:
        summary = summary.iloc[::-1].reset_index(drop=True)
    if not table.empty:  # shown as a column when the runs differ in it
        table = table.drop(columns=["configuration", "run_id", "reused_from"] + (["seed"] if len(set(table["seed"])) < 2 else []))
    markdown = mask_secrets(to_markdown(table))
    if not summary.empty:  # per configuration over its seeds first, each run below
        markdown = f"Over seeds (mean ± sd):\n\n{summary.to_markdown(index=False, disable_numparse=True)}\n\nEach run:\n\n{markdown}"
    after = f"\n\n{lost} job(s) left no run at all (their process died before recording anything)" if lost else ""
    noted = after + (f"\n\n{footer}" if footer else "")  # the console has it already
    client.log_text(parent_run_id, markdown + noted + "\n", "comparison.md")
    client.log_text(parent_run_id, table.to_csv(index=False), "comparison.csv")
    shared(client.set_tag, parent_run_id, NOTE_TAG, note(markdown) + noted)
    print(f"\n{markdown}{after}\n\n{ui_hint(uri, experiment_id)}", flush=True)
    return table
