"""SLURM jobs as the submitting process sees them: their states, which job a trial runs in, cancelling it.

Hydra's submitit launcher waits for a job's result file and asks ``sacct`` whether the job ended
without one. ``sacct`` needs the accounting daemon (slurmdbd), which small clusters (and the
single-node cluster of ``sweep.cluster``) often do not run: submitit then logs a warning per poll and
never learns that a cancelled or killed job ended, so the sweep would wait forever. Where ``sacct``
fails, the states come from ``squeue`` instead; a job that ``squeue`` no longer lists has ended.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time

log = logging.getLogger("sweep")
SLURM_JOB_ATTR = "slurm_job_id"  # trial user attr, and MLflow tag `slurm.job`: the job a trial runs in
GONE = "ENDED_UNRECORDED"  # ended, and squeue no longer knows how: not one of submitit's incomplete states
# states in which the cluster, not the trial, ended the job: the trial returns to the budget. Others
# (FAILED, TIMEOUT, OUT_OF_MEMORY) are the trial's own doing and count, or a resumed search would
# run a trial that cannot fit its time or memory again and again.
NOT_THE_TRIALS_DOING = ("CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", GONE)


def current_job_id() -> str | None:
    """The SLURM job this process runs in (an array element as ``<array job>_<task>``); None outside SLURM."""
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def cancel(job_id: str | None) -> bool:
    """``scancel`` a job (best effort: it may have ended; scancel may be missing off the cluster)."""
    if not job_id or shutil.which("scancel") is None:
        return False
    done = subprocess.run(["scancel", str(job_id)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        log.debug("scancel %s: %s", job_id, done.stderr.strip())
    return done.returncode == 0


def ended_by_cluster(error: BaseException) -> str | None:
    """For an exception from submitit's launcher: the SLURM state, if the cluster ended the job
    without a result (cancelled, node failure, preemption); None for the job's own failures."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    if not isinstance(error, UncompletedJobError) or isinstance(error, FailedJobError):
        return None
    found = re.search(r"\(state: ([A-Z_]+)", str(error))
    state = found.group(1) if found else GONE
    return state if state in NOT_THE_TRIALS_DOING else None


def use_squeue_without_sacct(launcher_target: str) -> None:
    """Give submitit's SLURM jobs a watcher that falls back to squeue (no-op for other launchers)."""
    if not launcher_target.endswith("SlurmLauncher"):
        return
    from submitit.slurm import slurm

    if not isinstance(slurm.SlurmJob.watcher, _watcher_class()):
        slurm.SlurmJob.watcher = _watcher_class()(delay_s=600)


def _sacct_works() -> bool:
    if shutil.which("sacct") is None:
        return False
    probe = subprocess.run(["sacct", "--noheader", "--jobs", "1"], capture_output=True, text=True, timeout=30)
    return probe.returncode == 0  # without slurmdbd: "Slurm accounting storage is disabled", 1


def _watcher_class():
    from submitit.slurm.slurm import SlurmInfoWatcher

    global _Watcher
    if _Watcher is None:

        class SqueueFallbackWatcher(SlurmInfoWatcher):
            sacct_works: bool | None = None

            def update(self) -> None:
                if self.sacct_works is None:
                    self.sacct_works = _sacct_works()
                if self.sacct_works:
                    super().update()
                    return
                self._update_from_squeue()
                self._last_status_check = time.time()

            def _update_from_squeue(self) -> None:
                waiting = self._registered - self._finished
                if not waiting:
                    return
                ids = sorted({job_id.split("_")[0] for job_id in waiting})
                command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T", "--jobs", ",".join(ids)]
                try:
                    listed = subprocess.run(command, capture_output=True, text=True, timeout=60)
                except (OSError, subprocess.TimeoutExpired) as error:
                    log.warning("squeue failed: %s; job states may be late", error)
                    return
                # squeue fails on a list of which no job exists any more ("Invalid job id"): all ended
                lines = listed.stdout.splitlines() if listed.returncode == 0 else []
                if listed.returncode != 0 and "Invalid job id" not in listed.stderr:
                    log.warning("squeue failed: %s; job states may be late", listed.stderr.strip())
                    return
                info = self.read_info("JobID|State\n" + "\n".join(lines))
                for job_id in waiting:
                    self._info_dict[job_id] = info.get(job_id, {"JobID": job_id, "State": GONE})
                self._finished.update(job_id for job_id in waiting if self.is_done(job_id, mode="cache"))

        _Watcher = SqueueFallbackWatcher
    return _Watcher


_Watcher = None
