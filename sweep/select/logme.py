"""LogME (You et al., ICML 2021, "LogME: Practical Assessment of Pre-trained Models for Transfer Learning"):
how well frozen features explain the labels, as the log evidence of a Bayesian linear model.

For each class, the one-vs-rest target y in {0, 1}^N is modelled as y = F w + noise, with the prior
w ~ N(0, alpha^-1 I_D) and noise precision beta. The evidence p(y | F, alpha, beta) is maximised over
(alpha, beta) by MacKay's fixed-point updates on the SVD of F; the score is that maximum divided by N,
averaged over the classes. Higher: the features separate the classes more simply.

Why our own code and not the reference (github.com/thuml/LogME, LogME.py), two places:

- **The log-determinant.** The reference takes log|alpha I + beta F^T F| as sum_i log(alpha + beta s_i^2)
  over the k = rank(F) nonzero singular values only. F^T F is D x D: its other D - k eigenvalues are 0,
  and each contributes log(alpha). Without that term the reference reports the evidence plus
  (D - k) / (2N) * log(alpha): wrong whenever k < D (always when N < D), and inflated whenever alpha > 1
  (the usual case: the fitted weights are small), so wide features on few rows look better than they are.
  Its fixed-point updates are right (gamma counts only the k nonzero directions; the zero ones add 0), so
  the optimum (alpha, beta) is the same; only the reported number is off. Here the evidence is

      k/2 log alpha + N/2 log beta - N/2 log 2 pi - beta/2 |F m - y|^2 - alpha/2 m^T m - 1/2 sum_{i<=k} log(alpha + beta s_i^2)

  (the D/2 log alpha of the prior less the (D - k)/2 log alpha of the zero directions), which equals the
  direct O(D^3) computation with A = alpha I + beta F^T F (tests/select/test_logme.py).
- **Where the maximum is.** With N <= D (F of rank N, so every target lies in its column space) the
  evidence often has no interior maximum: it rises towards beta -> infinity (the features interpolate y
  without noise) or alpha -> infinity (w = 0: the features explain nothing, y is noise). The updates then
  drift towards that edge forever; the reference stops after 11 steps, wherever that is. Here the updates
  start at the best point of a grid over t = alpha / beta, run to convergence, and the result is compared
  with both edges' limits (finite, in closed form): the score is the supremum of the evidence, and
  ``ClassEvidence.optimum`` says where it was found.

No epsilons are added (the reference adds 1e-5 to both denominators). Only numpy: scipy and scikit-learn
have no LogME, and the whole computation is one SVD and a few vector operations per class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-12  # relative change of alpha and beta at which the fixed point is reached
MAX_ITERATIONS = 10_000  # O(k) each; MacKay's updates converge in tens of steps from a good start
GRID_DECADES = 8  # the starting grid of t spans [s_min^2 / 10^8, s_max^2 * 10^8]
GRID_POINTS = 161
INTERIOR, NOISE_FREE, UNUSED = "fixed point", "beta -> inf (noise-free fit)", "alpha -> inf (features unused)"
GRID = "grid edge"  # no finite edge limit and the updates left the grid: a perfect fit, capped at the grid's end


@dataclass(frozen=True)
class Spectrum:
    """The thin SVD of the features, restricted to their rank: F = U diag(s) V^T, U: N x k."""

    u: np.ndarray
    s: np.ndarray  # the k nonzero singular values
    vt: np.ndarray
    n: int
    d: int

    @property
    def rank(self) -> int:
        return len(self.s)

    @classmethod
    def of(cls, features: np.ndarray) -> Spectrum:
        f = np.asarray(features, dtype=np.float64)
        u, s, vt = np.linalg.svd(f, full_matrices=False)
        # numpy's matrix_rank threshold: singular values below it are rounding noise of a zero direction
        keep = s > (s[0] * max(f.shape) * np.finfo(np.float64).eps if len(s) else 0.0)
        return cls(u[:, keep], s[keep], vt[keep], f.shape[0], f.shape[1])


@dataclass(frozen=True)
class ClassEvidence:
    """One one-vs-rest target at its optimum: the evidence per row and the (alpha, beta) that reach it."""

    evidence: float  # max log p(y | F, alpha, beta) / N
    alpha: float  # prior precision of the weights (inf: w = 0)
    beta: float  # noise precision (inf: no noise)
    optimum: str  # INTERIOR, or the edge whose limit is the supremum
    iterations: int


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """The LogME score of ``features`` (N x D) for the integer class ``labels`` (N): the maximum log evidence
    per row, averaged over the classes present (each one-vs-rest). Float labels are targets instead: a number
    per row (regression, standardised first: the evidence depends on the target's scale) or N x K multi-hot
    rows (multi-label: each label that some row has is one target), as in the paper's regression form."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        return float(np.mean([item.evidence for item in target_evidences(features, labels)]))
    return float(np.mean([item.evidence for item in class_evidences(features, labels)]))


def target_evidences(features: np.ndarray, targets: np.ndarray) -> list[ClassEvidence]:
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim == 1:  # one number per row
        spread = targets.std()
        columns = [(targets - targets.mean()) / (spread if spread > 0 else 1.0)]
    else:  # multi-hot: labels no row has are left out, as classes without rows are
        columns = [targets[:, j] for j in range(targets.shape[1]) if targets[:, j].any()]
    spectrum = spectrum_of(features, targets)
    return [maximise(spectrum, column) for column in columns]


def class_evidences(features: np.ndarray, labels: np.ndarray) -> list[ClassEvidence]:
    labels = np.asarray(labels)
    spectrum = spectrum_of(features, labels)
    # the classes present: a class without rows would make a target of zeros, fitted perfectly by w = 0
    return [maximise(spectrum, (labels == label).astype(np.float64)) for label in np.unique(labels)]


def spectrum_of(features: np.ndarray, labels: np.ndarray) -> Spectrum:
    """F's SVD, once for every target; N x D features with a label (or target row) per row, not all zero."""
    features = np.asarray(features)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"features must be N x D with one label per row: got {features.shape} and {labels.shape}")
    spectrum = Spectrum.of(features)
    if spectrum.rank == 0:
        raise ValueError("the features are all zero: no evidence to compute")
    return spectrum


