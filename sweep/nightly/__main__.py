"""``python -m sweep.nightly [overrides ...]``: what cron or CI calls each night.

1. resolve the night: experiment=nightly + your overrides, its date (nightly.date, default today in
   UTC) and study ``<nightly.study_prefix>-<date>``; every model, strategy and cell checked;
2. prepare it: the study created in search.storage, each cell enqueued nightly.trials_per_cell times;
3. search: ``python -m sweep.run -m experiment=nightly search.study_name=<night> search.n_trials=<cells x k> ...``;
4. report: tonight's best per (model, strategy) against the previous night's, printed and logged on
   the night's MLflow parent run (nightly/report.md, nightly/report.json).

The same command again resumes the night (nothing enqueued twice, the budget met exactly).
Only the standard library is imported before the arguments are read: --help answers at once.
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m sweep.nightly [KEY=VALUE ...]

Run tonight's sweep (conf/experiment/nightly.yaml) and compare it with the previous night.

  python -m sweep.nightly                                   # today (UTC), the default matrix
  python -m sweep.nightly nightly.models=[minilm_l3] nightly.strategies=[full,lora] nightly.trials_per_cell=3
  python -m sweep.nightly nightly.date=2026-11-27           # name (or resume) another night
  python -m sweep.nightly hydra/launcher=submitit_slurm search.n_jobs=8 \\
      search.storage='postgresql://sweep:${oc.env:PGPASSWORD}@db/optuna' tracking.uri=http://mlflow:5000

Keys: nightly.models, nightly.strategies, nightly.trials_per_cell, nightly.threshold (absolute drop of
search.metrics[0] that is a regression), nightly.date, nightly.study_prefix, nightly.fail_on_missing;
any key of python -m sweep.run (search.storage, tracking.uri, task=..., trainer.max_epochs=...).

Exit codes: 0 no regression (or the first night); 3 regression (a cell worse by more than the
threshold, or a cell that had a result last night and has none tonight); 2 bad input, nothing
recorded; 1 the search failed or stopped early; 130 / 143 interrupted (SIGINT / SIGTERM).
"""


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
    try:
        from sweep.nightly.night import prepare, resolve

        night = resolve(argv)
        added, used = prepare(night)
    except (ConfigError, HydraException) as error:
        print(bad_input_line(error), file=sys.stderr)
        return 2
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
    return report(night)


def report(night) -> int:
    from sweep.config.secrets import mask_secrets
    from sweep.nightly.record import record_report
    from sweep.nightly.report import night_report
    from sweep.search.storage import open_storage

    nightly = night.nightly
    result = night_report(
        open_storage(night.storage_url), night.study_name, nightly.study_prefix, night.date, night.cells, night.metric, night.direction,
        nightly.threshold, nightly.fail_on_missing,
    )  # fmt: skip
    print("\n" + result.markdown(), flush=True)
    parent = record_report(result, night.tracking_uri, night.experiment, mask_secrets(night.storage_url))
    if parent:
        print(f"report logged on the night's parent run {parent}: {ARTIFACTS}", flush=True)
    if result.failing:
        print(result.verdict_line(), file=sys.stderr)
    return result.exit_code


ARTIFACTS = "nightly/report.md, nightly/report.json"

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
