"""Whether a night is over: its verdict must come from the whole night, not from the first node to end.

Several nodes share one night (each ran the printed ``python -m sweep.run -m ...``, or ``sweep.nightly``
itself). A node whose search ends while trials still run elsewhere, or are still queued, has no verdict
to give: a cell whose only trial runs on another node would read "missing", a cell with one of its two
trials done would be judged on half of them. The node that ends the night (none running, none queued)
writes the report; ``python -m sweep.nightly --report-only`` writes it later from any machine. With
``nightly.seeds``, a confirmation run still running on a live worker holds the night open as a trial does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sweep.nightly.matrix import cell_of


@dataclass
class Progress:
    running: int = 0  # trials RUNNING: on other nodes, or of a worker that died and is not yet judged so
    queued: int = 0  # enqueued cells no worker has asked for yet
    confirming: int = 0  # confirmation runs of a cell's best trial (nightly.seeds) a live worker runs
    cells: set = field(default_factory=set)  # (model, strategy) of those trials

    @property
    def over(self) -> bool:
        return self.running == 0 and self.queued == 0 and self.confirming == 0

    def describe(self) -> str:
        cells = ", ".join(f"{m}/{s}" for m, s in sorted(self.cells))
        confirming = f", {self.confirming} confirmation run(s) running" if self.confirming else ""
        return f"{self.running} trial(s) still running, {self.queued} queued{confirming} ({cells})"


def night_progress(study, grace_period: float = 600) -> Progress:
    import optuna

    from sweep.search.claims import read_claims

    progress = Progress()
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    for claim in read_claims(study).values():  # a dead worker's claim does not hold the night (the next start runs it again)
        if claim.live(grace_period):
            progress.confirming += 1
            cell = cell_of(trials[claim.trial]) if claim.trial in trials else None
            if cell is not None:
                progress.cells.add(cell)
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING]):
        if trial.state == optuna.trial.TrialState.RUNNING:
            progress.running += 1
        else:
            progress.queued += 1
        cell = cell_of(trial)
        if cell is not None:
            progress.cells.add(cell)
    return progress
