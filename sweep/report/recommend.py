"""The recommendation: what to take, in one paragraph, for the user's constraints.

- The best: the highest validation metric (in the runs' direction) among the settings that meet every
  constraint (``report.max_trainable_share``, ``report.max_train_s``, ``report.max_memory_mb``; a setting
  that did not log a constrained cost does not meet it), said with how far it is below the best overall.
- The cheapest as good as it: not significantly worse than it on the paired bootstrap of the validation rows (and
  seeds; sweep/report/intervals.py), or within ``report.tolerance`` of it, the explicit floor: lowest ``report.cost``
  first, then the other costs. Without predictions (older runs, ``report.resamples=0``) the tolerance alone decides.
- Whether the pick can be told apart from the runner-up: the difference, its interval, the probability that the pick
  is better, and, when they cannot be told apart, how many validation rows or seeds would settle a difference that size.
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
from sweep.report.intervals import Bootstrap, Comparison

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
        spread = f" ± {cell.sd:.4f} over {cell.n} seeds" if cell.n > 1 else ""
        return f"{self.metric} {cell.value:.4f}{spread}{tests}"

    def signed(self, gap: float) -> str:
        if self.fraction:
            return f"{100 * gap:+.1f}"
        return f"{gap:+.4g}"

    def interval(self, comparison: Comparison) -> str:
        """'95 % interval -1.2 to +2.0 points; P(better) 0.68' for a difference."""
        unit = " points" if self.fraction else ""
        return (
            f"{100 * comparison.confidence:g} % interval {self.signed(comparison.low)} to "
            f"{self.signed(comparison.high)}{unit}; P(better) {comparison.p_better:.2f}"
        )

    def evidence(self, comparison: Comparison) -> str:
        seeds = comparison.seeds
        if seeds[0] == seeds[1]:
            per = " x 1 seed each" if seeds[0] == 1 else f" x {seeds[0]} seeds each"
        else:
            per = f" x {seeds[0]} and {seeds[1]} seeds"
        return f"{comparison.rows} validation rows{per}"


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
    cheapest: Cell | None  # the cheapest as good as the pick (not significantly worse, or within the tolerance)
    sentences: list[str] = field(default_factory=list)
    runner_up: Comparison | None = None  # the pick against the next best meeting the constraints
    apart: bool | None = None  # whether the pick and the runner-up can be told apart (None: not compared)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def key_of(cell: Cell) -> tuple[str, str]:
    return (cell.model, cell.strategy)


def compared(noise: Bootstrap | None, first: Cell, second: Cell) -> Comparison | None:
    if noise is None or key_of(first) not in noise.samples or key_of(second) not in noise.samples:
        return None
    return noise.compare(key_of(first), key_of(second))


def settle_phrase(words: Wording, comparison: Comparison) -> str:
    """What more data would tell a difference this size apart, if it stayed this size."""
    if comparison.difference == 0:
        return "they score the same: no amount of data would separate them"
    options = []
    rows = comparison.rows_to_settle()
    if rows is not None:
        options.append(f"about {rows:,} validation rows (now {comparison.rows:,})")
    seeds = comparison.seeds_to_settle()
    if seeds is not None:
        options.append(f"about {seeds} seeds per cell (now {min(comparison.seeds)})")
    if min(comparison.seeds) < 2:
        options.append("seeds to measure the seed spread (-m seed=0,1,2)")
    scale = comparison.scale_to_settle()
    if not options and scale is not None:  # the rows' part and the seeds' part each too large alone: both must grow
        rows, seeds = math.ceil(comparison.rows * scale), math.ceil(min(comparison.seeds) * scale)
        options.append(f"about {scale:.1f} times both: {rows:,} validation rows and {seeds} seeds per cell")
    size = words.amount(abs(comparison.difference))
    return f"to settle a difference of {size}: " + " or ".join(options)


def recommend(
    cells: list[Cell], metric: str, mode: str, limits: dict[str, float] | None = None, tolerance: float = 0.01, primary: str = "share",
    noise: Bootstrap | None = None,
) -> Recommendation:  # fmt: skip
    """``cells``: the ranked cells (at least one). ``limits``: constraints by cost name (costs.py). ``noise``: the
    paired bootstrap of the validation metric (intervals.py); None: the tolerance alone says what is as good."""
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
    rest = sorted((cell for cell in meeting if cell is not pick), key=best_key(primary))
    runner = compared(noise, pick, rest[0]) if rest else None
    apart = None
    if runner is not None:
        apart = runner.significant
        if apart:
            sentences.append(f"It is ahead of the runner-up, {rest[0].label}, beyond noise: by {words.amount(abs(runner.difference))} "
                             f"({words.interval(runner)}; {words.evidence(runner)}).")  # fmt: skip
        else:
            sentences.append(
                f"It and the runner-up, {rest[0].label}, cannot be told apart: {words.amount(abs(runner.difference))} apart "
                f"({words.interval(runner)}; {words.evidence(runner)}); {settle_phrase(words, runner)}."
            )

    def as_good(cell: Cell) -> bool:
        if pick.score - cell.score <= tolerance + EPS:
            return True
        comparison = compared(noise, pick, cell)
        return comparison is not None and not comparison.significant

    near = [cell for cell in meeting if as_good(cell)]
    cheapest = min(near, key=cheapest_key(primary))
    within = words.tolerance(tolerance)
    floor = f"within noise of it (not significantly worse, or within {within})" if noise is not None else f"within {within}"
    if cheapest is pick:
        sentences.append(f"Nothing cheaper comes {floor}." if noise is not None else f"Nothing cheaper comes within {within} of it.")
    else:
        behind = words.behind(pick.score - cheapest.score)
        phrase = costs_phrase(cheapest)
        says = f" {phrase} and" if phrase else ","
        comparison = compared(noise, pick, cheapest)
        evidence = f" ({words.interval(comparison)})" if comparison is not None else ""
        sentences.append(f"Cheapest {floor}: {cheapest.label}{says} is {behind} {pick.label}{evidence}.")
    return Recommendation(best, pick, cheapest, sentences, runner, apart)
