"""Our launcher, ``hydra/launcher=sweep_slurm`` (conf/cluster/*.yaml pick it): Hydra's submitit SLURM launcher
(``submitit_slurm``), except that a job whose SLURM job ended without a result (cancelled, its node lost, out of
time or memory) is one failed job of the sweep instead of the end of it.

Why not Hydra's: its launch() ends in ``[job.results()[0] for job in jobs]``, and results() raises for a
job that left no result. In a grid (Hydra's BasicSweeper) the first such job raised out of the sweep: the
other jobs' results were never collected, no callback ran, and the command died with a traceback. Its
launch() has no hook between submitting and collecting, so ours repeats the submitting part as it is.
A search (sweep/search/sweeper.py) gets the same JobOutcome from here as it made from the exception.

Hydra instantiates launchers only from the ``hydra_plugins`` namespace, and imports every module here at
start-up to discover plugins: keep this file free of heavy imports.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as HydraSlurmLauncher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger("sweep")


@dataclass
class EndedWithoutResult(JobReturn):
    """A job whose SLURM job ended without a result. COMPLETED, like a job of ours that failed (sweep/run.py
    returns its failure as a JobOutcome), so Hydra's sweeper goes on; ``return_value``: that JobOutcome."""

    slurm_job: str = ""


class SlurmLauncher(HydraSlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit
        from submitit.core.utils import UncompletedJobError

        assert self.config is not None and len(job_overrides) > 0
        # submitting: as Hydra's launch() does
        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        common = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{key if key in common else f"{self._EXECUTOR}_{key}": value for key, value in params.items()})
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
        for number, overrides in zip(numbers, job_overrides):
            log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
        state = Singleton.get_state()
        job_params = [
            (list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", state) for number, overrides in zip(numbers, job_overrides)
        ]
        jobs = executor.map_array(self, *zip(*job_params))
        # collecting: every job, also after one that ended without a result
        returns: list[JobReturn] = []
        for number, overrides, job in zip(numbers, job_overrides, jobs):
            try:
                returns.append(job.results()[0])
            except UncompletedJobError as error:  # and FailedJobError: the job raised outside Hydra's run_job
                returns.append(self._ended_without_result(list(overrides), number, str(job.job_id), error))
        return returns

    def _ended_without_result(self, overrides: list[str], number: int, slurm_job: str, error: Exception) -> JobReturn:
        outcome = outcome_without_result(error)
        log.warning("job %d (SLURM job %s): %s", number, slurm_job, outcome.error.splitlines()[0])
        ended = EndedWithoutResult(overrides=overrides, status=JobStatus.COMPLETED, _return_value=outcome, slurm_job=slurm_job)
        assert self.hydra_context is not None and self.config is not None
        try:  # the job's own on_job_end never ran: here, the grid's callback records it (sweep/grid/callback.py)
            config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
            with open_dict(config.hydra.job):
                config.hydra.job.num = number
            self.hydra_context.callbacks.on_job_end(config=config, job_return=ended)
        except Exception:
            log.warning("job %d: its end could not be reported to the sweep's callbacks", number, exc_info=True)
        return ended


def outcome_without_result(error: BaseException):
    """The JobOutcome of a job that ended without a result (submitit's error for it): interrupted where the
    cluster ended it (a search returns its trial to the budget), failed otherwise; as sweep/search/sweeper.py
    made them from the error Hydra's launcher raised."""
    from sweep.distributed.slurm_jobs import ended_by_cluster
    from sweep.pipeline.outcome import JobOutcome

    state = ended_by_cluster(error)
    if state is None:
        return JobOutcome("failed", error=f"{type(error).__name__}: {error}")
    return JobOutcome("interrupted", error=f"its SLURM job ended without a result ({state}): cancelled, preempted or node lost")


@dataclass
class SweepSlurmQueueConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.sweep_slurm.SlurmLauncher"


# a name of its own: stored as submitit_slurm, it replaced Hydra's entry only when this file ran after Hydra's config
# module, and Hydra's plugin scan runs every module again in the order of the namespace's folders, so from the
# repository's root (first on sys.path under `python -m`) Hydra's launcher won and a cancelled job ended the grid
ConfigStore.instance().store(group="hydra/launcher", name="sweep_slurm", node=SweepSlurmQueueConf, provider="sweep")
