"""A rank > 0 of a DDP job: the same job as rank 0, trained beside it, recording nothing.

Rank 0 owns the job's records: its MLflow run, its Optuna trial (reports, prune decisions, the result),
its kept model and its output folder (sweep/pipeline/job.py). A follower builds the same job from the same
config (the same data, split, tokens and model; DDP copies rank 0's weights to it at the start), takes
part in every collective of the fit and the test (gradients, metric syncs, rank 0's prune and best-weight
decisions, broadcast), and returns without writing anything but the shared caches.

Two ways in: SLURM tasks and torchrun ranks run the job's own command, and sweep/pipeline/job.py hands ranks > 0
to ``follow``; the ranks that Lightning's launcher would start from rank 0 are started by ours
(sweep/distributed/launcher.py) as ``python -m sweep.pipeline.follower``, with the job's resolved config in the environment.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from omegaconf import DictConfig, OmegaConf

from sweep.pipeline.outcome import JobOutcome

log = logging.getLogger("sweep")


def follows_pruning(root) -> bool:
    """Whether rank 0 runs a pruning callback (sweep/search/binding.py): a trial of a single-objective search."""
    from sweep.config.schema import search_config

    return root.trial is not None and not search_config(root.search).multi_objective


def follow(cfg: DictConfig) -> JobOutcome:
    """Train as a rank > 0: raises what rank 0 raises too (a bad config, a failed fit), so both fail alike."""
    import optuna

    from sweep.pipeline.validate import validate
    from sweep.runtime.console import quiet_libraries

    job = validate(cfg)
    root = job.root
    quiet_libraries()
    from lightning_modules.pruning import OptunaPruning
    from sweep.pipeline.build import build
    from sweep.pipeline.context import JobContext
    from sweep.pipeline.sources import resolve_sources
    from sweep.pipeline.train import train

    # a teacher given by run or model name is read from rank 0's store, pinned on the same sweep's parent
    sources = resolve_sources(job, sweep_parent=JobContext.from_hydra().parent_run_id)
    built = build(job, sources)
    pruning = OptunaPruning(None, root.trainer.monitor) if follows_pruning(root) else None  # follows rank 0's decisions
    try:
        result = train(built, callbacks=[pruning] if pruning else [])
    except optuna.TrialPruned as error:
        return JobOutcome("pruned", pruned_step=pruning.pruned_step, error=str(error))
    return JobOutcome("finished", value=result.monitored)


def main() -> None:
    """``python -m sweep.pipeline.follower``: a child rank started by sweep/distributed/launcher.py. Exit 0 when the job
    finished or was pruned; else the error goes to stderr (rank 0 records the job's failure) and exit 1."""
    from sweep.config.secrets import mask_secrets
    from sweep.distributed.launcher import JOB_VARIABLE

    cfg = OmegaConf.create(json.loads(os.environ[JOB_VARIABLE]))
    rank = os.environ.get("LOCAL_RANK", "?")
    try:
        follow(cfg)
    except Exception as error:
        print(f"error: DDP rank {rank}: {mask_secrets(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
