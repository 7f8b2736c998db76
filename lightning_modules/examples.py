"""Per-example records of an evaluation: what a run keeps of its validation and test predictions, so that a report
can put intervals on its metrics and compare two runs on the same rows (a paired bootstrap).

During a validation or test the module adds, for each batch, each row's statistics under its example id (its
index in the split: ids pair the rows of two runs whatever order their batches took); the objective names the
formulas (example_formulas.py) that turn them into its metrics. At the stage's end they become one
``ExampleTable``: ``predictions/<stage>.npz`` in the run's artifacts, a few numbers per row (tens of KB for
thousands of rows), no text.

A row may be given statistics by several calls (generation: the loss while teacher-forced, the text scores after
generating); a column a row was never given is 0 for it, so a formula's counts (``generated``) say which rows it covers.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from lightning_modules.example_formulas import Rows, Spec, columns_of, evaluate

FORMAT = 1  # the artifact's layout version


@dataclass
class ExampleTable:
    """One stage's rows: their ids (sorted), their statistics, and each metric's formula (``val/acc`` -> spec)."""

    ids: np.ndarray  # int64 [n]
    columns: dict[str, np.ndarray]  # [n] or [n, k], float64
    formulas: dict[str, Spec]

    def __len__(self) -> int:
        return len(self.ids)

    def value(self, metric: str, weights: np.ndarray | None = None) -> np.ndarray:
        """``metric`` over all rows (weights None: ``[1]``), or over B resamples (weights ``[B, n]``): ``[B]``."""
        return evaluate(self.formulas[metric], Rows(self.columns, weights))

    def subset(self, ids: np.ndarray) -> ExampleTable:
        """These rows only (each must be present), in the order of ``ids``."""
        where = np.searchsorted(self.ids, ids)
        if len(ids) and (where.max() >= len(self.ids) or not np.array_equal(self.ids[where], ids)):
            raise KeyError("some example ids are not in this table")
        return ExampleTable(np.asarray(ids), {name: column[where] for name, column in self.columns.items()}, self.formulas)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        header = json.dumps({"format": FORMAT, "formulas": self.formulas, "columns": list(self.columns)})
        arrays = {f"column_{i}": column for i, column in enumerate(self.columns.values())}
        np.savez_compressed(buffer, ids=self.ids, header=np.array(header), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ExampleTable:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            header = json.loads(str(arrays["header"]))
            if header.get("format") != FORMAT:
                raise ValueError(f"predictions artifact of format {header.get('format')}, this version reads {FORMAT}")
            columns = {name: arrays[f"column_{i}"] for i, name in enumerate(header["columns"])}
            return cls(arrays["ids"], columns, header["formulas"])


class ExampleLog:
    """The statistics added during one stage, by example id, until ``table`` gathers them."""

    def __init__(self):
        self.parts: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []

    def add(self, ids, statistics: dict) -> None:
        """``ids``: [B] example ids; ``statistics``: name -> [B] or [B, k] (tensors or arrays)."""
        if not statistics:
            return
        as_array = {name: np.asarray(to_numpy(value), dtype=np.float64) for name, value in statistics.items()}
        self.parts.append((np.asarray(to_numpy(ids), dtype=np.int64), as_array))

    def table(self, formulas: dict[str, Spec], finish=None) -> ExampleTable | None:
        """The rows seen, with the columns the formulas read (None: nothing recorded, or no formula has its columns).
        ``finish(columns) -> columns``: the objective's last step (a multi-label threshold chosen only now)."""
        parts, self.parts = self.parts, []
        if not parts or not formulas:
            return None
        ids = np.unique(np.concatenate([part_ids for part_ids, _ in parts]))
        columns: dict[str, np.ndarray] = {}
        for part_ids, statistics in parts:
            where = np.searchsorted(ids, part_ids)
            for name, values in statistics.items():
                if name not in columns:
                    columns[name] = np.zeros((len(ids), *values.shape[1:]))
                target = columns[name]
                if target.shape[1:] != values.shape[1:]:  # a multi-task sub-task's columns are its own: never mixed widths
                    raise ValueError(f"column {name}: rows of widths {target.shape[1:]} and {values.shape[1:]}")
                target[where] = values
        if finish is not None:
            columns = finish(columns)
        usable = {metric: spec for metric, spec in formulas.items() if columns_of(spec) <= columns.keys()}
        needed = set().union(*(columns_of(spec) for spec in usable.values()))
        return ExampleTable(ids, {name: columns[name] for name in sorted(needed)}, usable) if usable else None

    def clear(self) -> None:
        self.parts = []


def to_numpy(value):
    if hasattr(value, "detach"):  # a tensor: torch is not imported here
        return value.detach().to("cpu").double().numpy() if value.is_floating_point() else value.detach().to("cpu").numpy()
    return value