@dataclass(frozen=True)
class Target:
    """One target in the basis of F's singular vectors: all the evidence needs, O(k) per (alpha, beta)."""

    sigma: np.ndarray  # the nonzero eigenvalues of F^T F (s^2)
    x2: np.ndarray  # (U^T y)^2: y's energy along each of them
    outside: float  # |y|^2 outside F's column space: no w can fit it
    n: int
    k: int

    @classmethod
    def of(cls, spectrum: Spectrum, y: np.ndarray) -> Target:
        x = spectrum.u.T @ y
        outside = float(y @ y - x @ x)
        if spectrum.rank == spectrum.n:  # y lies in the column space: what is left is rounding
            outside = 0.0
        return cls(spectrum.s**2, x**2, max(outside, 0.0), spectrum.n, spectrum.rank)

    def posterior(self, t: float) -> tuple[float, float, float]:
        """For t = alpha / beta: gamma (the effective number of fitted directions), m^T m and |F m - y|^2."""
        shrink = self.sigma + t
        gamma = float(np.sum(self.sigma / shrink))
        m2 = float(np.sum(self.sigma * self.x2 / shrink**2))
        residual = float(np.sum(self.x2 * (t / shrink) ** 2)) + self.outside
        return gamma, m2, residual

    def evidence(self, alpha: float, beta: float) -> float:
        """log p(y | F, alpha, beta), the log-determinant over all D eigenvalues of alpha I + beta F^T F."""
        _, m2, residual = self.posterior(alpha / beta)
        n, k = self.n, self.k
        # D/2 log alpha (the prior) - (D - k)/2 log alpha (the zero eigenvalues of F^T F) = k/2 log alpha
        return float(
            k / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
            - beta / 2 * residual - alpha / 2 * m2 - 0.5 * np.sum(np.log(alpha + beta * self.sigma))
        )  # fmt: skip

    def best_beta(self, t: float) -> float:
        """The beta that maximises the evidence for a given t = alpha / beta (closed form)."""
        _, m2, residual = self.posterior(t)
        return self.n / (residual + t * m2)

    def edges(self) -> list[tuple[float, float, float, str]]:
        """(evidence, alpha, beta, which) of the limits at the edges of (alpha, beta), where finite."""
        n, energy = self.n, float(self.x2.sum()) + self.outside
        beta = n / energy  # w = 0: y is noise of variance |y|^2 / N
        found = [(-n / 2 * np.log(2 * np.pi / beta) - n / 2, np.inf, beta, UNUSED)]
        if self.outside == 0.0 and self.k == n:  # y = F w exactly, for some w: y ~ N(0, F F^T / alpha)
            alpha = n / float(np.sum(self.x2 / self.sigma))
            value = n / 2 * np.log(alpha) - 0.5 * np.sum(np.log(self.sigma)) - n / 2 - n / 2 * np.log(2 * np.pi)
            found.append((float(value), alpha, np.inf, NOISE_FREE))
        return found


def maximise(spectrum: Spectrum, y: np.ndarray) -> ClassEvidence:
    """MacKay's fixed point for (alpha, beta), started at the best t of a grid; an edge if its limit is higher."""
    target = Target.of(spectrum, y)
    low = target.sigma.min() / 10**GRID_DECADES
    high = target.sigma.max() * 10**GRID_DECADES
    grid = np.geomspace(low, high, GRID_POINTS)
    values = [target.evidence(t * target.best_beta(t), target.best_beta(t)) for t in grid]
    t = float(grid[int(np.argmax(values))])
    beta = target.best_beta(t)
    alpha, n, tiny = t * beta, target.n, np.finfo(np.float64).tiny
    best = (float(np.max(values)), alpha, beta, GRID)  # should the updates leave the grid
    iterations = 0
    while iterations < MAX_ITERATIONS:
        iterations += 1
        gamma, m2, residual = target.posterior(alpha / beta)
        new_alpha = gamma / max(m2, tiny)  # d evidence / d alpha = 0
        new_beta = (n - gamma) / max(residual, tiny)  # d evidence / d beta = 0
        converged = abs(new_alpha - alpha) <= TOLERANCE * alpha and abs(new_beta - beta) <= TOLERANCE * beta
        alpha, beta = new_alpha, new_beta
        if not low <= alpha / beta <= high:  # drifting to an edge: its limit below decides
            break
        if converged:
            value = target.evidence(alpha, beta)
            if value >= best[0]:
                best = (value, alpha, beta, INTERIOR)
            break
    value, alpha, beta, optimum = max([best, *target.edges()], key=lambda item: item[0])
    return ClassEvidence(float(value) / n, float(alpha), float(beta), optimum, iterations)
