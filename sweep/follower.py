"""A rank > 0 of a DDP job: the same job as rank 0, trained beside it, recording nothing.

Rank 0 owns the job's records: its MLflow run, its Optuna trial (reports, prune decisions, the result),
its kept model and its output folder (sweep/job.py). A follower builds the same job from the same
config (the same data, split, tokens and model; DDP copies rank 0's weights to it at the start), takes
part in every collective of the fit and the test (gradients, metric syncs, rank 0's prune and best-weight
decisions, broadcast), and returns without writing anything but the shared caches.

Two ways in: SLURM tasks and torchrun ranks run the job's own command, and sweep/job.py hands ranks > 0
to ``follow``; the ranks that Lightning's launcher would start from rank 0 are started by ours
(sweep/ddp_launcher.py) as ``python -m sweep.follower``, with the job's resolved config in the environment.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from omegaconf import DictConfig, OmegaConf

from sweep.outcome import JobOutcome

log = logging.getLogger("sweep")


def follows_pruning(root) -> bool:
    """Whether rank 0 runs a pruning callback (sweep/search/binding.py): a trial of a single-objective search."""
    from sweep.schema import search_config

    return root.trial is not None and not search_config(root.search).multi_objective


def follow(cfg: DictConfig) -> JobOutcome:
    """Train as a rank > 0: raises what rank 0 raises too (a bad config, a failed fit), so both fail alike."""
    import optuna

    from sweep.console import quiet_libraries
    from sweep.schema import validate

    job = validate(cfg)
    root = job.root
    quiet_libraries()
    from lightning_modules.pruning import OptunaPruning
    from sweep.build import build
    from sweep.train import train

    uri = None
    if job.teacher is not None:  # a teacher given by run or model name is read from rank 0's store
        from sweep.tracking.store import tracking_uri

        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
    built = build(job, uri)
    pruning = OptunaPruning(None, root.trainer.monitor) if follows_pruning(root) else None  # follows rank 0's decisions
    try:
        result = train(built, callbacks=[pruning] if pruning else [])
    except optuna.TrialPruned as error:
        return JobOutcome("pruned", pruned_step=pruning.pruned_step, error=str(error))
    return JobOutcome("finished", value=result.monitored)


def main() -> None:
    """``python -m sweep.follower``: a child rank started by sweep/ddp_launcher.py. Exit 0 when the job
    finished or was pruned; else the error goes to stderr (rank 0 records the job's failure) and exit 1."""
    from sweep.ddp_launcher import JOB_VARIABLE
    from sweep.secrets import mask_secrets

    cfg = OmegaConf.create(json.loads(os.environ[JOB_VARIABLE]))
    rank = os.environ.get("LOCAL_RANK", "?")
    try:
        follow(cfg)
    except Exception as error:
        print(f"error: DDP rank {rank}: {mask_secrets(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
