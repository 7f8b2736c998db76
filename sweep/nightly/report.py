"""The regression report: tonight's best per (model, strategy) against the previous night's.

Earlier nights are the studies named ``<study_prefix>-<YYYY-MM-DD>`` with an earlier date in the same
storage, on the same objective. Each cell is compared with the most recent earlier night that has a
result for it (not merely the latest night: a night that crashed, or failed one cell, must not turn the
next night's drop into "new"); each row says which night that was. Per cell, the best complete trial's
first objective (``search.metrics[0]``, in its direction); a change worse than ``nightly.threshold``
(absolute) is a REGRESSION.

With ``nightly.seeds=K`` each cell's best trial was re-run with K new seeds (``search.confirm``,
sweep/search/confirm.py): the cell's value is then the mean over those seeds, and a regression is a drop beyond
max(threshold, z x sd), sd the standard deviation over tonight's seeds, pooled (weighted by degrees of freedom)
with the compared night's when it had seeds too: the noise of both nights' values. Each row states the threshold
it used and where it came from ("0.02 (fixed)", "0.031 = 2.0 x sd 0.0155 over 3 seeds"). Verdicts:

    improved     better by more than the threshold
    ok           within the threshold
    REGRESSION   worse by more than the threshold                                   (fails the night)
    missing      in tonight's matrix, no complete trial tonight (failed, pruned, not run);
                 fails the night when an earlier night had a result and nightly.fail_on_missing
    new          tonight's matrix has it, no earlier night (of the last LOOKBACK) has a result for it
    removed      the latest earlier night had it, tonight's matrix does not
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field

from sweep.nightly.matrix import cell_of

REGRESSION_EXIT = 3  # distinct from a crashed search (1), bad input (2), a signal (130, 143)
TOLERANCE = 1e-9  # 0.70 - 0.72 is -0.0200000001 in floats: not "beyond" a threshold of 0.02
LOOKBACK = 60  # earlier nights searched for a cell's last result: a cell unseen for two months is "new"


@dataclass
class CellBest:
    value: float | None = None  # the best complete trial's objective; None: no complete trial
    trial: int | None = None
    states: Counter = field(default_factory=Counter)  # complete / pruned / fail / running, counted trials only
    seeds: list[float] = field(default_factory=list)  # the best trial's confirmation values (nightly.seeds); value is their mean
    search_value: float | None = None  # with seeds: the best trial's own value in the search

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.seeds) if len(self.seeds) > 1 else None

    def why_missing(self) -> str:
        if not self.states:
            return "not run"
        return ", ".join(f"{n} {state}" for state, n in sorted(self.states.items()))


def best_per_cell(study, direction: str) -> dict[tuple[str, str], CellBest]:
    import optuna

    from sweep.search.liveness import counts

    cells: dict[tuple[str, str], CellBest] = {}
    maximize = direction == "maximize"
    for trial in study.get_trials(deepcopy=False):
        cell = cell_of(trial)
        if cell is None or trial.state == optuna.trial.TrialState.WAITING or not counts(trial):
            continue
        best = cells.setdefault(cell, CellBest())
        best.states[trial.state.name.lower()] += 1
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.values:
            value = float(trial.values[0])
            if best.value is None or (value > best.value if maximize else value < best.value):  # a tie keeps the earlier trial
                best.value, best.trial = value, trial.number
    with_seeds(study, cells)
    return cells


def with_seeds(study, cells: dict) -> None:
    """A cell whose best trial was confirmed with new seeds (sweep/search/claims.py) takes their mean as its value."""
    from sweep.search.claims import FINISHED, read_claims

    claims = read_claims(study)
    for best in cells.values():
        seeds = [c.value for _, c in sorted(claims.items()) if c.trial == best.trial and c.state == FINISHED and c.value is not None]
        if best.trial is not None and seeds:
            best.search_value, best.seeds, best.value = best.value, seeds, statistics.fmean(seeds)


def threshold_for(now: CellBest, before: CellBest, threshold: float, z: float, night: str | None = None) -> tuple[float, str]:
    """The drop a cell must exceed to regress, and where it comes from: fixed, or z x sd of the seeds."""
    if not now.seeds:
        return threshold, f"{threshold:g} (fixed)"
    parts = [(len(cell.seeds), cell.sd, who) for cell, who in ((now, "tonight"), (before, night or "previous")) if cell.sd is not None]
    if not parts:
        return threshold, f"{threshold:g} (fixed; {len(now.seeds)} seed: no sd)"
    sd = math.sqrt(sum((n - 1) * s * s for n, s, _ in parts) / sum(n - 1 for n, _, _ in parts))
    alone = len(parts) == 1 and parts[0][2] == "tonight"
    over = f"{parts[0][0]} seeds" if alone else " + ".join(f"{n} seeds ({who})" for n, _, who in parts)
    if z * sd > threshold:
        return z * sd, f"{z * sd:.3g} = {z} x sd {sd:.3g} over {over}"
    return threshold, f"{threshold:g} (fixed; {z} x sd {sd:.3g} over {over} is smaller)"


def earlier_nights(names: list[str], prefix: str, date: str) -> list[str]:
    """The ``<prefix>-<date>`` studies before ``date``, latest first (ISO dates sort as strings)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{4}}-\d{{2}}-\d{{2}})$")
    earlier = sorted((m.group(1) for m in map(pattern.match, names) if m and m.group(1) < date), reverse=True)
    return [f"{prefix}-{day}" for day in earlier]


