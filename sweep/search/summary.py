"""End of a search: best trial(s) or the Pareto front, a best.yaml that reproduces the best trial as
a single run, Optuna's plots, and a summary of the compute used (what pruning saved shows here)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sweep.config.constraints import feasible
from sweep.search.liveness import counts
from sweep.search.plan import SearchPlan
from sweep.search.space import describe_params
from sweep.search.worker import NORMAL_ENDS, first_line

log = logging.getLogger("sweep")
SKIPPED_KEYS = ("trial", "search", "hydra", "experiment", "nightly")  # best.yaml is itself an experiment


def trial_steps(trial) -> int:
    return int(trial.user_attrs.get("steps", 0))


def summary(study) -> dict[str, float]:
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if counts(t)]
    states = [t.state for t in trials]
    done = [t for t in trials if t.state.is_finished()]
    return {
        "trials_complete": states.count(optuna.trial.TrialState.COMPLETE),
        "trials_pruned": states.count(optuna.trial.TrialState.PRUNED),
        "trials_failed": states.count(optuna.trial.TrialState.FAIL),
        "optimizer_steps_total": sum(trial_steps(t) for t in done),
        "trial_seconds_total": sum(t.duration.total_seconds() for t in done if t.duration is not None),
    }


NUMBER = re.compile(r"\d+(\.\d+)?([eE][-+]?\d+)?")


def failure_reasons(study) -> list[tuple[str, int]]:
    """The distinct reasons trials failed by their own doing, most frequent first: each error's first line,
    grouped with those that differ only in their numbers (the sampled value a type check refused), shown
    by the first of them."""
    import optuna

    failed = [t for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.FAIL]) if counts(t)]
    lines = [first_line(t.user_attrs.get("error", "")) for t in failed]
    groups = Counter(NUMBER.sub("#", line) for line in lines)
    shown = {}
    for line in lines:
        shown.setdefault(NUMBER.sub("#", line), line)
    return [(shown[key], n) for key, n in groups.most_common()]


def describe_failures(reasons: list[tuple[str, int]]) -> str:
    if not reasons:
        return ""
    total = sum(n for _, n in reasons)
    return f"{total} trial(s) failed, by reason:\n" + "\n".join(f"  {n} x {reason}" for reason, n in reasons)


def describe_scores(trial, plan: SearchPlan) -> str:
    return "  ".join(f"{metric}={value:.4f}" for metric, value in zip(plan.search.metrics, trial.values))


def best_trials(study) -> list:
    """The trials whose models the study keeps (sweep/tracking/kept_models.py): the best, on a tie in value the
    earliest; or the Pareto front. Not Optuna's ``study.best_trial``: on PostgreSQL its query orders a tie
    arbitrarily, and the summary, the tag and best.yaml then named a trial whose model had been removed.
    With search.constraints, among the trials that meet them (all complete ones if none does)."""
    import optuna

    from sweep.tracking.kept_models import kept_numbers

    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    # search.constraints: an infeasible trial is never the best while a feasible one exists
    candidates = [t for t in complete if feasible(t)] or complete
    kept = kept_numbers(candidates, study.directions)
    return sorted((t for t in candidates if t.number in kept), key=lambda t: t.number)


def constraints_line(study, limits: dict[str, float], best: list) -> str:
    """How many complete trials met search.constraints, and whether the best is one of them."""
    import optuna

    from sweep.search.constraints import describe_limits

    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    met = sum(1 for t in complete if feasible(t))
    line = f"constraints {describe_limits(limits)}: {met} of {len(complete)} complete trial(s) met them"
    if complete and not met:
        line += "; none did, so the best below is the best overall and breaks them"
    return line


def best_yaml(trial, groups: set[str], plan: SearchPlan) -> str:
    """A ``# @package _global_`` experiment config: group choices as defaults, the rest as values."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    defaults, values, omitted = [], OmegaConf.create(), []
    for override in OverridesParser.create().parse_overrides(trial.user_attrs["overrides"]):
        key = override.key_or_group
        if key.split(".")[0].split("/")[0] in SKIPPED_KEYS:
            continue
        if "***" in override.input_line:  # stored masked: a password is never written here
            omitted.append(key)
            continue
        if key in groups:
            defaults.append({f"override /{key}": override.value()})
        else:
            OmegaConf.update(values, key, override.value(), force_add=True)
    scores = describe_scores(trial, plan)
    body = OmegaConf.to_yaml(OmegaConf.merge({"defaults": defaults}, values))
    note = f"# left out, they hold a password: {', '.join(omitted)}\n" if omitted else ""
    return f"# @package _global_\n# trial {trial.number} of study {plan.study_name}: {scores}\n{note}{body}"


