"""``python -m sweep.nightly [overrides ...]``: what cron or CI calls each night.

1. resolve the night: experiment=nightly + your overrides, its date (nightly.date, default today in
   UTC) and study ``<nightly.study_prefix>-<date>``; every model, strategy and cell checked;
2. prepare it: the study created in search.storage, each cell enqueued nightly.trials_per_cell times;
3. search: ``python -m sweep.run -m experiment=nightly search.study_name=<night> search.n_trials=<cells x k> ...``;
4. report: tonight's best per (model, strategy) against each cell's latest earlier result, printed and
   logged on the night's MLflow parent run (nightly/report.md, nightly/report.json) -- by the node that
   ends the night: a node whose search ends while trials still run on other nodes says so and exits 0
   without a verdict (sweep/nightly/progress.py).

The same command again resumes the night (nothing enqueued twice, the budget met exactly);
``--report-only`` writes the report of a night that is over, without running anything.
Only the standard library is imported before the arguments are read: --help answers at once.
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m sweep.nightly [--report-only] [KEY=VALUE ...]

Run tonight's sweep (conf/experiment/nightly.yaml) and compare it with the previous night.

  python -m sweep.nightly                                   # today (UTC), the default matrix
  python -m sweep.nightly nightly.models=[minilm_l3] nightly.strategies=[full,lora] nightly.trials_per_cell=3
  python -m sweep.nightly nightly.date=2026-11-27           # name (or resume) another night
  python -m sweep.nightly hydra/launcher=sweep_slurm search.n_jobs=8 \\
      search.storage='postgresql://sweep:${oc.env:PGPASSWORD}@db/optuna' tracking.uri=http://mlflow:5000
  python -m sweep.nightly --report-only nightly.date=2026-11-27   # the report of a night run by several nodes

Several nodes may share a night (the same command on each): the node that ends it writes the report;
one that ends while trials still run elsewhere says so and exits 0 without a verdict.

Keys: nightly.models, nightly.strategies, nightly.trials_per_cell, nightly.threshold (absolute drop of
search.metrics[0] that is a regression), nightly.date, nightly.study_prefix, nightly.fail_on_missing,
nightly.seeds (each cell's best trial re-run with K new seeds: its value is their mean) and nightly.z (with
seeds, a regression is a drop beyond max(threshold, z x sd over the seeds));
any key of python -m sweep.run (search.storage, tracking.uri, task=..., trainer.max_epochs=...).

Exit codes: 0 no regression (or the first night, or other nodes still run it); 3 regression (a cell
worse by more than the threshold, or a cell that had a result on its latest earlier night and has none
tonight); 2 bad input, nothing recorded; 1 the search failed or stopped early (--report-only: the night
is not over); 130 / 143 interrupted (SIGINT / SIGTERM).
"""
REPORT_ONLY = "--report-only"


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE, end="")
        return 0
    import os
    import warnings

    from hydra.errors import HydraException

    from sweep.config.errors import ConfigError, bad_input_line
    from sweep.config.secrets import mask_secrets

    warnings.filterwarnings("ignore", message="provider=hydra.searchpath in main")  # no zoo folder yet: normal
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    report_only = REPORT_ONLY in argv
    argv = [arg for arg in argv if arg != REPORT_ONLY]
    try:
        from sweep.nightly.night import existing_study, prepare, resolve

        night = resolve(argv)
        if report_only:
            study = existing_study(night)
        else:
            added, used = prepare(night)
    except (ConfigError, HydraException) as error:
        print(bad_input_line(error), file=sys.stderr)
        return 2
    if report_only:
        return report_if_over(night, study, ending="--report-only")
    cells = len(night.cells)
    print(
        f"night {night.study_name}: {cells} cells x {night.nightly.trials_per_cell} trials = {night.nightly.n_trials} "
        f"({used} already used, {added} enqueued now) in {mask_secrets(night.storage_url)}",
        flush=True,
    )
    from sweep.nightly.launch import run_search

    # another node can join the night with this very command: it shares the study's budget and queue
    print(f"search: python -m sweep.run -m {mask_secrets(' '.join(night.search_overrides))}", flush=True)
    code = run_search(night.search_overrides)
    if code != 0:
        print(f"nightly {night.study_name}: the search exited {code}; no regression report", file=sys.stderr)
        return code
    return report_if_over(night, study_of(night), ending="search")


def study_of(night):
    import optuna

    from sweep.search.storage import open_storage

    return optuna.load_study(study_name=night.study_name, storage=open_storage(night.storage_url))


def report_if_over(night, study, ending: str) -> int:
    """The report, if the night is over; otherwise why not. A node whose search ended while others still
    run the night exits 0 (its part is done); a night left with queued trials and none running (returned
    after every worker stopped), or ``--report-only`` on a night not over, exits 1."""
    from sweep.nightly.progress import night_progress

    plan = getattr(night, "plan", None)
    progress = night_progress(study, plan.search.grace_period if plan is not None else 600)
    if progress.over:
        return report(night, study)
    if ending == "search" and progress.running:
        print(
            f"nightly {night.study_name}: this node is done; {progress.describe()} on other nodes: the node that ends the night "
            f"writes its report (or later: python -m sweep.nightly --report-only nightly.date={night.date} ...)",
            flush=True,
        )
        return 0
    print(
        f"nightly {night.study_name}: not over, no verdict: {progress.describe()}; when no node runs it any more, resume it "
        f"with python -m sweep.nightly nightly.date={night.date} ...",
        file=sys.stderr,
    )
    return 1


def report(night, study) -> int:
    from sweep.config.secrets import mask_secrets
    from sweep.nightly.record import record_report
    from sweep.nightly.report import night_report
    from sweep.search.storage import open_storage
    from sweep.search.study import IDENTITY

    nightly = night.nightly
    result = night_report(
        open_storage(night.storage_url), night.study_name, nightly.study_prefix, night.date, night.cells, night.metric, night.direction,
        nightly.threshold, nightly.fail_on_missing, nightly.z,
    )  # fmt: skip
    print("\n" + result.markdown(), flush=True)
    identity = str(study.user_attrs.get(IDENTITY, ""))
    parent = record_report(result, night.tracking_uri, night.experiment, mask_secrets(night.storage_url), identity)
    if parent:
        print(f"report logged on the night's parent run {parent}: {ARTIFACTS}", flush=True)
    if result.failing:
        print(result.verdict_line(), file=sys.stderr)
    return result.exit_code


ARTIFACTS = "nightly/report.md, nightly/report.json"

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
