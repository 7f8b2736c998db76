"""Successive halving (Jamieson & Talwalkar 2016; Hyperband's inner loop) over arms, with the training left to a
function: round r trains every surviving arm for ``min_steps x eta^r`` optimizer steps and keeps the best
``ceil(n / eta)`` by their validation value, until one arm is left or ``rounds`` rounds have run.

Why: frozen-feature scores (LogME, H-score, k-NN) can invert after fine-tuning (on a held-out review corpus all
three put MiniLM-L3 above MiniLM-L6, which won by 4 points fine-tuned). A short fine-tune of each candidate
measures what the user will do, and halving spends most of the budget on the arms still in contention.

Each round **retrains** its arms from the pretrained weights with the larger budget instead of continuing from
the previous round's weights: a job of B steps plans its warmup and learning-rate decay over B steps, so an arm's
value at round r is exactly what ``python -m sweep.run trainer.max_steps=B`` gives (continuing would restart a
schedule that has already decayed, which no real job does), and each arm is one ordinary sweep.run job. The
price: the steps of earlier rounds are spent again, at most 1 + 1/eta + 1/eta^2 + ... = eta/(eta-1) times the
steps of continuing (2x for eta=2) on the surviving arms.

``ceil``, not floor: with 3 arms and eta=2 two arms meet again at twice the budget, rather than one winning on
round 0's budget alone. A failed arm (its job raised) has no value: it is ranked last of its round and never kept.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence

log = logging.getLogger("sweep")


@dataclass(frozen=True)
class Outcome:
    """What training one arm for one round gave: its validation value (None: it failed)."""

    value: float | None
    run_id: str | None = None
    state: str = "finished"
    error: str | None = None


@dataclass
class Trial:
    arm: Hashable
    round: int
    steps: int
    value: float | None
    seconds: float
    run_id: str | None = None
    state: str = "finished"
    error: str | None = None


@dataclass
class Placed:
    """An arm in the final ranking: the last round it was trained in, its trials."""

    arm: Hashable
    reached: int
    trials: list[Trial]

    @property
    def last(self) -> Trial:
        return self.trials[-1]

    @property
    def value(self) -> float | None:
        return self.last.value


@dataclass
class Halving:
    rounds: list[list[Trial]]  # the trials of each round, in training order
    ranking: list[Placed]  # best first: by the round reached, then by the last validation value
    budgets: list[int]  # steps of each round that ran
    stopped: str  # why it stopped
    seconds: float
    survivors: list[list[Hashable]] = field(default_factory=list)  # the arms kept after each round

    @property
    def best(self) -> Placed:
        return self.ranking[0]


def kept(count: int, eta: int) -> int:
    """How many of ``count`` arms go on: the best 1/eta, rounded up, at least one."""
    return max(1, math.ceil(count / eta))


def budget(min_steps: int, eta: int, round_number: int) -> int:
    return min_steps * eta**round_number


def best_first(trials: Sequence[Trial], mode: str) -> list[Trial]:
    """Finished trials best first (``mode``: max or min), failed ones last; ties keep the given order."""
    sign = -1.0 if mode == "max" else 1.0
    return sorted(trials, key=lambda trial: (trial.value is None, sign * trial.value if trial.value is not None else 0.0))


def successive_halving(
    arms: Sequence[Hashable],
    train: Callable[[Hashable, int, int], Outcome],
    min_steps: int,
    eta: int = 2,
    rounds: int | None = None,
    mode: str = "max",
) -> Halving:
    """Run successive halving; ``train(arm, round, steps)`` trains one arm and returns its Outcome (an Exception
    it raises fails that arm; an interruption, a BaseException, goes through)."""
    if not arms:
        raise ValueError("successive halving needs at least one arm")
    started = time.perf_counter()
    alive = list(arms)
    history: list[list[Trial]] = []
    survivors: list[list[Hashable]] = []
    budgets = []
    round_number = 0
    while True:
        steps = budget(min_steps, eta, round_number)
        budgets.append(steps)
        log.info("halving round %d: %d arm(s), %d optimizer steps each", round_number, len(alive), steps)
        trials = [_trial(train, arm, round_number, steps) for arm in alive]
        history.append(trials)
        round_number += 1
        if all(trial.value is None for trial in trials):
            stopped = f"every arm of round {round_number - 1} failed"
            break
        if len(alive) == 1:
            stopped = "one arm trained"
            break
        if rounds is not None and round_number >= rounds:
            stopped = f"select.rounds={rounds} reached"
            break
        ordered = [trial for trial in best_first(trials, mode) if trial.value is not None]
        alive = [trial.arm for trial in ordered[: kept(len(alive), eta)]]
        survivors.append(list(alive))
        if len(alive) == 1:  # the winner: trained no further, as nothing is left to compare it with
            stopped = "one arm left"
            break
    return Halving(history, rank(arms, history, mode), budgets, stopped, time.perf_counter() - started, survivors)


def rank(arms: Sequence[Hashable], history: list[list[Trial]], mode: str) -> list[Placed]:
    """By the round reached (the last one trained in, later first), then by that round's value: arms of one round
    compare on one budget. The winner of the last comparison comes first, as it was the best of that round."""
    by_arm = {arm: [trial for trial_round in history for trial in trial_round if trial.arm == arm] for arm in arms}
    sign = -1.0 if mode == "max" else 1.0
    placed = [Placed(arm, by_arm[arm][-1].round, by_arm[arm]) for arm in arms]
    return sorted(placed, key=lambda item: (-item.reached, item.value is None, sign * item.value if item.value is not None else 0.0))


def _trial(train, arm, round_number: int, steps: int) -> Trial:
    start = time.perf_counter()
    try:
        outcome = train(arm, round_number, steps)
    except Exception as error:  # this arm failed; the others go on (as a grid's jobs do)
        log.warning("halving round %d: arm %s failed: %s: %s", round_number, arm, type(error).__name__, error)
        outcome = Outcome(None, state="failed", error=f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - start
    value = outcome.value if outcome.state == "finished" and outcome.value is not None and not math.isnan(outcome.value) else None
    return Trial(arm, round_number, steps, value, seconds, outcome.run_id, outcome.state if value is not None else "failed", outcome.error)
