"""The regression report: tonight's best per (model, strategy) against the previous night's.

The previous night is the latest study named ``<study_prefix>-<YYYY-MM-DD>`` with an earlier date in
the same storage. Per cell, the best complete trial's first objective (``search.metrics[0]``, in its
direction); a change worse than ``nightly.threshold`` (absolute) is a REGRESSION. Verdicts:

    improved     better by more than the threshold
    ok           within the threshold
    REGRESSION   worse by more than the threshold                                   (fails the night)
    missing      in tonight's matrix, no complete trial tonight (failed, pruned, not run);
                 fails the night when the previous night had a result and nightly.fail_on_missing
    new          tonight's matrix has it, the previous night did not
    removed      the previous night had it, tonight's matrix does not
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from sweep.nightly.matrix import cell_of

REGRESSION_EXIT = 3  # distinct from a crashed search (1), bad input (2), a signal (130, 143)
TOLERANCE = 1e-9  # 0.70 - 0.72 is -0.0200000001 in floats: not "beyond" a threshold of 0.02


@dataclass
class CellBest:
    value: float | None = None  # the best complete trial's objective; None: no complete trial
    trial: int | None = None
    states: Counter = field(default_factory=Counter)  # complete / pruned / fail / running, counted trials only

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
    return cells


def previous_night(names: list[str], prefix: str, date: str) -> str | None:
    """The latest ``<prefix>-<date>`` study before ``date`` (ISO dates sort as strings)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{4}}-\d{{2}}-\d{{2}})$")
    earlier = sorted(m.group(1) for m in map(pattern.match, names) if m and m.group(1) < date)
    return f"{prefix}-{earlier[-1]}" if earlier else None


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


@dataclass
class Report:
    study: str
    previous_study: str | None
    metric: str
    direction: str
    threshold: float
    rows: list[Row]
    note: str = ""  # why there is nothing to compare against

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
        head = [
            f"## Nightly {self.study} {against}",
            "",
            f"Objective `{self.metric}` ({self.direction}), best complete trial per cell; "
            f"regression: worse by more than {self.threshold:g} (absolute).",
            "",
            "| model | strategy | tonight | previous | delta | verdict | trials |",
            "|:--|:--|--:|--:|--:|:--|:--|",
        ]

        def number(value: float | None, signed: bool = False) -> str:
            return "" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")

        lines = [
            f"| {r.model} | {r.strategy} | {number(r.tonight)} | {number(r.previous)} | {number(r.delta, True)} | {r.verdict} | {r.note} |"
            for r in self.rows
        ]
        return "\n".join(head + lines + ["", self.verdict_line(), ""])

    def to_json(self) -> str:
        body = asdict(self)
        body.update(exit_code=self.exit_code, regressions=len(self.failing))
        return json.dumps(body, indent=2)


def compare(
    tonight: dict, previous: dict | None, cells: list[tuple[str, str]], direction: str, threshold: float, fail_on_missing: bool = True
) -> list[Row]:
    """One row per cell of tonight's matrix, then the cells only the previous night had."""
    sign = 1.0 if direction == "maximize" else -1.0  # gain > 0 is better, whatever the direction
    rows = []
    for model, strategy in cells:
        now, before = tonight.get((model, strategy), CellBest()), (previous or {}).get((model, strategy))
        note = f"trial {now.trial}" if now.trial is not None else now.why_missing()
        if now.value is None:
            had = before is not None and before.value is not None
            rows.append(Row(model, strategy, None, before.value if had else None, None, "missing", None,
                            before.trial if had else None, note, fails=had and fail_on_missing))  # fmt: skip
            continue
        if before is None or before.value is None:
            verdict = "new" if previous is not None else "first night"
            rows.append(Row(model, strategy, now.value, None, None, verdict, now.trial, None, note))
            continue
        delta = now.value - before.value
        gain = sign * delta
        verdict = "REGRESSION" if gain < -threshold - TOLERANCE else "improved" if gain > threshold + TOLERANCE else "ok"
        rows.append(
            Row(model, strategy, now.value, before.value, delta, verdict, now.trial, before.trial, note, fails=verdict == "REGRESSION")
        )
    for (model, strategy), before in sorted((previous or {}).items()):
        if (model, strategy) not in cells:
            rows.append(Row(model, strategy, None, before.value, None, "removed", None, before.trial, "not in tonight's matrix"))
    return rows


def night_report(storage, study_name: str, prefix: str, date: str, cells, metric: str, direction: str, threshold: float,
                 fail_on_missing: bool = True) -> Report:  # fmt: skip
    """Tonight's report from the storage (any Optuna storage: sqlite, journal, PostgreSQL)."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    tonight = best_per_cell(study, direction)
    name = previous_night(optuna.get_all_study_names(storage), prefix, date)
    previous, note = None, "" if name else "no previous night"
    if name is not None:
        before = optuna.load_study(study_name=name, storage=storage)
        metrics, directions = before.user_attrs.get("metrics", []), [d.name.lower() for d in before.directions]
        if metrics[:1] != [metric] or directions[:1] != [direction]:
            note = f"{name} optimised {metrics[:1]} ({directions[:1]}), not {metric} ({direction}): not comparable"
            name = None
        else:
            previous = best_per_cell(before, direction)
    rows = compare(tonight, previous, list(cells), direction, threshold, fail_on_missing)
    return Report(study_name, name, metric, direction, threshold, rows, note)
