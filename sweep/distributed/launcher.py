"""Starting the other ranks of a DDP job from rank 0, and cleaning up after them.

Lightning's own subprocess launcher starts each child rank by re-running the command line
(``_hydra_subprocess_cmd``: ``sys.argv`` plus ``hydra.run.dir=…``). Under ``-m`` that command is the whole
sweep: each child would start a search of its own. And a child running ``sweep.run`` opens its own MLflow
run and output folder. Ours starts ``python -m sweep.pipeline.follower`` instead, with the job's resolved config
in its environment: the same job, built the same way, trained beside rank 0, recording nothing. It works
alike for a single run, a grid job and a search's trial run in-process.

Lightning's launcher also watches the children and SIGKILLs the main process when one fails: in an
in-process search that kills the sweeper before it can end the run and return the trial. Ours stops the
other children instead, so rank 0's next collective fails (gloo: "connection closed") and the job ends
as failed, recorded; the search goes on.

At the job's end (finished, pruned or failed) the children are awaited, then stopped; the environment
variables the launch set and the process group are undone, so the next job of this process starts afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from typing import Iterator

from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher

from sweep.distributed.ranks import Place, place_of

log = logging.getLogger("sweep")
JOB_VARIABLE = "SWEEP_DDP_JOB"  # the child ranks' job: its resolved config, as JSON
# what a launch sets in this process (Lightning's launcher: the rendezvous; _set_num_threads_if_needed: threads)
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS")
# after rank 0's job ended: how long the children get to end theirs. They end with it when it finished or
# was pruned (every rank stops at the same step); after a failure or an interrupt of rank 0 they may wait in a
# collective forever (Lightning's SIGTERM handler in them even starts one). They record nothing: stopping
# them loses nothing.
EXIT_WAIT_S, FAILED_WAIT_S = 60.0, 3.0


class FollowerLauncher(_SubprocessScriptLauncher):
    """Lightning's subprocess launcher, starting ``python -m sweep.pipeline.follower`` as the other ranks."""

    def __init__(self, cluster_environment, num_processes: int, num_nodes: int, job: dict):
        super().__init__(cluster_environment, num_processes, num_nodes)
        self.job = json.dumps(job)
        self.saved = {name: os.environ.get(name) for name in LAUNCH_VARIABLES}
        self.done = threading.Event()

    def launch(self, function, *args, trainer=None, **kwargs):
        from lightning_fabric.utilities.distributed import _set_num_threads_if_needed

        self.cluster_environment.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not self.cluster_environment.creates_processes_externally:  # the first call (fit); not test's
            self._call_children_scripts()
            threading.Thread(target=self._watch, name="ddp-ranks", daemon=True).start()
        _set_num_threads_if_needed(num_processes=self.num_processes)
        return function(*args, **kwargs)

    def _call_children_scripts(self) -> None:
        self._check_can_spawn_children()
        os.environ["MASTER_ADDR"] = self.cluster_environment.main_address
        os.environ["MASTER_PORT"] = str(self.cluster_environment.main_port)
        os.environ["NODE_RANK"] = str(self.cluster_environment.node_rank())
        os.environ["LOCAL_RANK"] = str(self.cluster_environment.local_rank())
        os.environ["WORLD_SIZE"] = str(self.num_processes * self.num_nodes)
        for local_rank in range(1, self.num_processes):
            env = {**os.environ, "LOCAL_RANK": str(local_rank), JOB_VARIABLE: self.job}
            self.procs.append(subprocess.Popen([sys.executable, "-m", "sweep.pipeline.follower"], env=env, cwd=os.getcwd()))

    def _watch(self) -> None:
        """A child that fails while the job runs: stop the others, so rank 0 does not wait on them."""
        while not self.done.wait(1.0):
            failed = [(rank, proc.returncode) for rank, proc in enumerate(self.procs, 1) if proc.poll() not in (None, 0)]
            if failed:
                log.error("DDP rank %d ended with exit code %d: stopping the other ranks", *failed[0])
                self._stop_children()
                return

    def _stop_children(self, timeout: float = 2.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def finish(self, wait: float) -> None:
        """Rank 0's job ended: its children end theirs (they took part in every collective, so they are
        at their last steps), or are stopped; this process's environment is as before the launch."""
        self.done.set()
        for proc in self.procs:
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                log.warning("DDP rank %d still runs %.0f s after rank 0 ended: stopping it", self.procs.index(proc) + 1, wait)
                break
        self._stop_children()
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def ranks_of(trainer, job_root) -> Iterator[Place]:
    """Around a job's fit and test with ``trainer``: this process's place; from rank 0 of a DDP job that
    Lightning would launch itself, the other ranks are started as followers of ``job_root`` (the job's
    validated RootConfig). Afterwards the process group is gone and the launch's traces undone."""
    import torch

    place = place_of(trainer)
    launcher = None
    strategy = trainer.strategy
    if place.distributed and isinstance(strategy.launcher, _SubprocessScriptLauncher):
        environment = strategy.cluster_environment
        if not environment.creates_processes_externally:  # SLURM tasks and torchrun ranks start themselves
            from omegaconf import OmegaConf

            job = OmegaConf.to_container(OmegaConf.structured(job_root))
            launcher = FollowerLauncher(environment, strategy.num_processes, strategy.num_nodes, job)
            strategy._launcher = launcher  # set once, when the Trainer is built: replaced before any fit
    threads, wait = torch.get_num_threads(), FAILED_WAIT_S
    try:
        yield place
        wait = EXIT_WAIT_S
    finally:
        if launcher is not None:
            launcher.finish(wait)
            torch.set_num_threads(threads)
        if place.distributed and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()  # else the next job's fit would reuse this one's group
