"""Every registered score ranks feature sets by how much of the labels they carry."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.config.errors import ConfigError
from sweep.select.hscore import hscore
from sweep.select.scores import SCORES


def feature_sets(n: int, d: int, seed: int = 0):
    """Three candidates on one 3-class task: strongly informative, weakly informative, pure noise. The
    label sits in a random direction, spread over all dimensions, with an unequal scale per dimension, as
    pooled transformer features have."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    directions = rng.normal(size=(3, d))
    scale = np.exp(rng.normal(size=d))
    make = {
        "informative": lambda: (rng.normal(size=(n, d)) + 1.5 * directions[labels] / np.sqrt(d) * 3) * scale,
        "weak": lambda: (rng.normal(size=(n, d)) + 0.5 * directions[labels] / np.sqrt(d) * 3) * scale,
        "noise": lambda: rng.normal(size=(n, d)) * scale,
    }
    return {name: build() for name, build in make.items()}, labels


@pytest.mark.parametrize("name", ["logme", "hscore", "knn", "linear"])
def test_each_score_ranks_informative_then_weak_then_noise(name):
    sets, labels = feature_sets(600, 32)
    score = SCORES.get(name).compute
    values = {key: score(features, labels, 0) for key, features in sets.items()}
    assert values["informative"] > values["weak"] > values["noise"], values


@pytest.mark.parametrize("name", ["logme", "hscore", "knn", "linear"])
def test_each_score_ranks_informative_above_noise_with_fewer_rows_than_dimensions(name):
    sets, labels = feature_sets(60, 128)
    score = SCORES.get(name).compute
    assert score(sets["informative"], labels, 0) > score(sets["noise"], labels, 0)


def unregularised_hscore(features: np.ndarray, labels: np.ndarray) -> float:
    """Bao et al.'s H-score with the pseudo-inverse of the sample covariance."""
    centred = features - features.mean(axis=0)
    classes, counts = np.unique(labels, return_counts=True)
    means = np.stack([centred[labels == label].mean(axis=0) for label in classes])
    inverse = np.linalg.pinv(np.cov(centred.T, bias=True))
    return float(np.sum(counts / counts.sum() * np.einsum("cd,dc->c", means, inverse @ means.T)))


def test_hscore_needs_the_shrinkage_when_rows_are_fewer_than_dimensions():
    """N < D: with the sample covariance every feature set, noise included, scores classes - 1 exactly (the
    rows are always separable); the shrunk covariance still tells the informative set from noise."""
    sets, labels = feature_sets(40, 200)
    for features in sets.values():
        assert unregularised_hscore(features, labels) == pytest.approx(2.0, rel=1e-6)
    assert hscore(sets["informative"], labels) > hscore(sets["noise"], labels)
    assert all(np.isfinite(hscore(features, labels)) for features in sets.values())
    big, big_labels = feature_sets(3000, 16)  # many rows: shrinkage vanishes, both agree
    assert hscore(big["informative"], big_labels) == pytest.approx(unregularised_hscore(big["informative"], big_labels), rel=0.01)


def test_an_unknown_score_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"scores=nope: unknown name; known: hscore, knn, linear, logme"):
        SCORES.get("nope")
