"""A metric recomputed from per-example statistics, for any resample of the rows: what makes bootstrap intervals
of F1, RMSE, ROUGE or BLEU possible, not only of accuracy.

Each objective records, per validation or test row, a few numbers (``examples.py``): a row's correctness, its
true/false positives per class, its prediction and target, its BLEU n-gram counts. A metric is a *formula*
over those columns, written as data (``["ratio", "correct", "count"]``, ``["mean", [...], [...]]``) so that it
travels in the predictions artifact beside the numbers and a report process evaluates it without torch.

A resample is a vector of row weights (how many times each row was drawn); ``Rows`` holds the columns and the
weights of B resamples at once, so every formula is a few matrix products over all of them. With every weight 1
a formula gives back the metric the run logged (tests/test_example_stats.py checks it for every task type):
accuracy and micro-F1 as ratios of summed counts, torchmetrics' macro-F1 over the classes seen, seqeval's
entity F1 from matched/predicted/gold entities, Pearson and Spearman with weighted moments and ranks, corpus
BLEU and chrF from their summed n-gram statistics (text_statistics.py). Only numpy is imported here.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

Spec = list  # [formula name, *arguments]; an argument is a column name or a nested spec


class Rows:
    """Per-row columns (``[n]`` or ``[n, k]``) and the row weights of B resamples (``[B, n]``)."""

    def __init__(self, columns: dict[str, np.ndarray], weights: np.ndarray | None = None):
        self.columns = columns
        n = len(next(iter(columns.values()))) if columns else 0
        self.weights = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)

    def total(self, name: str) -> np.ndarray:
        """The weighted sum over rows of a column: ``[B]`` (or ``[B, k]`` for a ``[n, k]`` column)."""
        return self.weights @ np.asarray(self.columns[name], dtype=np.float64)


FORMULAS: dict[str, Callable[..., np.ndarray]] = {}


def formula(function):
    FORMULAS[function.__name__] = function
    return function


def divide(numerator: np.ndarray, denominator: np.ndarray, empty: float) -> np.ndarray:
    """numerator / denominator, ``empty`` where the denominator is 0."""
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, empty, numerator / safe)


@formula
def ratio(rows: Rows, numerator: str, denominator: str) -> np.ndarray:
    """Σ numerator / Σ denominator (accuracy, a mean per row); NaN for no rows."""
    return divide(rows.total(numerator), rows.total(denominator), np.nan)


@formula
def fraction(rows: Rows, numerator: str, denominator: str) -> np.ndarray:
    """As ratio, 0 where nothing was counted (seqeval's precision with no predicted entity)."""
    return divide(rows.total(numerator), rows.total(denominator), 0.0)


@formula
def exp_ratio(rows: Rows, numerator: str, denominator: str) -> np.ndarray:
    """exp(Σ loss / Σ tokens), capped as the module caps it: perplexity."""
    return np.exp(np.minimum(ratio(rows, numerator, denominator), 50.0))


def f1_of(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return divide(2 * tp, 2 * tp + fp + fn, 0.0)


@formula
def f1(rows: Rows, tp: str, fp: str, fn: str) -> np.ndarray:
    """Micro-F1 from per-row (per-class) counts."""
    totals = [rows.total(name) for name in (tp, fp, fn)]
    totals = [t.sum(-1) if t.ndim > 1 else t for t in totals]
    return f1_of(*totals)


@formula
def macro_f1(rows: Rows, tp: str, fp: str, fn: str) -> np.ndarray:
    """The mean F1 over every class (a class never seen scores 0): the multi-label objective's f1_macro."""
    return f1_of(*(rows.total(name) for name in (tp, fp, fn))).mean(-1)


@formula
def macro_f1_seen(rows: Rows, tp: str, fp: str, fn: str) -> np.ndarray:
    """The mean F1 over the classes with any tp, fp or fn: torchmetrics' MulticlassF1Score(average="macro")."""
    tp_, fp_, fn_ = (rows.total(name) for name in (tp, fp, fn))
    seen = (tp_ + fp_ + fn_) > 0
    return divide((f1_of(tp_, fp_, fn_) * seen).sum(-1), seen.sum(-1).astype(np.float64), 0.0)


@formula
def dice(rows: Rows, matched: str, predicted: str, gold: str) -> np.ndarray:
    """2·matched / (predicted + gold): seqeval's entity F1 from counts, 0 when there is nothing."""
    return divide(2 * rows.total(matched), rows.total(predicted) + rows.total(gold), 0.0)


@formula
def rmse(rows: Rows, prediction: str, target: str) -> np.ndarray:
    error = np.asarray(rows.columns[prediction], np.float64) - np.asarray(rows.columns[target], np.float64)
    return np.sqrt(divide(rows.weights @ (error * error), rows.weights.sum(-1), np.nan))


@formula
def mae(rows: Rows, prediction: str, target: str) -> np.ndarray:
    error = np.asarray(rows.columns[prediction], np.float64) - np.asarray(rows.columns[target], np.float64)
    return divide(rows.weights @ np.abs(error), rows.weights.sum(-1), np.nan)


def weighted_pearson(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of rows counted by weight ([B, n]; x, y [n] or [B, n]); NaN where either side is constant."""
    total = weights.sum(-1, keepdims=True)
    dx = x - (weights * x).sum(-1, keepdims=True) / total
    dy = y - (weights * y).sum(-1, keepdims=True) / total
    sxy, sxx, syy = ((weights * a * b).sum(-1) for a, b in ((dx, dy), (dx, dx), (dy, dy)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    constant = (sxx <= 1e-300) | (syy <= 1e-300)
    return np.where(constant, np.nan, np.clip(r, -1.0, 1.0))


def weighted_ranks(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Average ranks ([B, n]) of each row's value among the rows drawn, ties sharing the mean rank (scipy's
    "average"); a row drawn w times stands for w equal values."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # the first row of each run of equal values
    group = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    per_group = np.add.reduceat(weights[:, order], starts, axis=1)  # [B, groups]: how many drawn with each value
    ends = np.cumsum(per_group, axis=1)
    mean_rank = ends - (per_group - 1) / 2
    ranks = np.empty_like(weights, dtype=np.float64)
    ranks[:, order] = mean_rank[:, group]
    return ranks


@formula
def pearson(rows: Rows, prediction: str, target: str) -> np.ndarray:
    return weighted_pearson(rows.weights, np.asarray(rows.columns[prediction], np.float64), np.asarray(rows.columns[target], np.float64))


@formula
def spearman(rows: Rows, prediction: str, target: str) -> np.ndarray:
    x, y = (np.asarray(rows.columns[name], np.float64) for name in (prediction, target))
    return weighted_pearson(rows.weights, weighted_ranks(rows.weights, x), weighted_ranks(rows.weights, y))


@formula
def bleu(rows: Rows, statistics: str) -> np.ndarray:
    from lightning_modules.text_statistics import bleu_from_totals

    return bleu_from_totals(rows.total(statistics))


@formula
def chrf(rows: Rows, statistics: str) -> np.ndarray:
    from lightning_modules.text_statistics import chrf_from_totals

    return chrf_from_totals(rows.total(statistics))


@formula
def mean(rows: Rows, *specs: Spec) -> np.ndarray:
    """The unweighted mean of several metrics (multi-task: over the sub-tasks), ignoring a sub-task with no row drawn."""
    with warnings.catch_warnings():  # "mean of empty slice": every sub-task empty in a resample gives NaN, said once by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack([evaluate(spec, rows) for spec in specs]), axis=0)


def evaluate(spec: Spec, rows: Rows) -> np.ndarray:
    """The metric ``spec`` describes, for each resample in ``rows``: ``[B]``."""
    name, *arguments = spec
    return np.asarray(FORMULAS[name](rows, *arguments), dtype=np.float64)


def renamed(spec: Spec, prefix: str) -> Spec:
    """The same formula over columns named ``<prefix><column>`` (a sub-task's, in multi-task training)."""
    name, *arguments = spec
    return [name, *(renamed(a, prefix) if isinstance(a, list) else f"{prefix}{a}" for a in arguments)]


def columns_of(spec: Spec) -> set[str]:
    """Every column a formula reads."""
    _, *arguments = spec
    return set().union(*(columns_of(a) if isinstance(a, list) else {a} for a in arguments)) if arguments else set()