def write_plots(study, folder: Path) -> None:
    from optuna import visualization as vis

    plots = {"history": vis.plot_optimization_history, "importances": vis.plot_param_importances, "parallel": vis.plot_parallel_coordinate}
    if len(study.directions) > 1:
        plots = {"pareto_front": vis.plot_pareto_front}
    for name, plot in plots.items():
        try:
            plot(study).write_html(folder / f"{name}.html", include_plotlyjs="cdn")
        except Exception as error:  # too few trials for this plot, typically; the others still come
            log.info("plot %s skipped: %s", name, error)


def end_of_search(plan: SearchPlan, study, tracking, config: DictConfig, stop_reason: str, stop_said: str | None = None) -> None:
    from sweep.config.secrets import mask_secrets
    from sweep.search.storage import file_of

    numbers = summary(study)
    best = best_trials(study)
    out = Path(config.paths.output_dir).resolve() / "optuna" / plan.study_name
    (out / "experiment").mkdir(parents=True, exist_ok=True)
    lines = [
        f"study {plan.study_name}: {numbers['trials_complete']} complete, {numbers['trials_pruned']} pruned, "
        f"{numbers['trials_failed']} failed; {numbers['optimizer_steps_total']} optimizer steps, "
        f"{numbers['trial_seconds_total']:.0f} s in trials",
    ]
    title = "Pareto front" if len(plan.search.metrics) > 1 else "best trial"
    limits = dict(plan.search.constraints)
    if limits:
        lines.append(constraints_line(study, limits, best))
    for trial in best:
        scores = describe_scores(trial, plan)
        lines.append(f"{title}: trial {trial.number}: {scores}  |  {describe_params(trial.params)}")
    files = out / "files"
    files.mkdir(exist_ok=True)
    if best:
        groups = set(config.hydra.runtime.choices.keys())
        text = best_yaml(best[0], groups, plan)
        (out / "experiment" / "best.yaml").write_text(text)
        (files / "best.yaml").write_text(text)
        lines.append(f"reproduce the best trial: python -m sweep.run --config-dir {out} experiment=best")
        write_plots(study, files)
    failures = describe_failures(failure_reasons(study))
    if failures:
        lines.append(failures)
    said = stop_said or stop_reason
    if stop_reason not in NORMAL_ENDS or said != stop_reason:  # an error, or a study-level stop (search.patience, ...)
        lines.append(f"stopped: {said}")
    dashboard = file_of(plan.storage_url) if plan.storage_url.startswith("journal:") else mask_secrets(plan.storage_url)
    lines.append(f"look at the study: optuna-dashboard {dashboard}")
    print("\n" + "\n".join(lines), flush=True)
    (files / "summary.txt").write_text("\n".join(lines) + "\n")

    metrics = {key: float(value) for key, value in numbers.items()}
    if best and len(best) == 1:
        metrics.update({f"best_{m}": v for m, v in zip(plan.search.metrics, best[0].values)})
    tags = {"sweep.kind": "optuna", "optuna.study": plan.study_name, "sweep.stop_reason": said, "search.stop_reason": said}
    if best:
        tags["optuna.best_trials"] = ",".join(str(t.number) for t in best)
    tracking.log_summary(metrics, tags)
    tracking.log_files(files)
