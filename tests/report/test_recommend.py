"""The recommendation on hand-made tables: the best, constraints, the cheapest within the tolerance, ties."""

from __future__ import annotations

import math

import pytest

from sweep.report.collect import Cell
from sweep.report.recommend import recommend


def cell(model: str, strategy: str, value: float, share: float, time: float, memory: float = math.nan, mode: str = "max") -> Cell:
    score = value if mode == "max" else -value
    return Cell(model, strategy, value, score, tests={"test/acc": value + 0.01}, costs={"share": share, "time": time, "memory": memory})


def table() -> list[Cell]:
    return [
        cell("minilm_l6", "full", 0.800, 1.0, 23.0, 900),
        cell("minilm_l6", "lora", 0.788, 0.0033, 21.0, 850),
        cell("minilm_l6", "feature", 0.792, 0.000034, 1.9, 700),
        cell("minilm_l3", "partial", 0.740, 0.31, 9.0, 600),
        cell("minilm_l3", "prompt", 0.700, 0.0004, 30.0, 650),
    ]


def test_no_constraint_names_the_best_and_the_cheapest_within_the_tolerance():
    rec = recommend(table(), "val/acc", "max", tolerance=0.01)
    assert rec.best.label == rec.pick.label == "full on minilm_l6"
    assert rec.cheapest.label == "feature on minilm_l6"  # 0.8 points below, the smallest share
    assert rec.text.startswith("Best: full on minilm_l6 (val/acc 0.8000, test/acc 0.8100); it trains 100 % of the parameters in 23 s")
    assert "Cheapest within 1 point: feature on minilm_l6 trains 0.0034 % of the parameters in 1.9 s (peak 700 MB)" in rec.text
    assert "0.8 points below full on minilm_l6" in rec.text


def test_a_tighter_tolerance_leaves_the_best():
    rec = recommend(table(), "val/acc", "max", tolerance=0.005)
    assert rec.cheapest is rec.pick
    assert rec.text.endswith("Nothing cheaper comes within 0.5 points of it.")


def test_cheapest_by_training_time():
    rec = recommend(table(), "val/acc", "max", tolerance=0.1, primary="time")
    assert rec.cheapest.label == "feature on minilm_l6"  # 1.9 s; partial (9 s) is within 0.1 too but slower
    rec = recommend(table(), "val/acc", "max", tolerance=0.1, primary="memory")
    assert rec.cheapest.label == "partial on minilm_l3"


def test_a_share_constraint_picks_the_best_under_it_and_says_how_far_below_the_best():
    rec = recommend(table(), "val/acc", "max", {"share": 0.01}, tolerance=0.0)
    assert rec.pick.label == "feature on minilm_l6"
    assert rec.text.startswith("With at most 1.0 % trainable parameters: feature on minilm_l6 (val/acc 0.7920, test/acc 0.8020), ")
    assert "0.8 points below the best overall (full on minilm_l6, val/acc 0.8000)" in rec.text


def test_the_cheapest_honours_the_constraints_too():
    rec = recommend(table(), "val/acc", "max", {"time": 22.0}, tolerance=0.1, primary="share")
    assert rec.pick.label == "feature on minilm_l6"
    assert rec.cheapest.label == "feature on minilm_l6"  # the least share among those within 22 s (prompt, 30 s, is out)
    rec = recommend(table(), "val/acc", "max", {"time": 22.0, "memory": 800}, tolerance=0.1, primary="memory")
    assert rec.cheapest.label == "partial on minilm_l3"  # lora (850 MB) is out; partial is 600 MB, 5.2 points below feature


def test_when_the_best_meets_the_constraints_it_is_said_so():
    rec = recommend(table(), "val/acc", "max", {"time": 30.0})
    assert rec.pick is rec.best
    assert "full on minilm_l6, which is also the best overall" in rec.text


def test_nothing_meets_the_constraints():
    rec = recommend(table(), "val/acc", "max", {"share": 0.00001, "time": 1.0})
    assert rec.pick is None and rec.cheapest is None
    assert rec.text.startswith("Nothing meets the constraints (at most 0.001 % trainable parameters and at most 1.0 s of training) among 5")
    assert "the smallest trainable share is 0.0034 % (feature on minilm_l6)" in rec.text
    assert "the shortest training takes 1.9 s (feature on minilm_l6)" in rec.text
    assert "The best overall is full on minilm_l6" in rec.text


def test_a_constraint_on_a_cost_no_run_logged_is_not_met():
    cells = [cell("m", "full", 0.8, 1.0, 5.0), cell("m", "lora", 0.7, 0.01, 4.0)]  # memory: NaN
    rec = recommend(cells, "val/acc", "max", {"memory": 10_000})
    assert rec.pick is None
    assert "no run logged peak_memory_mb" in rec.text


def test_one_run():
    rec = recommend([cell("m", "lora", 0.7, 0.01, 4.0)], "val/acc", "max")
    assert rec.best is rec.pick is rec.cheapest
    best = "Best: lora on m (val/acc 0.7000, test/acc 0.7100); it trains 1.0 % of the parameters in 4.0 s."
    assert rec.text == best + " Nothing cheaper comes within 1 point of it."


@pytest.mark.parametrize("order", [0, 1])
def test_ties_are_deterministic_whatever_the_order(order):
    # equal accuracy: the smaller share wins; equal accuracy and share: the shorter time; all equal: names
    cells = [cell("b", "full", 0.8, 1.0, 5.0), cell("a", "lora", 0.8, 0.01, 9.0), cell("a", "prompt", 0.8, 0.01, 3.0)]
    cells = cells if order == 0 else cells[::-1]
    rec = recommend(cells, "val/acc", "max", tolerance=0.0)
    assert rec.best.label == "prompt on a"
    twins = [cell("b", "lora", 0.8, 0.01, 3.0), cell("a", "lora", 0.8, 0.01, 3.0)]
    twins = twins if order == 0 else twins[::-1]
    assert recommend(twins, "val/acc", "max").best.label == "lora on a"


def test_an_equal_cheapest_says_as_good_as():
    cells = [cell("m", "full", 0.8, 1.0, 5.0), cell("m", "feature", 0.8, 0.001, 9.0)]
    rec = recommend(cells, "val/acc", "max", primary="time")
    assert rec.best.label == "full on m"  # equal accuracy: the shorter training wins under report.cost=time
    rec = recommend(cells, "val/acc", "max", primary="share")
    assert rec.best.label == "feature on m"


def test_a_loss_is_minimised_and_not_said_in_points():
    cells = [cell("m", "full", 0.35, 1.0, 5.0, mode="min"), cell("m", "lora", 1.42, 0.01, 4.0, mode="min")]
    rec = recommend(cells, "val/loss", "min", {"share": 0.1})
    assert rec.best.label == "full on m" and rec.pick.label == "lora on m"
    assert "1.07 above the best overall" in rec.text


def test_runs_without_costs_are_still_recommended_in_plain_words():
    nan = math.nan
    rec = recommend([cell("m", "full", 0.8, nan, nan), cell("m", "lora", 0.795, nan, nan)], "val/acc", "max")
    assert (
        rec.text == "Best: full on m (val/acc 0.8000, test/acc 0.8100). Nothing cheaper comes within 1 point of it."
    )  # no cost: none cheaper
