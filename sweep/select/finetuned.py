"""The fine-tuned ranking a transferability ranking is checked against: each candidate's best result among
the finished fine-tuning runs of the same task in the experiment (any strategy, any sweep), and the
weighted Kendall tau between the two rankings (scipy.stats.weightedtau: disagreements near the top of
a ranking weigh more than those near its bottom, as they matter more to whoever picks the top one)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# sweep.kind of runs that carry a model and task tag but are no fine-tuned result: select and pretrain fine-tune
# nothing; the arms of select.method=halving (sweep/select/arms.py) are short budgets, what is checked against this
KINDS_NOT_FINE_TUNING = ("select", "pretrain", "halving")


@dataclass(frozen=True)
class Finetuned:
    value: float  # the best value of the metric over the model's runs
    run_name: str
    strategy: str
    runs: int  # finished runs of this model on this task that logged the metric


def finetuned_results(client, experiment_id: str, task: str, models: list[str], metric: str, mode: str) -> dict[str, Finetuned]:
    """model -> its best finished fine-tuning run on ``task`` (tags ``task``, ``model``, ``strategy``)."""
    query = f"tags.task = '{_quoted(task)}' and attributes.status = 'FINISHED'"
    found: dict[str, Finetuned] = {}
    counts: dict[str, int] = {}
    for run in client.search_runs([experiment_id], filter_string=query, max_results=50000):
        tags, metrics = run.data.tags, run.data.metrics
        model = tags.get("model")
        if model not in models or "strategy" not in tags or tags.get("sweep.kind") in KINDS_NOT_FINE_TUNING or "select.arm" in tags:
            continue
        value = metrics.get(metric)
        if value is None or math.isnan(value):
            continue
        counts[model] = counts.get(model, 0) + 1
        best = found.get(model)
        if best is None or (value > best.value if mode == "max" else value < best.value):
            found[model] = Finetuned(value, run.info.run_name, tags["strategy"], 0)
    return {model: Finetuned(item.value, item.run_name, item.strategy, counts[model]) for model, item in found.items()}


def weighted_tau(scores: dict[str, float], finetuned: dict[str, Finetuned], mode: str) -> float | None:
    """Weighted Kendall tau over the candidates with a fine-tuned result; None below two of them."""
    from scipy.stats import weightedtau

    models = [model for model in scores if model in finetuned]
    if len(models) < 2:
        return None
    sign = 1.0 if mode == "max" else -1.0  # both rankings: larger is better
    return float(weightedtau([scores[model] for model in models], [sign * finetuned[model].value for model in models]).statistic)


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")
