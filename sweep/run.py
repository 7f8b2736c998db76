"""Entry point: ``python -m sweep.run`` (one run), ``-m a=x,y`` (a grid), ``-m search=optuna`` (a search).

Only Hydra is imported up front; everything heavy is imported once a job really runs, so ``--help``,
``--cfg job`` and config errors answer in about a second.

Exit codes: 0 done; 2 bad input, nothing recorded; 1 a run failed, a grid had a failed job, or a search
stopped early; 130 / 143 interrupted by SIGINT / SIGTERM, with every run ended and every interrupted
trial returned to the budget.
"""

from __future__ import annotations

import logging
import os
import sys

import hydra
from omegaconf import DictConfig

log = logging.getLogger("sweep")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig):
    """One job. In a sweep, a failure becomes a failed outcome, recorded, and the sweep goes on."""
    from sweep.config.errors import ConfigError
    from sweep.config.secrets import mask_secrets
    from sweep.pipeline.job import JobContext, run_job
    from sweep.pipeline.outcome import JobOutcome
    from sweep.runtime.memory import released
    from sweep.runtime.signals import interruptible

    context = JobContext.from_hydra()
    with interruptible(), released():  # also where the job runs in a worker process of joblib or submitit
        try:
            return run_job(cfg, context)
        except ConfigError as error:
            if context.multirun:
                log.error("job %s failed: %s", context.job_number, mask_secrets(str(error)))
                return JobOutcome("failed", error=mask_secrets(str(error)))
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
        except Exception as error:
            from sweep.config.paths import disk_full
            from sweep.pipeline.job import describe, failure_line, output_dir_of

            if context.multirun:
                if disk_full(error) is None:
                    log.exception("job %s failed", context.job_number)
                else:  # a full disk: its traceback says nothing more (sweep/config/paths.py)
                    log.error("job %s failed: %s", context.job_number, mask_secrets(failure_line(error, cfg)))
                return JobOutcome("failed", error=mask_secrets(describe(error, output_dir_of(cfg))))
            # the traceback is kept on the job's MLflow run (tag `traceback`)
            print(f"error: training failed: {mask_secrets(failure_line(error, cfg))}", file=sys.stderr)
            sys.exit(1)


def cli(app=None) -> None:
    """The command: Hydra's app, with bad config-group choices and composition errors in one line (exit
    2), and Ctrl-C / SIGTERM ending every run this process still has open (exit 128 + signal).
    ``app``: another Hydra app on conf/ with the same conventions (sweep.pretrain); default ``main``."""
    import warnings

    from hydra.errors import HydraException

    from sweep.config.errors import ConfigError, bad_input_line
    from sweep.config.groups import check_group_choices
    from sweep.config.secrets import mask_secrets
    from sweep.runtime.signals import Interrupted, interruptible, terminate_children

    try:
        check_group_choices(sys.argv[1:])
    except ConfigError as error:
        print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
        sys.exit(2)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra's composition errors reach us instead of a multi-line report
    # the zoo folder of pre-trained model names (hydra.searchpath, sweep/pretrain/zoo_names.py) exists only
    # once something was saved there: its absence is normal, not worth Hydra's warning on every start
    warnings.filterwarnings("ignore", message="provider=hydra.searchpath in main")
    try:
        with interruptible():
            (app or main)()
    except Interrupted as interrupted:
        ended = _end_open_runs("interrupted", str(interrupted))
        terminate_children()
        ended = f" ({ended} open run(s) ended as interrupted)" if ended else ""
        print(f"{interrupted}: stopped; nothing is left RUNNING{ended}", file=sys.stderr)
        sys.exit(interrupted.exit_code)
    except HydraException as error:  # an unknown group choice, a composition error
        print(bad_input_line(error), file=sys.stderr)
        sys.exit(2)
    except Exception as error:  # a bug or a broken store: the runs still end, the traceback still shows
        _end_open_runs("failed", f"{type(error).__name__}: {error}")
        raise


def _end_open_runs(state: str, error: str) -> int:
    from sweep.config.secrets import mask_secrets
    from sweep.tracking.job_run import end_all

    return end_all(state, mask_secrets(error))


if __name__ == "__main__":
    cli()
