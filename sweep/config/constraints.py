"""The maths of ``search.constraints`` that every layer shares: a job's constraint values from its logged metrics,
and whether a trial meets them. Here, under the config, because the search (its sampler and summary), the kept
models (tracking) and the report all judge feasibility alike (sweep/search/constraints.py says how they are used)."""

from __future__ import annotations

import math

from sweep.config.schema import SEARCH_CONSTRAINTS

MISSING_VALUE = 1.0  # a cost not logged: violated


def constraint_values(limits: dict[str, float], metrics: dict[str, float]) -> dict[str, float]:
    """Optuna's constraint value per limit (``measured / limit - 1``; <= 0: met) from a job's logged metrics."""
    values = {}
    for name, limit in limits.items():
        measured = metrics.get(SEARCH_CONSTRAINTS[name])
        values[name] = measured / limit - 1.0 if measured is not None and math.isfinite(measured) else MISSING_VALUE
    return values


def feasible(trial) -> bool:
    """An Optuna trial meets every constraint it was given; a trial without constraint values does."""
    return all(value <= 0.0 for value in trial.constraints.values())
