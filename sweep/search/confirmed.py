"""The confirmed ranking (``search.confirm``, sweep/search/confirm.py): per confirmed trial its search value, the
mean ± sd (n) over its confirmation seeds, and whether confirmation changed the search's order. Printed and
logged on the study's parent run (``search/confirm.md``, a paragraph of its description, tags
``confirm.best_trial`` and ``confirm.order``) by the worker that ends the study; read from the claims alone
(sweep/search/claims.py), so any worker (or a later one) writes the same ranking."""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sweep.search import claims as claimed
from sweep.search.confirm import selected
from sweep.search.space import describe_params


@dataclass
class Confirmed:
    number: int
    search_value: float
    params: dict
    values: list[float] = field(default_factory=list)  # the finished confirmation runs' first objective
    seeds: list[int] = field(default_factory=list)  # their seeds, in the same order
    failed: int = 0
    unfinished: int = 0  # not run, interrupted, or running

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan

    def describe(self) -> str:
        if not self.values:
            return "no confirmation finished"
        spread = f" ± {self.sd:.4f}" if len(self.values) > 1 else ""
        return f"{self.mean:.4f}{spread} (n={len(self.values)})"


def confirmed_groups(study, search) -> list[tuple[tuple, list[Confirmed]]]:
    """Each group's confirmed trials in the search's order, with what their claims hold (seeds k <= search.confirm)."""
    claims = claimed.read_claims(study)
    groups = []
    for group, trials in selected(study, search.confirm_top, list(search.confirm_within)):
        rows = []
        for trial in trials:
            row = Confirmed(trial.number, float(trial.values[0]), dict(trial.params))
            for (number, seed), claim in sorted(claims.items(), key=lambda item: item[1].k):
                if number != trial.number or not 1 <= claim.k <= search.confirm:
                    continue
                if claim.state == claimed.FINISHED and claim.value is not None:
                    row.values.append(claim.value)
                    row.seeds.append(seed)
                elif claim.state == claimed.FAILED:
                    row.failed += 1
            row.unfinished = search.confirm - len(row.values) - row.failed
            rows.append(row)
        groups.append((group, rows))
    return groups


def confirmed_order(rows: list[Confirmed], maximize: bool) -> list[Confirmed]:
    """Trials with a finished confirmation by their mean (a tie: the search's order); the others after, as searched."""
    sign = -1.0 if maximize else 1.0
    ranked = sorted((r for r in rows if r.values), key=lambda r: (sign * r.mean, rows.index(r)))
    return ranked + [r for r in rows if not r.values]


def verdict(rows: list[Confirmed], maximize: bool) -> tuple[str, str]:
    """(a sentence, and the tag confirm.order: confirmed | changed | unconfirmed | single)."""
    best = rows[0]
    if not best.values:
        return f"the search's best, trial {best.number}, could not be confirmed: none of its confirmation runs finished", "unconfirmed"
    if len(rows) == 1:
        return f"trial {best.number}: {best.search_value:.4f} in the search, {best.describe()} over new seeds", "single"
    order = confirmed_order(rows, maximize)
    searched = [r.number for r in rows if r.values]
    if [r.number for r in order if r.values] == searched:
        return f"the search's best, trial {best.number}, is confirmed (the order of the {len(rows)} confirmed trials stands)", "confirmed"
    if order[0].number == best.number:
        below = ", ".join(str(r.number) for r in order[1:] if r.values)
        return f"the search's best, trial {best.number}, is confirmed; confirmation changed the order below it: trials {below}", "confirmed"
    return (
        f"confirmation changed the order: trial {order[0].number} ({order[0].describe()}) ranks first, ahead of the search's best, "
        f"trial {best.number} ({best.describe()})",
        "changed",
    )


def confirmation_report(study, plan) -> tuple[str, dict[str, str]]:
    """The ranking as Markdown, and the parent run's tags."""
    import optuna

    search = plan.search
    metric = search.metrics[0]
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    first = " (the first of search.metrics: a Pareto front has no order)" if len(search.metrics) > 1 else ""
    within = f" of each {' x '.join(search.confirm_within)}" if search.confirm_within else ""
    lines = [
        f"### Confirmation: the top {search.confirm_top}{within} by {metric}{first}, each re-run with {search.confirm} new seed(s)",
        "",
        f"| rank | trial | search {metric} | confirmed {metric}: mean ± sd (n) | seeds | not finished | params |",
        "|--:|--:|--:|:--|:--|:--|:--|",
    ]
    verdicts, tags = [], {}
    for group, rows in confirmed_groups(study, search):
        for rank, row in enumerate(confirmed_order(rows, maximize), 1):
            missing = ", ".join(part for part in (f"{row.failed} failed" if row.failed else "", f"{row.unfinished} to run"
                                                  if row.unfinished else "") if part)  # fmt: skip
            seeds = ", ".join(str(seed) for seed in row.seeds)
            lines.append(f"| {rank} | {row.number} | {row.search_value:.4f} | {row.describe()} | {seeds} | {missing} | "
                         f"{describe_params(row.params)} |")  # fmt: skip
        sentence, order = verdict(rows, maximize)
        label = ", ".join(f"{key}={value}" for key, value in group)
        verdicts.append(f"{label}: {sentence}" if label else sentence)
        if not group:
            tags = {"confirm.order": order, "confirm.best_trial": str(confirmed_order(rows, maximize)[0].number)}
    return "\n".join(lines + [""] + verdicts) + "\n", tags


def end_of_confirmation(study, plan, tracking) -> str:
    """Print the ranking and log it on the parent run (search/confirm.md, tags); returns it for the description."""
    from sweep.tracking.parents import shared

    text, tags = confirmation_report(study, plan)
    print("\n" + text, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "confirm.md"
        path.write_text(text)
        shared(tracking.client.log_artifact, tracking.parent_run_id, str(path), "search")
    tracking.log_summary({}, {"confirm.seeds": str(plan.search.confirm), **tags})
    return text
