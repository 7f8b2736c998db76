"""The night's search as a child process, ``python -m sweep.run -m experiment=nightly ...``: the same
command a user (or another node joining the night) types, so the night runs exactly what a search runs.

SIGINT and SIGTERM (Ctrl-C, ``kill``, SLURM's ``scancel``, a CI timeout) reach it: it ends its runs and
returns its trials to the budget (sweep/runtime/signals.py), and its exit code is ours. The child has its own
session so that a terminal's Ctrl-C reaches it once, through us, not twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def search_command(overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "sweep.run", "-m", *overrides]


def run_search(overrides: list[str]) -> int:
    """Run the search to its end; returns its exit code (128 + n when a signal n ended it)."""
    process = subprocess.Popen(search_command(overrides), start_new_session=True)

    def forward(signum, _frame) -> None:
        try:
            process.send_signal(signum)
        except ProcessLookupError:  # it ended meanwhile
            pass

    previous = {signum: signal.signal(signum, forward) for signum in SIGNALS}
    try:
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code  # killed by a signal: the shell's 128 + n