def previous_night(names: list[str], prefix: str, date: str) -> str | None:
    """The latest ``<prefix>-<date>`` study before ``date``."""
    earlier = earlier_nights(names, prefix, date)
    return earlier[0] if earlier else None


@dataclass
class Row:
    model: str
    strategy: str
    tonight: float | None
    previous: float | None
    delta: float | None  # tonight - previous
    verdict: str
    tonight_trial: int | None = None
    previous_trial: int | None = None
    note: str = ""
    fails: bool = False
    previous_study: str | None = None  # the night compared with: the latest earlier one with a result for this cell
    threshold: float | None = None  # the drop it had to exceed to regress (compared cells only)
    threshold_source: str = ""  # "0.02 (fixed)", "0.031 = 2.0 x sd 0.0155 over 3 seeds"
    seeds: int = 0  # tonight's confirmation seeds (nightly.seeds); tonight is their mean
    sd: float | None = None  # their standard deviation


@dataclass
class Report:
    study: str
    previous_study: str | None
    metric: str
    direction: str
    threshold: float
    rows: list[Row]
    note: str = ""  # why there is nothing to compare against
    z: float = 2.0  # with seeds: a drop beyond z x sd (when larger than threshold) is a regression

    @property
    def failing(self) -> list[Row]:
        return [row for row in self.rows if row.fails]

    @property
    def exit_code(self) -> int:
        return REGRESSION_EXIT if self.failing else 0

    def verdict_line(self) -> str:
        if self.failing:
            cells = ", ".join(f"{r.model}/{r.strategy} ({r.verdict})" for r in self.failing)
            return f"nightly {self.study}: {len(self.failing)} regression(s): {cells}"
        return f"nightly {self.study}: no regression" + (f" ({self.note})" if self.note else "")

    def markdown(self) -> str:
        against = f"against {self.previous_study}" if self.previous_study else f"({self.note})"
        seeded = any(row.seeds for row in self.rows)
        head = [
            f"## Nightly {self.study} {against}",
            "",
            f"Objective `{self.metric}` ({self.direction}), best complete trial per cell; "
            f"regression: worse by more than {self.threshold:g} (absolute)"
            + (f", or than {self.z} x sd over a cell's seeds where larger (tonight: the seeds' mean)." if seeded else "."),
            "",
            "| model | strategy | tonight | previous | delta | verdict | against | threshold | trials |",
            "|:--|:--|--:|--:|--:|:--|:--|:--|:--|",
        ]

        def number(value: float | None, signed: bool = False) -> str:
            return "" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")

        lines = [
            f"| {r.model} | {r.strategy} | {number(r.tonight)} | {number(r.previous)} | {number(r.delta, True)} | {r.verdict} "
            f"| {r.previous_study or ''} | {r.threshold_source} | {r.note} |"
            for r in self.rows
        ]
        return "\n".join(head + lines + ["", self.verdict_line(), ""])

    def to_json(self) -> str:
        body = asdict(self)
        body.update(exit_code=self.exit_code, regressions=len(self.failing))
        return json.dumps(body, indent=2)


