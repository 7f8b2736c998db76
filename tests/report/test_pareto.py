"""The Pareto front of accuracy (higher better) against a cost (lower better), on hand-made points."""

from __future__ import annotations

import math

import pytest

from sweep.report.collect import Cell
from sweep.report.pareto import front_order, mark_fronts, pareto_front

NAN = math.nan


@pytest.mark.parametrize(
    "points, expected",
    [
        ([(0.8, 1.0)], [True]),  # one run: its own front
        ([(0.8, 1.0), (0.7, 2.0)], [True, False]),  # better and cheaper dominates
        ([(0.8, 2.0), (0.7, 1.0)], [True, True]),  # a trade-off: both
        ([(0.8, 1.0), (0.8, 1.0)], [True, True]),  # exact twins: neither beats the other
        ([(0.8, 1.0), (0.8, 2.0)], [True, False]),  # same accuracy, dearer: dominated
        ([(0.8, 1.0), (0.7, 1.0)], [True, False]),  # same cost, worse: dominated
        ([(0.9, NAN), (0.7, 1.0)], [False, True]),  # a cost not logged: on no front, and beats nothing
        ([(0.9, 100.0), (0.85, 0.3), (0.86, 0.2), (0.7, 0.01), (0.6, 0.02)], [True, False, True, True, False]),
    ],
)
def test_front(points, expected):
    assert pareto_front(points) == expected


def test_fronts_are_marked_per_cost_and_ordered_cheapest_first():
    cells = [
        Cell("m", "full", 0.80, 0.80, costs={"share": 1.0, "time": 20.0}),
        Cell("m", "lora", 0.79, 0.79, costs={"share": 0.003, "time": 25.0}),
        Cell("m", "feature", 0.77, 0.77, costs={"share": 0.00003, "time": 2.0}),
        Cell("m", "partial", 0.78, 0.78, costs={"share": 0.3, "time": 15.0}),
    ]
    mark_fronts(cells, ["share", "time"])
    assert {c.strategy: c.fronts for c in cells} == {
        "full": ["share", "time"],
        "lora": ["share"],  # slower than full and worse: off the time front
        "feature": ["share", "time"],
        "partial": ["time"],  # dearer than lora in share and worse
    }
    assert [c.strategy for c in front_order(cells, "share")] == ["feature", "lora", "full"]
    assert [c.strategy for c in front_order(cells, "time")] == ["feature", "partial", "full"]
