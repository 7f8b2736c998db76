"""``python -m sweep.select select.method=halving``: model selection that checks itself. Every candidate x strategy
(an arm) is fine-tuned briefly as a real ``sweep.run`` job, and successive halving (sweep/select/halving.py) gives the
longer budgets to the better half; the ranking is compared with the frozen-feature scores (when ``scores`` are
given) and with the fine-tuned runs of the experiment (weighted Kendall tau, sweep/select/finetuned.py).

Order, as in select_job.py: every arm's config is checked (sweep/select/arms.py) and the frozen scores computed
before the select run opens (bad input: exit 2, nothing recorded). Then the select run (``sweep.kind=select``,
``select.method=halving``) opens, and each arm's job runs through ``sweep.pipeline.job.run_job`` as a child of it
(``mlflow.parentRunId``), tagged ``select.round``, ``select.arm``, ``select.steps`` and ``sweep.kind=halving`` (so
that neither this module's fine-tuned ranking nor sweep.report counts a short budget as a result). Ctrl-C or
SIGTERM during an arm: run_job ends the arm's run as interrupted, this module the select run, and the entry point
exits 130 / 143 (sweep/runtime/signals.py); nothing stays RUNNING.
"""

from __future__ import annotations

import logging
import os
import traceback

from omegaconf import DictConfig

log = logging.getLogger("sweep")

SHOWN = {"logme": "LogME", "hscore": "H-score", "knn": "k-NN", "linear": "the linear probe"}


class ArmTrainer:
    """``train(arm, round, steps)`` for successive_halving: one sweep.run job, a child of the select run."""

    def __init__(self, client, experiment_id: str, parent_run_id: str, arms: dict):
        self.client, self.experiment_id, self.parent_run_id, self.arms = client, experiment_id, parent_run_id, arms

    def __call__(self, arm: tuple[str, str], round_number: int, steps: int):
        from sweep.pipeline.context import JobContext
        from sweep.pipeline.job import run_job
        from sweep.runtime.memory import release_memory
        from sweep.select.arms import with_budget
        from sweep.select.halving import Outcome

        cfg = with_budget(self.arms[arm], steps, round_number)
        try:
            outcome = run_job(cfg, JobContext(True, self.parent_run_id, None))
        finally:  # also when it failed or was interrupted: its run is an arm's, not a fine-tuned result
            self.tag(arm, round_number, steps)
            release_memory()  # one arm's model at a time
        value = outcome.value if outcome.state == "finished" else None
        return Outcome(value, outcome.run_id, outcome.state, outcome.error)

    def tag(self, arm: tuple[str, str], round_number: int, steps: int) -> None:
        """Tag the select run's child this arm just opened (arms run one at a time: the one not tagged yet)."""
        from sweep.select.arms import ARM_KIND, arm_name
        from sweep.tracking.job_run import JobRun

        query = f"tags.mlflow.parentRunId = '{self.parent_run_id}'"
        tags = {"select.arm": arm_name(*arm), "select.round": round_number, "select.steps": steps, "sweep.kind": ARM_KIND}
        for run in self.client.search_runs([self.experiment_id], query, max_results=5000):
            if "select.arm" not in run.data.tags:
                JobRun(self.client, run.info.run_id).set_tags(tags)


