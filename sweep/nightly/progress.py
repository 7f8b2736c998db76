"""Whether a night is over: its verdict must come from the whole night, not from the first node to end.

Several nodes share one night (each ran the printed ``python -m sweep.run -m ...``, or ``sweep.nightly``
itself). A node whose search ends while trials still run elsewhere, or are still queued, has no verdict
to give: a cell whose only trial runs on another node would read "missing", a cell with one of its two
trials done would be judged on half of them. The node that ends the night (none running, none queued)
writes the report; ``python -m sweep.nightly --report-only`` writes it later from any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sweep.nightly.matrix import cell_of


@dataclass
class Progress:
    running: int = 0  # trials RUNNING: on other nodes, or of a worker that died and is not yet judged so
    queued: int = 0  # enqueued cells no worker has asked for yet
    cells: set = field(default_factory=set)  # (model, strategy) of those trials

    @property
    def over(self) -> bool:
        return self.running == 0 and self.queued == 0

    def describe(self) -> str:
        cells = ", ".join(f"{m}/{s}" for m, s in sorted(self.cells))
        return f"{self.running} trial(s) still running, {self.queued} queued ({cells})"


def night_progress(study) -> Progress:
    import optuna

    progress = Progress()
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING]):
        if trial.state == optuna.trial.TrialState.RUNNING:
            progress.running += 1
        else:
            progress.queued += 1
        cell = cell_of(trial)
        if cell is not None:
            progress.cells.add(cell)
    return progress
