"""Transferability scores by name (``scores=[logme,hscore,knn]``): each maps frozen features and their
labels to one number, higher meaning the features suit the task better. The first one named ranks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from sweep.config.registry import Registry


@dataclass(frozen=True)
class Score:
    compute: Callable[[np.ndarray, np.ndarray, int], float]  # (features, labels, seed) -> score
    meaning: str  # one line for the README and --help
    # what it reads (TaskType.select_targets): "classes" (one class id per row, or per word) or "targets"
    # (any numeric targets: multi-hot rows, a number)
    reads: str = "classes"


SCORES: Registry[Score] = Registry("scores")


def _logme(features, labels, seed):
    from sweep.select.logme import logme

    return logme(features, labels)


def _hscore(features, labels, seed):
    from sweep.select.hscore import hscore

    return hscore(features, labels)


def _knn(features, labels, seed):
    from sweep.select.probes import knn_accuracy

    return knn_accuracy(features, labels, seed)


def _linear(features, labels, seed):
    from sweep.select.probes import linear_accuracy

    return linear_accuracy(features, labels, seed)


SCORES.register("logme")(
    Score(_logme, "log evidence per row of a Bayesian linear model on the features (You et al. 2021)", reads="targets")
)
SCORES.register("hscore")(Score(_hscore, "between-class over total feature covariance, Ledoit-Wolf shrunk (Bao et al. 2019)"))
SCORES.register("knn")(Score(_knn, "5-fold cross-validated accuracy of a 10-nearest-neighbour vote"))
SCORES.register("linear")(Score(_linear, "5-fold cross-validated accuracy of a logistic-regression probe"))
