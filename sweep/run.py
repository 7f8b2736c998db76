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
def main(cfg: DictConfig) -> float:
    from sweep.errors import ConfigError
    from sweep.job import JobContext, run_job

    context = JobContext.from_hydra()
    try:
        return run_job(cfg, context)
    except ConfigError as error:
        if context.multirun:  # one bad job of a sweep: recorded as failed, the sweep goes on
            log.error("job %s failed: %s", context.job_number, error)
            return float("nan")
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        if context.multirun:
            log.exception("job %s failed", context.job_number)
            return float("nan")
        raise


if __name__ == "__main__":
    main()
