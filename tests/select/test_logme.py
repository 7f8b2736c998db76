"""LogME against the evidence computed directly, O(D^3), and against the reference implementation's formula."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.select import logme
from sweep.select.logme import INTERIOR, NOISE_FREE, UNUSED, Spectrum, class_evidences


def direct_evidence(features: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """log p(y | F, alpha, beta) of y = F w + noise, w ~ N(0, alpha^-1 I), noise ~ N(0, beta^-1), from the
    D x D matrix A = alpha I + beta F^T F: no SVD, no rank, nothing shared with sweep.select.logme."""
    n, d = features.shape
    a = alpha * np.eye(d) + beta * features.T @ features
    m = beta * np.linalg.solve(a, features.T @ y)
    _, logdet = np.linalg.slogdet(a)
    return (
        d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((features @ m - y) ** 2) - alpha / 2 * m @ m - logdet / 2
    )  # fmt: skip


def gaussian(y: np.ndarray, covariance: np.ndarray) -> float:
    """log N(y; 0, covariance): the evidence with w integrated out, y ~ N(0, F F^T / alpha + I / beta)."""
    _, logdet = np.linalg.slogdet(covariance)
    return -0.5 * (y @ np.linalg.solve(covariance, y) + logdet + len(y) * np.log(2 * np.pi))


def direct_limit(features: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The evidence at an edge of (alpha, beta), directly: beta = inf drops the noise, alpha = inf drops F."""
    n = len(y)
    if np.isinf(beta):
        return gaussian(y, features @ features.T / alpha)
    assert np.isinf(alpha)
    return gaussian(y, np.eye(n) / beta)


def reference_formula(features: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The evidence as github.com/thuml/LogME (LogME.py, _fit_fixed_point) writes it: D/2 log alpha for the
    prior, but the log-determinant summed over the nonzero singular values of F only."""
    n, d = features.shape
    spectrum = Spectrum.of(features)
    sigma = spectrum.s**2
    x = spectrum.u.T @ y
    m = spectrum.vt.T @ (beta * spectrum.s * x / (alpha + beta * sigma))
    residual = np.sum((features @ m - y) ** 2)
    return (
        d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
        - beta / 2 * residual - alpha / 2 * m @ m - 0.5 * np.sum(np.log(alpha + beta * sigma))
    )  # fmt: skip


def problem(n: int, d: int, classes: int = 3, seed: int = 0, signal: float = 0.8):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    # features that carry some of the label, plus noise
    features = rng.normal(size=(n, d)) + signal * np.eye(classes, d)[labels]
    return features, labels


def targets(features, labels):
    for label, item in zip(np.unique(labels), class_evidences(features, labels)):
        yield (labels == label).astype(float), item


@pytest.mark.parametrize("n, d, seed", [(30, 10, 0), (10, 30, 0), (200, 40, 0), (25, 60, 0), (20, 30, 0), (10, 30, 1)])
def test_the_score_is_the_direct_evidence_at_its_optimum(n, d, seed):
    """At a fixed point, the evidence from the SVD is the direct O(D^3) one; at an edge, the direct limit."""
    features, labels = problem(n, d, seed=seed)
    found = list(targets(features, labels))
    assert len(found) == len(np.unique(labels))
    for y, item in found:
        if item.optimum == INTERIOR:
            assert item.evidence * n == pytest.approx(direct_evidence(features, y, item.alpha, item.beta), rel=1e-6)
        else:
            assert n < d and item.optimum in (NOISE_FREE, UNUSED)
            assert item.evidence * n == pytest.approx(direct_limit(features, y, item.alpha, item.beta), rel=1e-6)
    assert logme(features, labels) == pytest.approx(np.mean([item.evidence for _, item in found]))
    if n > d:
        assert all(item.optimum == INTERIOR for _, item in found)


@pytest.mark.parametrize("n, d, seed", [(30, 10, 1), (10, 30, 0), (10, 30, 1), (20, 30, 0)])
def test_the_score_is_the_supremum_of_the_evidence(n, d, seed):
    """No (alpha, beta) has more evidence than the score: checked directly on a wide log grid, and near a
    fixed point, where every small step lowers it (a maximum, not a saddle)."""
    features, labels = problem(n, d, seed=seed)
    grid = np.geomspace(1e-4, 1e6, 41)
    for y, item in targets(features, labels):
        top = item.evidence * n
        assert max(direct_evidence(features, y, a, b) for a in grid for b in grid) <= top + 1e-7 * abs(top)
        if item.optimum == INTERIOR:
            for fa, fb in [(1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98), (1.02, 1.02), (0.98, 0.98), (1.02, 0.98)]:
                assert direct_evidence(features, y, item.alpha * fa, item.beta * fb) < top


def test_the_reference_formula_inflates_the_score_when_n_is_below_d():
    """N < D: F has rank k = N < D, and the reference leaves out (D - k)/2 log alpha; with alpha > 1 its score
    is larger than the evidence by exactly that much. N > D (full rank): both agree."""
    n, d = 10, 30
    features, labels = problem(n, d)
    interior = [(y, item) for y, item in targets(features, labels) if item.optimum == INTERIOR]
    assert interior  # this problem has a class with an interior optimum (the others lie on an edge)
    for y, item in interior:
        reference = reference_formula(features, y, item.alpha, item.beta)
        assert item.alpha > 1
        assert reference > item.evidence * n + 1.0  # not a rounding difference
        assert reference - item.evidence * n == pytest.approx((d - n) / 2 * np.log(item.alpha), rel=1e-9)
        assert reference > direct_evidence(features, y, item.alpha, item.beta) + 1.0
    features, labels = problem(30, 10)
    for y, item in targets(features, labels):
        assert reference_formula(features, y, item.alpha, item.beta) / 30 == pytest.approx(item.evidence, rel=1e-9)


def test_rank_deficient_features_with_more_rows_than_dimensions():
    """N > D is no guarantee: duplicated columns make k < D, and the (D - k) term is needed there too."""
    features, labels = problem(60, 8, seed=2, signal=2.0)
    wide = np.hstack([features, features[:, :4]])  # 12 columns, rank 8
    assert Spectrum.of(wide).rank == 8
    for y, item in targets(wide, labels):
        assert item.optimum == INTERIOR
        assert item.evidence * 60 == pytest.approx(direct_evidence(wide, y, item.alpha, item.beta), rel=1e-6)
        assert reference_formula(wide, y, item.alpha, item.beta) > item.evidence * 60


def test_more_informative_features_score_higher():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    noise = rng.normal(size=(300, 16))
    informative = noise + 2.0 * labels[:, None] * np.eye(16)[0]
    assert logme(informative, labels) > logme(noise, labels)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one label per row"):
        logme(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="all zero"):
        logme(np.zeros((5, 3)), np.array([0, 1, 0, 1, 0]))
