"""The recommendation: what to take, in one paragraph, for the user's constraints.

- The best: the highest validation metric (in the runs' direction) among the settings that meet every
  constraint (``report.max_trainable_share``, ``report.max_train_s``, ``report.max_memory_mb``; a setting
  that did not log a constrained cost does not meet it), said with how far it is below the best overall.
- The cheapest within ``report.tolerance`` of it: lowest ``report.cost`` first, then the other costs.
- Nothing meets the constraints: said, with the lowest value of each constrained cost that was found.

Ranking is on validation, never on test (that would tune on the test set); test metrics are quoted from
the same run. Ties are deterministic: equal metric -> the cheaper (report.cost, then the other costs),
then model and strategy names; equal cost -> the better metric, then names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweep.report.collect import Cell
from sweep.report.costs import COSTS

EPS = 1e-9  # 0.79 - 0.78 is 0.010000000000000009: still "within 0.01"


@dataclass
class Wording:
    """How numbers of the ranked metric are said."""

    metric: str
    mode: str
    fraction: bool  # accuracy-like (maximised, every value in [0, 1]): differences in points (x 100)

    def amount(self, gap: float) -> str:
        return f"{100 * gap:.1f} points" if self.fraction else f"{gap:.4g}"

    def behind(self, gap: float) -> str:
        """How a setting ``gap`` worse than the best stands to it: '1.2 points below', 'as good as'."""
        if gap <= EPS:
            return "as good as"
        return f"{self.amount(gap)} {'below' if self.mode == 'max' else 'above'}"

    def tolerance(self, tolerance: float) -> str:
        if self.fraction:
            points = 100 * tolerance
            return f"{points:g} point" + ("" if points == 1 else "s")
        return f"{tolerance:g}"

    def value(self, cell: Cell) -> str:
        tests = "".join(f", {name} {value:.4f}" for name, value in cell.tests.items())
        return f"{self.metric} {cell.value:.4f}{tests}"


def cost_order(primary: str) -> list[str]:
    return [primary] + [name for name in COSTS if name != primary]


def missing_last(value: float) -> float:
    return math.inf if math.isnan(value) else value


def best_key(primary: str):
    order = cost_order(primary)
    return lambda c: (-c.score, *(missing_last(c.cost(n)) for n in order), c.model, c.strategy)


def cheapest_key(primary: str):
    order = cost_order(primary)
    return lambda c: (*(missing_last(c.cost(n)) for n in order), -c.score, c.model, c.strategy)


def meets(cell: Cell, limits: dict[str, float]) -> bool:
    return all(not math.isnan(cell.cost(name)) and cell.cost(name) <= limit * (1 + EPS) for name, limit in limits.items())


def costs_phrase(cell: Cell) -> str:
    """'trains 0.33 % of the parameters in 21 s (peak 900 MB)', from what the run logged ('' if nothing)."""
    parts = [COSTS[name].phrase(cell.cost(name)) for name in COSTS]
    text = " ".join(part for part in parts if part)
    if text and math.isnan(cell.cost("share")):
        text = "trains " + text
    return text


def it_costs(cell: Cell) -> str:
    phrase = costs_phrase(cell)
    return f"; it {phrase}" if phrase else ""


@dataclass
class Recommendation:
    best: Cell  # the best overall
    pick: Cell | None  # the best that meets the constraints (the best overall without any); None: nothing meets them
    cheapest: Cell | None  # the cheapest within the tolerance of the pick
    sentences: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def recommend(
    cells: list[Cell], metric: str, mode: str, limits: dict[str, float] | None = None, tolerance: float = 0.01, primary: str = "share"
) -> Recommendation:
    """``cells``: the ranked cells (at least one). ``limits``: constraints by cost name (costs.py)."""
    limits = limits or {}
    ranked = [cell for cell in cells if cell.ranked]
    if not ranked:
        raise ValueError("nothing to recommend: no ranked cell")
    words = Wording(metric, mode, mode == "max" and all(0.0 <= cell.value <= 1.0 for cell in ranked))
    best = min(ranked, key=best_key(primary))
    meeting = [cell for cell in ranked if meets(cell, limits)]
    constraints = " and ".join(COSTS[name].limit_phrase(limit) for name, limit in limits.items())
    if not meeting:
        found = []
        for name in limits:
            logged = [cell for cell in ranked if not math.isnan(cell.cost(name))]
            if logged:
                least = min(logged, key=lambda c: (c.cost(name), -c.score, c.model, c.strategy))
                found.append(f"{COSTS[name].least.format(COSTS[name].show(least.cost(name)))} ({least.label})")
            else:
                found.append(f"no run logged {COSTS[name].metric}")
        sentences = [
            f"Nothing meets the constraints ({constraints}) among {len(ranked)} ranked setting{'s' if len(ranked) != 1 else ''}: "
            f"{'; '.join(found)}.",
            f"The best overall is {best.label} ({words.value(best)}){it_costs(best)}.",
        ]
        return Recommendation(best, None, None, sentences)
    pick = min(meeting, key=best_key(primary))
    if not limits:
        sentences = [f"Best: {pick.label} ({words.value(pick)}){it_costs(pick)}."]
    elif pick is best:
        sentences = [f"With {constraints}: {pick.label}, which is also the best overall ({words.value(pick)}){it_costs(pick)}."]
    else:
        behind = words.behind(best.score - pick.score)
        sentences = [
            f"With {constraints}: {pick.label} ({words.value(pick)}), {behind} the best overall ({best.label}, "
            f"{metric} {best.value:.4f}){it_costs(pick)}."
        ]
    near = [cell for cell in meeting if pick.score - cell.score <= tolerance + EPS]
    cheapest = min(near, key=cheapest_key(primary))
    within = words.tolerance(tolerance)
    if cheapest is pick:
        sentences.append(f"Nothing cheaper comes within {within} of it.")
    else:
        behind = words.behind(pick.score - cheapest.score)
        phrase = costs_phrase(cheapest)
        says = f" {phrase} and" if phrase else ","
        sentences.append(f"Cheapest within {within}: {cheapest.label}{says} is {behind} {pick.label}.")
    return Recommendation(best, pick, cheapest, sentences)
