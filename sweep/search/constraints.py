"""``search.constraints``: limits on what a trial costs (trainable share, training seconds, peak memory), read from
the metrics its job logged (sweep/pipeline/job.py ``finished_outcome``).

Each complete trial gets one Optuna constraint value per limit, ``measured / limit - 1`` (<= 0: met; relative, so
limits in seconds, megabytes and fractions weigh alike where a sampler sums violations), set with
``Trial.set_constraint`` before the trial is told: Optuna stores it as the trial's system attribute
``constraints:<name>`` and the samplers that model constraints (``CONSTRAINED``) read it from there. Why not
``constraints_func``: Optuna 5.0 deprecates it (a FutureWarning, removal in 7.0) for ``set_constraint``, which also
keeps each constraint's name. A metric the job did not log counts as violated (value 1.0), as the report treats a
setting that did not log a constrained cost. Pruned and failed trials get none (they have no final costs; they are
never the best anyway). The trial's MLflow run is tagged ``constraint.<name>`` (the same value) and
``constraint.feasible`` (true/false); the study's parent run ``search.constraints`` (the limits, JSON), which
``python -m sweep.report`` takes as its default limits.
"""

from __future__ import annotations

import json

from sweep.config.schema import SEARCH_CONSTRAINTS_TAG
from sweep.search.samplers import CONSTRAINED

TAG_PREFIX, FEASIBLE_TAG, PARENT_TAG = "constraint.", "constraint.feasible", SEARCH_CONSTRAINTS_TAG


def run_tags(values: dict[str, float]) -> dict[str, str]:
    tags = {f"{TAG_PREFIX}{name}": f"{value:.6g}" for name, value in values.items()}
    tags[FEASIBLE_TAG] = str(all(value <= 0 for value in values.values())).lower()
    return tags


def describe_limits(limits: dict[str, float]) -> str:
    """'trainable_share <= 0.01, train_s <= 60'."""
    return ", ".join(f"{name} <= {limit:g}" for name, limit in limits.items())


def parent_tags(limits: dict[str, float]) -> dict[str, str]:
    return {PARENT_TAG: json.dumps(dict(limits), sort_keys=True)} if limits else {}


def sampler_note(sampler: str, limits: dict[str, float]) -> str | None:
    """The warning line for a sampler that samples without the constraints (None: it uses them, or there are none)."""
    if not limits or sampler in CONSTRAINED:
        return None
    return (
        f"search.sampler={sampler} does not use search.constraints when sampling (only {', '.join(CONSTRAINED)} do): "
        "each trial's constraints are still recorded, and the best trial is still chosen among those that meet them"
    )
