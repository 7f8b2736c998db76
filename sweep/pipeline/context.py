"""Where a job sits: a single run, or one job of a sweep (its parent run and number), as Hydra says.

Its own file so that a DDP follower (sweep/pipeline/follower.py) reads the same sweep parent as rank 0
without importing the job that starts it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class JobContext:
    """Where this job sits: a single run, or one job of a sweep (its parent run and number)."""

    multirun: bool
    parent_run_id: str | None
    job_number: int | None

    @classmethod
    def from_hydra(cls) -> JobContext:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from sweep.tracking.parents import read_parent_run_id

        if not HydraConfig.initialized():
            return cls(False, None, None)
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return cls(False, None, None)
        return cls(True, read_parent_run_id(hydra_cfg.sweep.dir), hydra_cfg.job.get("num"))
