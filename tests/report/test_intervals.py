"""Bootstrap intervals and paired comparisons on constructed predictions whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_modules.examples import ExampleTable
from lightning_modules.objectives import CLASSIFICATION_FORMULAS
from sweep.report.collect import Cell
from sweep.report.intervals import Bootstrap
from sweep.report.recommend import recommend

ACC = {"val/acc": CLASSIFICATION_FORMULAS["acc"]}


def table(correct, ids=None) -> ExampleTable:
    correct = np.asarray(correct, dtype=float)
    ids = np.arange(len(correct)) if ids is None else np.asarray(ids)
    return ExampleTable(ids, {"correct": correct, "count": np.ones(len(correct))}, ACC)


def cell(strategy: str, values: list[float], share: float = 1.0) -> Cell:
    made = Cell("m", strategy, value=float(np.mean(values)), score=float(np.mean(values)), costs={"share": share})
    made.values, made.run_ids = list(values), [f"{strategy}{i}" for i in range(len(values))]
    return made


def test_identical_predictions_differ_by_zero_with_a_zero_width_interval():
    rng = np.random.default_rng(1)
    same = rng.integers(0, 2, 300)
    noise = Bootstrap({"a": [table(same)], "b": [table(same)]}, "val/acc", 1.0, resamples=500)
    comparison = noise.compare("a", "b")
    assert comparison.difference == 0 and comparison.low == comparison.high == 0
    assert not comparison.significant and comparison.p_better == 0.5


def test_a_cell_right_on_every_row_the_other_misses_is_significantly_better():
    other = np.r_[np.ones(240), np.zeros(60)]  # 0.80
    better = np.r_[np.ones(240), np.ones(6), np.zeros(54)]  # right on 6 of the rows the other misses: 0.82, never worse
    noise = Bootstrap({"better": [table(better)], "other": [table(other)]}, "val/acc", 1.0, resamples=500)
    comparison = noise.compare("better", "other")
    assert comparison.difference == pytest.approx(0.02)
    assert comparison.significant and comparison.low > 0 and comparison.p_better == 1.0
    # unpaired, the same 2 points would be noise: each interval alone is about ±4.5 points wide
    low, high = noise.interval("other")
    assert low < 0.78 and high > 0.82


def test_a_cells_interval_covers_its_value_and_narrows_with_more_rows():
    rng = np.random.default_rng(2)
    small = Bootstrap({"a": [table(rng.random(200) < 0.8)]}, "val/acc", 1.0, resamples=400)
    large = Bootstrap({"a": [table(rng.random(5000) < 0.8)]}, "val/acc", 1.0, resamples=400)
    (s_low, s_high), (l_low, l_high) = small.interval("a"), large.interval("a")
    assert s_low < small.point["a"] < s_high and l_low < large.point["a"] < l_high
    assert (l_high - l_low) < (s_high - s_low) / 3  # 1/sqrt(25): five times narrower, roughly


def test_seeds_widen_the_interval_and_the_seed_part_of_the_variance_is_measured():
    rng = np.random.default_rng(3)
    base = rng.random(400)
    spread = [table(base < p) for p in (0.70, 0.80, 0.90)]  # three seeds 10 points apart
    steady = [table(base < 0.8)] * 3
    noise = Bootstrap({"spread": spread, "steady": steady}, "val/acc", 1.0, resamples=500)
    assert np.ptp(noise.interval("spread")) > 2 * np.ptp(noise.interval("steady"))
    comparison = noise.compare("spread", "steady")
    assert comparison.seed_variance > comparison.row_variance
    assert comparison.seeds_to_settle() is None  # a zero difference: nothing settles it
    assert comparison.rows_to_settle() is None


def test_rows_are_paired_by_example_id_whatever_order_they_were_recorded_in():
    rng = np.random.default_rng(4)
    correct = rng.integers(0, 2, 100)
    order = rng.permutation(100)
    shuffled = ExampleTable.__new__(ExampleTable)
    a, b = table(correct), table(correct[order], ids=order)
    b = ExampleTable(np.sort(b.ids), {k: v[np.argsort(b.ids)] for k, v in b.columns.items()}, b.formulas)  # sorted, as a log makes it
    noise = Bootstrap({"a": [a], "b": [b]}, "val/acc", 1.0, resamples=200)
    assert noise.compare("a", "b").high == 0 and shuffled is not None


def test_the_recommendation_says_when_the_leaders_cannot_be_told_apart_and_what_would_settle_it():
    rng = np.random.default_rng(5)
    base = rng.random(500)
    full, lora = cell("full", [0.80]), cell("lora", [0.79], share=0.01)
    noise = Bootstrap({("m", "full"): [table(base < 0.80)], ("m", "lora"): [table((base < 0.79) | (base > 0.995))]}, "val/acc", 1.0, 500)
    words = recommend([full, lora], "val/acc", "max", tolerance=0.0, noise=noise)
    assert words.apart is False
    assert "cannot be told apart" in words.text and "validation rows (now 500)" in words.text
    assert words.cheapest is lora and "not significantly worse" in words.text  # cheaper, and within noise of the best
    # without the predictions, a zero tolerance leaves only the best
    alone = recommend([full, lora], "val/acc", "max", tolerance=0.0)
    assert alone.cheapest is full and "cannot be told apart" not in alone.text


def test_the_recommendation_says_when_the_best_is_ahead_beyond_noise():
    other = np.r_[np.ones(350), np.zeros(150)]  # 0.70
    better = np.r_[np.ones(350), np.ones(75), np.zeros(75)]  # 0.85, right wherever the other is
    full, lora = cell("full", [0.85]), cell("lora", [0.70], share=0.01)
    noise = Bootstrap({("m", "full"): [table(better)], ("m", "lora"): [table(other)]}, "val/acc", 1.0, 500)
    words = recommend([full, lora], "val/acc", "max", tolerance=0.01, noise=noise)
    assert words.apart is True and "beyond noise" in words.text and words.cheapest is full


def test_a_lower_is_better_metric_is_compared_in_its_own_direction():
    rng = np.random.default_rng(6)
    target = rng.normal(size=400)
    near, far = target + rng.normal(scale=0.1, size=400), target + rng.normal(scale=1.0, size=400)
    formulas = {"val/rmse": ["rmse", "prediction", "target"]}
    tables = {
        key: [ExampleTable(np.arange(400), {"prediction": p, "target": target}, formulas)] for key, p in (("near", near), ("far", far))
    }
    noise = Bootstrap(tables, "val/rmse", -1.0, resamples=300)
    comparison = noise.compare("near", "far")  # near has the lower RMSE: better, so a positive difference
    assert comparison.difference > 0.5 and comparison.significant and comparison.p_better == 1.0
    low, high = noise.interval("near")
    assert low < noise.point["near"] < high < 0.2


def test_when_neither_rows_nor_seeds_alone_would_settle_it_both_are_scaled():
    from sweep.report.intervals import Comparison

    comparison = Comparison(0.016, -0.014, 0.05, 0.85, 500, (3, 3), 2.0e-4, 6.8e-5, 0.95)  # the make run grid's top two
    assert comparison.rows_to_settle() is None and comparison.seeds_to_settle() is None  # each part alone exceeds (d / 1.96)^2
    assert comparison.scale_to_settle() == pytest.approx((2.0e-4 + 6.8e-5) / (0.016 / 1.959964) ** 2)
    few = Comparison(0.016, -0.014, 0.05, 0.85, 500, (3, 3), 2.0e-4, 1.0e-5, 0.95)
    assert few.rows_to_settle() == math.ceil(500 * 2.0e-4 / ((0.016 / 1.959964) ** 2 - 1.0e-5))


def test_the_rows_counted_are_those_the_metric_is_made_of():
    generated = np.r_[np.ones(16), np.zeros(24)]  # a fit's validation generated the first 16 rows of 40
    columns = {"rougeL": generated * 0.5, "generated": generated, "loss": np.ones(40), "count": np.ones(40)}
    formulas = {"val/rougeL": ["ratio", "rougeL", "generated"], "val/loss": ["ratio", "loss", "count"]}
    tables = {"a": [ExampleTable(np.arange(40), columns, formulas)]}
    assert Bootstrap(tables, "val/rougeL", 1.0, resamples=100).rows == 16
    assert Bootstrap(tables, "val/loss", -1.0, resamples=100).rows == 40