def run_halving(cfg: DictConfig, plan, uri: str):
    from sweep.config.schema import job_container
    from sweep.pipeline.job import state_of
    from sweep.pipeline.validate import validate
    from sweep.runtime.console import quiet_libraries
    from sweep.runtime.hardware import cpu_name
    from sweep.select.arms import strategies_of
    from sweep.select.halving import successive_halving
    from sweep.select.select_job import Selection, frozen_scores
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.orphans import close_orphans
    from sweep.tracking.store import client_and_experiment, ui_hint

    root = plan.root
    select = root.select
    header, order = frozen_scores(plan) if root.scores else ("", [])
    quiet_libraries()
    trainer = validate(next(iter(plan.arms.values()))).root.trainer  # every arm: the same task, monitor and mode
    _, strategies = strategies_of(select)
    candidates = list(root.candidates)
    client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
    close_orphans(client, experiment_id)
    tags = {
        "sweep.kind": "select",
        "select.method": "halving",
        "task": root.task.name,
        "select.candidates": ",".join(candidates),
        "select.strategies": ",".join(strategies),
        "select.eta": select.eta,
        "select.min_steps": select.min_steps,
        "cpu": cpu_name(),
    }
    name = root.tracking.run_name or f"select-halving-{root.task.name}"
    run = JobRun.open(client, experiment_id, name, {key: str(value) for key, value in tags.items()}, job_container(cfg), None)
    try:
        arms = ArmTrainer(client, experiment_id, run.run_id, plan.arms)
        result = successive_halving(list(plan.arms), arms, select.min_steps, select.eta, select.rounds, trainer.mode)
        if result.best.value is None:
            raise RuntimeError(f"every arm failed in round 0 (see the error tags of the select run {run.run_id}'s children)")
        text, frame, metrics, taus = summarise(client, experiment_id, root, result, order, trainer, header, candidates, strategies)
        run.log_metrics(metrics)
        client.log_text(run.run_id, text, "select.md")
        client.log_text(run.run_id, frame.to_csv(index=False), "select.csv")
        from sweep.config.secrets import mask_secrets
        from sweep.tracking.ui import NOTE_TAG, note

        run.set_tags({NOTE_TAG: note(mask_secrets(text)), "select.top": result.best.arm[0], "select.top_arm": "-".join(result.best.arm)})
    except BaseException as error:
        run.finish(state_of(error), error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
        raise
    run.finish("finished")
    recorded = f"recorded: run {run.run_id} (select.md, select.csv; its arms are child runs)"
    print(f"\n{text}\n{recorded}\n{ui_hint(uri, experiment_id)}", flush=True)
    return Selection(run.run_id, text, taus)


def model_ranks(result) -> dict[str, int]:
    """model -> the rank of its best arm (1 = first)."""
    ranks: dict[str, int] = {}
    for position, placed in enumerate(result.ranking, start=1):
        ranks.setdefault(placed.arm[0], position)
    return ranks


def summarise(client, experiment_id, root, result, order, trainer, header, candidates, strategies):
    """The printed text, the halving table, the metrics of the select run and the taus."""
    from scipy.stats import weightedtau

    from sweep.runtime.hardware import cpu_name
    from sweep.select.finetuned import finetuned_results, weighted_tau
    from sweep.select.select_job import tau_line

    select = root.select
    metric, mode = select.metric, select.mode
    finetuned = finetuned_results(client, experiment_id, root.task.name, candidates, metric, mode)
    ranks = model_ranks(result)
    halving_scores = {model: -float(rank) for model, rank in ranks.items()}
    taus = {"halving": weighted_tau(halving_scores, finetuned, mode)}
    for name in root.scores:
        taus[name] = weighted_tau({item.name: item.scores[name] for item in order}, finetuned, mode)
    frame = halving_table(result, trainer.monitor, finetuned, metric, len(result.budgets))
    from sweep.select.ranking import to_markdown

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    steps = sum(trial.steps for trials in result.rounds for trial in trials)
    arms = len(result.ranking)
    intro = (
        f"select on {root.task.name} by successive halving: {len(candidates)} candidate(s) x {len(strategies)} strategy(ies) "
        f"({', '.join(strategies)}) = {arms} arm(s); budgets {', '.join(map(str, result.budgets))} optimizer steps "
        f"(eta {select.eta}), {trainer.monitor} ({trainer.mode}) on the validation split; {result.stopped}; "
        f"{steps} steps in {len(result.rounds)} round(s), wall time {result.seconds:.1f} s ({cpu_name()}, {cores} cores)"
    )
    lines = [intro, "", to_markdown(frame), ""]
    where = f"{metric} of finished runs on task {root.task.name} in experiment {root.tracking.experiment}"
    if taus["halving"] is None:
        have = ", ".join(sorted(finetuned)) or "none"
        found = f"{len(finetuned)} of {len(candidates)} candidates have fine-tuned results ({where}: {have})"
        lines.append(f"weighted Kendall tau: not computed: {found}; it needs 2")
    else:
        lines.append(
            f"weighted Kendall tau between the halving ranking and the fine-tuned ranking ({where}, {len(finetuned)} of "
            f"{len(candidates)} candidates): {taus['halving']:.3f}"
        )
    metrics = {"halving_s": result.seconds, "halving_steps": steps, "halving_rounds": len(result.rounds)}
    for position, placed in enumerate(result.ranking, start=1):
        arm = "-".join(placed.arm)
        metrics.update({f"halving_rank/{arm}": position, f"halving_round/{arm}": placed.reached})
        if placed.value is not None:
            metrics[f"halving/{arm}"] = placed.value
        metrics[f"halving_seconds/{arm}"] = sum(trial.seconds for trial in placed.trials)
    if taus["halving"] is not None:
        metrics["weighted_tau/halving"] = metrics["weighted_tau"] = taus["halving"]
    if order:
        first = root.scores[0]
        lines += ["", header, "", to_markdown(side_by_side(order, root.scores, ranks, result, finetuned, metric, mode)), ""]
        if taus[first] is not None:  # else said once, above
            lines.append(tau_line(taus, root.scores, finetuned, len(order), metric, root.task.name, root.tracking.experiment))
        scored = {item.name: item.scores[first] for item in order}
        common = [model for model in scored if model in halving_scores]
        between = weightedtau([scored[m] for m in common], [halving_scores[m] for m in common]).statistic if len(common) >= 2 else None
        lines.append(agreement(SHOWN.get(first, first), order[0].name, result.best.arm[0], between))
        for item in order:
            metrics.update({f"{score}/{item.name}": value for score, value in item.scores.items()})
            metrics[f"rank/{item.name}"] = order.index(item) + 1
        metrics.update({f"weighted_tau/{name}": tau for name, tau in taus.items() if tau is not None and name != "halving"})
        if between is not None:
            metrics[f"weighted_tau/{first}_vs_halving"] = float(between)
    return "\n".join(lines) + "\n", frame, metrics, taus


def agreement(score: str, score_top: str, halving_top: str, between: float | None) -> str:
    tau = f" (weighted Kendall tau between the two rankings: {between:.3f})" if between is not None else ""
    if score_top == halving_top:
        return f"agree: {score} and halving both put {score_top} first{tau}"
    return f"disagree: {score} puts {score_top} first, halving {halving_top}{tau}"


def halving_table(result, monitor: str, finetuned: dict, metric: str, rounds: int):
    import numpy as np
    import pandas as pd

    rows = []
    for position, placed in enumerate(result.ranking, start=1):
        model, strategy = placed.arm
        row = {"rank": position, "model": model, "strategy": strategy, "round reached": placed.reached, "steps": placed.last.steps}
        row[monitor] = placed.value if placed.value is not None else np.nan
        by_round = {trial.round: trial for trial in placed.trials}
        for number in range(rounds):
            trial = by_round.get(number)
            row[f"r{number} {monitor}"] = trial.value if trial is not None and trial.value is not None else np.nan
        if finetuned:
            found = finetuned.get(model)
            row[f"fine-tuned {metric}"] = found.value if found else np.nan
        row["state"] = placed.last.state
        row["train s"] = sum(trial.seconds for trial in placed.trials)
        rows.append(row)
    return pd.DataFrame(rows)


def side_by_side(order, scores: list[str], ranks: dict, result, finetuned: dict, metric: str, mode: str):
    """Per model: the frozen score's rank and value, halving's rank (its best arm), and the fine-tuned rank."""
    import numpy as np
    import pandas as pd

    first = scores[0]
    sign = -1.0 if mode == "max" else 1.0
    truth = {model: position for position, model in enumerate(sorted(finetuned, key=lambda m: sign * finetuned[m].value), start=1)}
    best_arm = {}
    for placed in result.ranking:
        best_arm.setdefault(placed.arm[0], placed)
    rows = []
    for position, item in enumerate(order, start=1):
        placed = best_arm.get(item.name)
        row = {"model": item.name, f"{first} rank": position, first: item.scores[first]}
        row["halving rank"] = ranks.get(item.name, "")
        row["halving arm"] = "-".join(placed.arm) if placed else ""
        row["halving value"] = placed.value if placed and placed.value is not None else np.nan
        if finetuned:
            row["fine-tuned rank"] = truth.get(item.name, "")
            row[f"fine-tuned {metric}"] = finetuned[item.name].value if item.name in finetuned else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