@dataclass
class Earlier:
    """What earlier nights say per cell: its latest result, and the night it comes from."""

    results: dict = field(default_factory=dict)  # (model, strategy) -> CellBest with a value
    nights: dict = field(default_factory=dict)  # (model, strategy) -> the study it is from
    latest: dict | None = None  # the latest comparable night's cells (for "removed"); None: no earlier night

    def get(self, cell) -> tuple[CellBest | None, str | None]:
        return self.results.get(cell), self.nights.get(cell)


def compare(tonight: dict, earlier: Earlier, cells: list[tuple[str, str]], direction: str, threshold: float,
            fail_on_missing: bool = True, z: float = 2.0) -> list[Row]:  # fmt: skip
    """One row per cell of tonight's matrix, then the cells only the latest earlier night had."""
    sign = 1.0 if direction == "maximize" else -1.0  # gain > 0 is better, whatever the direction
    rows = []
    for model, strategy in cells:
        now = tonight.get((model, strategy), CellBest())
        before, night = earlier.get((model, strategy))
        note = f"trial {now.trial}" if now.trial is not None else now.why_missing()
        if now.seeds:
            note += f", mean of {len(now.seeds)} seeds (search {now.search_value:.4f})"
        seeded = {"seeds": len(now.seeds), "sd": now.sd}
        if now.value is None:
            had = before is not None
            rows.append(Row(model, strategy, None, before.value if had else None, None, "missing", None,
                            before.trial if had else None, note, fails=had and fail_on_missing, previous_study=night))  # fmt: skip
            continue
        if before is None:
            verdict = "new" if earlier.latest is not None else "first night"
            rows.append(Row(model, strategy, now.value, None, None, verdict, now.trial, None, note, **seeded))
            continue
        delta = now.value - before.value
        gain = sign * delta
        used, source = threshold_for(now, before, threshold, z, night)
        verdict = "REGRESSION" if gain < -used - TOLERANCE else "improved" if gain > used + TOLERANCE else "ok"
        rows.append(Row(model, strategy, now.value, before.value, delta, verdict, now.trial, before.trial, note,
                        fails=verdict == "REGRESSION", previous_study=night, threshold=used, threshold_source=source,
                        **seeded))  # fmt: skip
    latest = earlier.latest or {}
    for (model, strategy), before in sorted(latest.items()):
        if (model, strategy) not in cells:
            night = earlier.nights.get((model, strategy))
            rows.append(Row(model, strategy, None, before.value, None, "removed", None, before.trial, "not in tonight's matrix",
                            previous_study=night))  # fmt: skip
    return rows


def earlier_results(storage, names: list[str], cells, metric: str, direction: str) -> tuple[Earlier, str, list[str]]:
    """Each cell's latest earlier result, from the nights ``names`` (latest first) on the same objective;
    also the latest comparable night's name ("" if none) and why other nights were skipped."""
    import optuna

    earlier, latest_name, skipped = Earlier(), "", []
    wanted = set(cells)
    for name in names[:LOOKBACK]:
        study = optuna.load_study(study_name=name, storage=storage)
        metrics, directions = study.user_attrs.get("metrics", []), [d.name.lower() for d in study.directions]
        if metrics[:1] != [metric] or directions[:1] != [direction]:
            skipped.append(f"{name} optimised {metrics[:1]} ({directions[:1]}), not {metric} ({direction}): not comparable")
            continue
        best = best_per_cell(study, direction)
        if earlier.latest is None:
            earlier.latest, latest_name = {cell: b for cell, b in best.items() if b.value is not None}, name
            earlier.nights.update({cell: name for cell in earlier.latest})
        for cell, result in best.items():
            if result.value is not None and cell not in earlier.results:
                earlier.results[cell] = result
                earlier.nights.setdefault(cell, name)
        if wanted <= set(earlier.results):
            break
    return earlier, latest_name, skipped


def night_report(storage, study_name: str, prefix: str, date: str, cells, metric: str, direction: str, threshold: float,
                 fail_on_missing: bool = True, z: float = 2.0) -> Report:  # fmt: skip
    """Tonight's report from the storage (any Optuna storage: sqlite, journal, PostgreSQL)."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    tonight = best_per_cell(study, direction)
    names = earlier_nights(optuna.get_all_study_names(storage), prefix, date)
    earlier, latest, skipped = earlier_results(storage, names, list(cells), metric, direction)
    note = "; ".join(skipped) if skipped else ("" if names else "no previous night")
    rows = compare(tonight, earlier, list(cells), direction, threshold, fail_on_missing, z)
    return Report(study_name, latest or None, metric, direction, threshold, rows, note, z)
