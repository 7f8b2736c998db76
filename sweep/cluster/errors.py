"""The cluster's one error type: a message a user can act on, and the exit code that goes with it."""

from __future__ import annotations


class ClusterError(RuntimeError):
    """Raised with the whole message a user needs (what is wrong, what to do); the CLI prints it as it is.

    ``exit_code`` 2: the cluster cannot be set up as asked (no root, missing packages, a port taken);
    1: a service was set up but failed to start or to answer (its log's last lines are in the message).
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
