"""H-score (Bao et al., ICIP 2019, "An Information-Theoretic Approach to Transferability in Task Transfer
Learning"): tr(cov(f)^-1 cov(E[f | y])), how much of the features' spread lies between the classes
rather than within them. Higher: the classes' means stand further apart, measured in the features' own
covariance. With the sample covariance it is at most (classes - 1), reached by any features when N <= D.

Regularised: cov(f) is scikit-learn's Ledoit-Wolf shrinkage estimate, as Ibrahim, Ponomareva and Mazumder
propose ("Newer is not always better: rethinking transferability metrics, their peculiarities, stability
and performance", ECML PKDD 2022). The sample covariance is singular when N <= D (its pseudo-inverse, as
in Bao et al., then blows up along directions the few rows never varied in) and noisy when N is a small
multiple of D; the shrunk one is well conditioned and consistent.
"""

from __future__ import annotations

import numpy as np


def hscore(features: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.covariance import LedoitWolf

    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    covariance = LedoitWolf().fit(f).covariance_  # centred on the features' mean
    classes, counts = np.unique(labels, return_counts=True)
    means = np.stack([f[labels == label].mean(axis=0) for label in classes]) - f.mean(axis=0)
    # cov(E[f | y]) = sum_c p_c (mu_c - mu)(mu_c - mu)^T, so its trace against cov^-1 is a weighted sum
    # of the class means' Mahalanobis norms: no D x D inverse is formed
    weights = counts / counts.sum()
    solved = np.linalg.solve(covariance, means.T)  # D x C
    return float(np.sum(weights * np.einsum("cd,dc->c", means, solved)))
