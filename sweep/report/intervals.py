"""Error bars on every decision: bootstrap intervals of each cell's metric, and paired comparisons between cells.

Each finished run keeps its per-example statistics of the best validation and of the test (``predictions/<stage>.npz``,
lightning_modules/examples.py); a metric is a formula over them (example_formulas.py), so F1, RMSE, ROUGE and BLEU
are recomputed per resample, not only accuracy. One resample draws the evaluation's rows with replacement (the same
draw for every cell: the comparison is *paired*, row by row) and, for a cell with several seeds, its seeds with
replacement too; the cell's value in that resample is the mean over the drawn seeds of the metric on the drawn
rows. The percentile interval of those values is the cell's interval; the difference between two cells, resample by
resample, gives the interval of the difference and the probability that one is better (ties count half).

Significance is the interval of the difference excluding 0. How much more data would settle a difference: the
difference's variance splits into a row part (the same draw of rows, seeds not redrawn) that shrinks as 1/rows and a
seed part (the rest) that shrinks as 1/seeds; the rows or seeds that bring the interval's half-width below the
difference, if it stays what it is, are said.

Written here rather than taken from scipy.stats.bootstrap: the resamples must be shared across cells and nested over
seeds, and each metric is evaluated for all of them at once as weighted sums (a [B, rows] weight matrix), which
scipy's per-sample callback cannot do.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_modules.example_formulas import columns_of

log = logging.getLogger("sweep")
CHUNK = 200  # resamples evaluated together: a [200, rows] weight matrix (16 MB at 10k rows)


@dataclass
class Comparison:
    """``first`` against ``second``: the difference first - second in the better direction (> 0: first better)."""

    difference: float
    low: float
    high: float
    p_better: float  # the share of resamples in which first is better (ties half)
    rows: int
    seeds: tuple[int, int]
    row_variance: float  # the part of the difference's variance the rows' draw makes
    seed_variance: float  # the rest: the seeds' (0 with one seed per cell: unknown)
    confidence: float  # of the interval (0.95)

    @property
    def z(self) -> float:
        """The normal quantile of the confidence level: 1.96 for 95 %."""
        return quantile_of(self.confidence)

    @property
    def significant(self) -> bool:
        """The interval of the difference excludes 0."""
        return self.low > 0 or self.high < 0

    def rows_to_settle(self) -> int | None:
        """Rows that would make the difference significant if it stayed this size (None: rows alone cannot)."""
        target = (self.difference / self.z) ** 2
        if self.difference == 0 or self.seed_variance >= target or self.row_variance <= 0:
            return None
        return math.ceil(self.rows * self.row_variance / (target - self.seed_variance))

    def scale_to_settle(self) -> float | None:
        """The factor by which rows and seeds together would have to grow, when neither alone would do (None: a zero difference)."""
        target = (self.difference / self.z) ** 2
        if self.difference == 0:
            return None
        return (self.row_variance + self.seed_variance) / target

    def seeds_to_settle(self) -> int | None:
        """Seeds per cell that would, likewise (None: unknown with one seed each, or seeds alone cannot)."""
        target = (self.difference / self.z) ** 2
        if self.difference == 0 or min(self.seeds) < 2 or self.row_variance >= target or self.seed_variance <= 0:
            return None
        return math.ceil(min(self.seeds) * self.seed_variance / (target - self.row_variance))


def quantile_of(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


class Bootstrap:
    """Resampled values of one metric for several cells, each a list of per-seed tables of the same evaluation.

    ``tables``: cell key -> one ExampleTable per seed (run). Rows are paired by example id: only the ids every table
    has are used (a run that evaluated other rows would not pair). ``sign``: +1 if higher is better, -1 if lower.
    """

    def __init__(self, tables: dict, metric: str, sign: float, resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
        self.metric, self.sign, self.confidence = metric, sign, confidence
        every = [table for seeds in tables.values() for table in seeds]
        ids = every[0].ids
        for table in every[1:]:
            ids = np.intersect1d(ids, table.ids)
        self.ids, self.seed_counts = ids, {key: len(seeds) for key, seeds in tables.items()}
        subsets = {key: [table.subset(ids) for table in seeds] for key, seeds in tables.items()}
        first = next(iter(subsets.values()))[0]
        read = [np.asarray(first.columns[name]).reshape(len(ids), -1) for name in sorted(columns_of(first.formulas[metric]))]
        self.covered = int((np.concatenate(read, axis=1) != 0).any(1).sum()) if read else len(ids)
        rows_rng = np.random.default_rng(seed)
        per_seed = {key: np.empty((len(seeds), resamples)) for key, seeds in subsets.items()}
        for start in range(0, resamples, CHUNK):
            size = min(CHUNK, resamples - start)
            weights = rows_rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=size) if len(ids) else np.zeros((size, 0))
            for key, seeds in subsets.items():
                for s, table in enumerate(seeds):
                    per_seed[key][s, start : start + size] = table.value(metric, weights)
        self.point = {key: float(np.mean([table.value(metric)[0] for table in seeds])) for key, seeds in subsets.items()}
        self.row_only = {key: values.mean(0) for key, values in per_seed.items()}  # seeds kept, rows redrawn
        self.samples = {}
        for i, (key, values) in enumerate(per_seed.items()):  # seeds redrawn too, independently per cell
            count = values.shape[0]
            picks = np.random.default_rng([seed, i + 1]).integers(0, count, size=(resamples, count))
            self.samples[key] = values[picks, np.arange(resamples)[:, None]].mean(1)

    @property
    def rows(self) -> int:
        """The rows the metric is made of: those with any of its statistics (a fit's validation generates a subset)."""
        return self.covered

    def interval(self, key) -> tuple[float, float]:
        tail = 100 * (1 - self.confidence) / 2
        low, high = np.nanpercentile(self.samples[key], [tail, 100 - tail])
        return float(low), float(high)

    def compare(self, first, second) -> Comparison:
        tail = 100 * (1 - self.confidence) / 2
        differences = self.sign * (self.samples[first] - self.samples[second])
        low, high = np.nanpercentile(differences, [tail, 100 - tail])
        p_better = float(np.nanmean((differences > 0) + 0.5 * (differences == 0)))
        total = float(np.nanvar(differences))
        row_part = float(np.nanvar(self.sign * (self.row_only[first] - self.row_only[second])))
        return Comparison(
            self.sign * (self.point[first] - self.point[second]), float(low), float(high), p_better, self.rows,
            (self.seed_counts[first], self.seed_counts[second]), row_part, max(total - row_part, 0.0), self.confidence,
        )  # fmt: skip


class Predictions:
    """The per-example tables of runs, read from their artifacts once (None for a run that kept none)."""

    def __init__(self, client):
        self.client = client
        self.read: dict[tuple[str, str], object] = {}

    def table(self, run_id: str, stage: str):
        key = (run_id, stage)
        if key not in self.read:
            self.read[key] = self._download(run_id, stage)
        return self.read[key]

    def _download(self, run_id: str, stage: str):
        from lightning_modules.examples import ExampleTable
        from sweep.tracking.job_run import PREDICTIONS_DIR

        try:
            with tempfile.TemporaryDirectory() as folder:
                path = self.client.download_artifacts(run_id, f"{PREDICTIONS_DIR}/{stage}.npz", folder)
                return ExampleTable.from_bytes(Path(path).read_bytes())
        except Exception as error:  # a run from before predictions were kept, or an artifact store that is gone
            log.debug("no %s predictions for run %s: %s", stage, run_id, error)
            return None


def bootstrap_cells(cells, predictions: Predictions, stage: str, metric: str, sign: float, resamples: int, confidence: float,
                    seed: int = 0) -> Bootstrap | None:  # fmt: skip
    """The bootstrap over the cells whose every run kept its ``stage`` table with ``metric`` (None: fewer than one)."""
    tables = {}
    for cell in cells:
        seeds = [predictions.table(run_id, stage) for run_id in cell.run_ids]
        if seeds and all(table is not None and metric in table.formulas for table in seeds):
            tables[(cell.model, cell.strategy)] = seeds
    if not tables:
        return None
    return Bootstrap(tables, metric, sign, resamples, confidence, seed)
