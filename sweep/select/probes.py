"""Probe accuracies: how well a simple classifier on the frozen features predicts the labels, by
stratified k-fold cross-validation on the training split (scikit-learn). Slower than LogME and H-score
(a fit per fold) and noisier on few rows, but in the unit users care about: accuracy.

Features are standardised first (inside each fold): pooled transformer features differ in scale by
orders of magnitude across models and dimensions, which would otherwise decide the neighbours.
"""

from __future__ import annotations

import numpy as np

FOLDS = 5
NEIGHBOURS = 10


def knn_accuracy(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Mean accuracy of a 10-nearest-neighbour vote (Euclidean, standardised features)."""
    from sklearn.neighbors import KNeighborsClassifier

    folds = _folds(labels, seed)
    smallest_train = len(labels) - int(np.ceil(len(labels) / folds.get_n_splits()))
    return _cross_validated(KNeighborsClassifier(n_neighbors=max(1, min(NEIGHBOURS, smallest_train))), features, labels, folds)


def linear_accuracy(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Mean accuracy of an L2-regularised logistic regression (C = 1, standardised features)."""
    from sklearn.linear_model import LogisticRegression

    return _cross_validated(LogisticRegression(max_iter=2000), features, labels, _folds(labels, seed))


def _folds(labels: np.ndarray, seed: int):
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if smallest < 2:
        raise ValueError(f"a class has {smallest} row(s): cross-validation needs at least 2 per class")
    return StratifiedKFold(n_splits=min(FOLDS, smallest), shuffle=True, random_state=seed)


def _cross_validated(classifier, features: np.ndarray, labels: np.ndarray, folds) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = cross_val_score(make_pipeline(StandardScaler(), classifier), np.asarray(features, np.float64), labels, cv=folds)
    return float(np.mean(scores))
