"""Entry point: ``python -m sweep.run`` (one run), ``-m a=x,y`` (a grid), ``-m search=optuna`` (a search).

Only Hydra is imported up front; everything heavy is imported once a job really runs, so ``--help``,
``--cfg job`` and config errors answer in about a second.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

log = logging.getLogger("sweep")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig):
    """One job. In a sweep, a failure becomes a failed outcome, recorded, and the sweep goes on."""
    from sweep.errors import ConfigError
    from sweep.job import JobContext, run_job
    from sweep.outcome import JobOutcome
    from sweep.secrets import mask_secrets

    context = JobContext.from_hydra()
    try:
        return run_job(cfg, context)
    except ConfigError as error:
        if context.multirun:
            log.error("job %s failed: %s", context.job_number, error)
            return JobOutcome("failed", error=mask_secrets(str(error)))
        print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        if context.multirun:
            log.exception("job %s failed", context.job_number)
            return JobOutcome("failed", error=mask_secrets(f"{type(error).__name__}: {error}"))
        # the traceback is kept on the job's MLflow run (tag `traceback`)
        print(f"error: training failed: {mask_secrets(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
