"""The Pareto front of accuracy (higher is better) against one cost (lower is better).

A point is on the front when no other point is at least as good on both and better on one. Exact twins
both stay on it (neither beats the other); a point without the cost (NaN: not logged) is on no front.
Written here rather than taken from a library: the report has tens of points and two objectives, which
is a dozen lines; Optuna's own front (``_is_pareto_front``) is private, and pymoo or paretoset would be a
dependency for one loop.
"""

from __future__ import annotations

import math


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """``points``: (score, cost) pairs, higher score and lower cost better. Returns, per point, whether it is on the front."""

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])

    usable = [not any(math.isnan(v) for v in point) for point in points]
    return [
        usable[i] and not any(usable[j] and beats(points[j], points[i]) for j in range(len(points)) if j != i) for i in range(len(points))
    ]


def mark_fronts(cells, costs: list[str]) -> None:
    """Mark each ranked cell with the costs on whose front it lies (``cell.fronts``)."""
    for name in costs:
        on = pareto_front([(cell.score, cell.cost(name)) for cell in cells])
        for cell, front in zip(cells, on):
            if front:
                cell.fronts.append(name)


def front_order(cells, cost: str) -> list:
    """The cells on one front, cheapest first (the staircase drawn in the plots)."""
    return sorted((cell for cell in cells if cost in cell.fronts), key=lambda c: (c.cost(cost), -c.score, c.model, c.strategy))
