"""The selection as one MLflow run (``sweep.kind=select``): the table as artifacts (select.md, select.csv)
and as the run's description, every score of every candidate as a metric ``<score>/<model>``.

One run, not a child run per candidate: a child would carry the ``model`` and ``task`` tags that mark a
fine-tuning run, and every lookup by them (this module's own fine-tuned ranking, a teacher by model
name, comparison tables) would have to know to skip it. On the run's page the metrics of one score sit
side by side (``logme/minilm_l6``, ``logme/minilm_l3``, ...), and two selections compare as two rows.
"""

from __future__ import annotations

import traceback


def record(client, experiment_id: str, cfg, root, order, text: str, frame, taus: dict, cpu: str) -> str:
    from sweep.config.schema import job_container
    from sweep.config.secrets import mask_secrets
    from sweep.pipeline.job import state_of
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.ui import NOTE_TAG, note

    primary = root.scores[0]
    tags = {
        "sweep.kind": "select",
        "task": root.task.name,
        "select.candidates": ",".join(item.name for item in order),
        "select.ranked_by": primary,
        "select.top": order[0].name,
        "cpu": cpu,
    }
    name = root.tracking.run_name or f"select-{root.task.name}"
    run = JobRun.open(client, experiment_id, name, tags, job_container(cfg), None)
    try:
        metrics = {"rows": order[0].rows}
        for rank, item in enumerate(order, start=1):
            # MLflow refuses "+" in a metric name: a dual encoder's pair vit_small+minilm_l6 is logged as vit_small:minilm_l6
            named = item.name.replace("+", ":")
            metrics.update({f"{score}/{named}": value for score, value in item.scores.items()})
            metrics.update(
                {
                    f"rank/{named}": rank,
                    f"dimensions/{named}": item.dimensions,
                    f"seconds/{named}": item.total_s,
                    f"features_s/{named}": item.features_s,
                    f"scoring_s/{named}": item.scoring_s,
                    f"from_cache/{named}": int(item.cached),
                }
            )
        for score, tau in taus.items():
            if tau is not None:
                metrics[f"weighted_tau/{score}"] = tau
        if taus[primary] is not None:
            metrics["weighted_tau"] = taus[primary]
        run.log_metrics(metrics)
        run.log_data(root.task, {"train": order[0].rows})
        shown = mask_secrets(text)
        client.log_text(run.run_id, shown, "select.md")
        client.log_text(run.run_id, frame.to_csv(index=False), "select.csv")
        client.set_tag(run.run_id, NOTE_TAG, note(shown))
    except BaseException as error:
        run.finish(state_of(error), error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
        raise
    run.finish("finished")
    return run.run_id
