"""Ctrl-C and SIGTERM end what is running, truthfully: runs closed, trials returned to the budget.

Why not KeyboardInterrupt: Lightning catches it inside ``trainer.fit``, calls ``sys.exit(1)`` and
ignores SIGINT from then on, so no code of ours would run. SLURM, ``kill`` and ``timeout`` send SIGTERM,
which Python does not turn into any exception at all. Here both raise ``Interrupted``, a BaseException
that Lightning tears down and re-raises, so the job, the grid and the search each end their records.

The first signal also reaches the processes this one started (joblib/loky workers running jobs), which
end their own runs; later signals are ignored while that cleanup runs (it is bounded: it closes runs,
fails trials and stops child processes). SIGKILL cannot be caught: what it leaves RUNNING is repaired
by the next start (sweep/tracking/orphans.py, sweep/search/liveness.py).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

log = logging.getLogger("sweep")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    def __reduce__(self):  # crosses process boundaries (joblib returns a job's exception to the sweeper)
        return (Interrupted, (self.signum,))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def job_processes() -> list:
    """The processes this one started that run jobs: not loky's resource tracker, which must outlive the
    workers (killed first, it relaunches and prints a traceback per shared resource) and ends by itself."""
    import psutil

    def is_tracker(process) -> bool:
        try:
            return any("resource_tracker" in part for part in process.cmdline())
        except psutil.Error:
            return True

    return [child for child in psutil.Process().children(recursive=True) if not is_tracker(child)]


def forward_to_children(signum: int) -> None:
    """Send ``signum`` to the job processes this one started (they have handlers of their own)."""
    import psutil

    for child in job_processes():
        try:
            child.send_signal(signum)
        except psutil.Error:
            pass


def terminate_children(timeout: float = 10.0) -> None:
    """Stop job processes still alive after a cleanup: SIGTERM, then SIGKILL after ``timeout``."""
    import psutil

    children = job_processes()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


_received: list[int] = []  # the signal this process got, shared by nested interruptible() blocks
_depth = 0


def signal_received() -> bool:
    """Whether this process got SIGINT or SIGTERM (threads see it before the main thread unwinds)."""
    return bool(_received)


_deferred: list[bool] = []  # inside deferred(): the signal is raised when the block ends


def _handler(signum, frame):
    if _received:
        log.warning("%s received again: still ending runs and trials (SIGKILL aborts)", signal.Signals(signum).name)
        return
    _received.append(signum)
    forward_to_children(signal.SIGTERM)
    if not _deferred:
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred():
    """A block a signal must not cut in two (ask a trial, then claim it): Interrupted comes at its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferred.append(True)
    try:
        yield
    finally:
        _deferred.pop()
    if _received and not _deferred and _depth:
        raise Interrupted(_received[0])


@contextlib.contextmanager
def interruptible():
    """Within: the first SIGINT or SIGTERM raises Interrupted in the main thread; later ones are ignored.

    Nests (the entry point and the job both use it): only the outermost block starts afresh and puts
    the previous handlers back. A no-op outside the main thread, which alone can take signals.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        _received.clear()  # a reused worker process (joblib) starts each job afresh
    previous = {sig: signal.signal(sig, _handler) for sig in SIGNALS}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for sig, old in previous.items():
                signal.signal(sig, old)
