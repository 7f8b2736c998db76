"""``python -m sweep.report [KEY=VALUE ...]``: which model, which strategy, from the finished runs of an
experiment or of one sweep, as report.md and report.html (plots inside) in a folder, logged on MLflow.

Only the standard library is imported before the arguments are read: --help answers at once. Bad input
(an unknown experiment, parent run or study, nothing finished to compare, a bad constraint) is one line
naming its key, exit 2, and nothing is written or recorded.
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m sweep.report [KEY=VALUE ...]

Which model, which strategy: per model x strategy the best validation metric (the mean ± sd over seeds, each
seed a row, a bootstrap interval from the runs' per-example predictions), its test metrics, trainable share,
training time and peak memory; the Pareto fronts of accuracy against each cost; a recommendation that says
which differences are noise.

  python -m sweep.report                                        # every run of the experiment (tracking.experiment)
  python -m sweep.report report.parent=<run id>                 # one grid or search: its parent run's jobs
  python -m sweep.report report.study=<study name>              # one Optuna search (or nightly-<date>)
  python -m sweep.report report.max_trainable_share=0.01        # the best with at most 1 % trainable parameters
  python -m sweep.report report.max_train_s=60 report.max_memory_mb=4000 report.tolerance=0.02

Keys:
  report.parent, report.study      which sweep (default: the whole experiment)
  report.task                      which task, when the runs cover several
  report.metric                    the validation metric ranked (default: the runs' trainer.monitor)
  report.max_trainable_share       constraints: a fraction (0.01 = 1 %); report.max_train_s (seconds);
  report.max_memory_mb             peak resident memory (MB)
  report.tolerance                 the floor of "as good as the best" (0.01 = 1 point), default 0.01; above it,
                                   "not significantly worse" on the paired bootstrap also counts
  report.confidence                of the intervals and of "significantly worse" (default 0.95)
  report.resamples                 bootstrap resamples (default 1000; 0: no intervals, the tolerance alone)
  report.cost                      what "cheapest" weighs first: share (default) | time | memory
  report.out                       the folder (default: <paths.output_dir>/reports/<experiment, sweep or study>)
  tracking.uri, tracking.experiment, paths.output_dir    the MLflow store, as for python -m sweep.run

Writes report.md, report.html (self-contained) and the plots; logs them (artifacts report/) and the
Markdown as the Description on the sweep's parent run, or on a new run (sweep.kind=report) in the experiment.
Exit codes: 0 written; 2 bad input, nothing written or recorded.
"""


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE, end="")
        return 0
    import os
    import warnings

    from hydra.errors import HydraException

    from sweep.config.errors import ConfigError, bad_input_line

    warnings.filterwarnings("ignore", message="provider=hydra.searchpath in main")
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        from sweep.config.paths import check_output_dir
        from sweep.report.assemble import build_report
        from sweep.report.config import resolve
        from sweep.report.source import open_source
        from sweep.tracking.store import tracking_uri

        settings = resolve(argv)
        config = settings.report
        # where the report goes, checked before the store is read
        out, key = (config.out, "report.out") if config.out else (settings.paths.output_dir, "paths.output_dir")
        check_output_dir(out, key)
        uri = tracking_uri(settings.tracking.uri, settings.paths.output_dir)
        source = open_source(uri, settings.tracking.experiment, config.parent, config.study)
        report = build_report(source, config)
    except (ConfigError, HydraException) as error:
        print(bad_input_line(error), file=sys.stderr)
        return 2
    folder = write(report, settings)
    from sweep.report.record import ARTIFACT_DIR, record

    run_id = record(report, folder)
    print(f"{report.recommendation.text}\n", flush=True)
    print(f"report: {folder / 'report.md'}, {folder / 'report.html'}", flush=True)
    print(f"logged on run {run_id} (artifacts {ARTIFACT_DIR}/, and its Description in the MLflow UI)", flush=True)
    return 0


def folder_of(report, settings):
    import re
    from pathlib import Path

    if settings.report.out:
        return Path(settings.report.out)
    name = re.sub(r"[^\w.-]+", "_", report.source.subject)  # a folder name from a run's or study's name
    task = "" if report.source.scope_key != "tracking.experiment" else f"-{report.table.task}"
    return Path(settings.paths.output_dir) / "reports" / f"{name}{task}"


def write(report, settings):
    from sweep.report.plots import plot_all
    from sweep.report.render import html_page, markdown

    folder = folder_of(report, settings)
    folder.mkdir(parents=True, exist_ok=True)
    images = plot_all(report.table)
    for name, data in images.items():
        (folder / name).write_bytes(data)
    (folder / "report.md").write_text(markdown(report, list(images)))
    (folder / "report.html").write_text(html_page(report, images))
    return folder


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
