"""Counter-based random draws for augmentation: a row's draws depend only on (seed, epoch, row, position,
decision stream), never on which batch it landed in or which worker collated it (sweep/data/token_augment.py)."""

from __future__ import annotations

import numpy as np

_M64 = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrap-around arithmetic, no warnings for arrays)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_keys(seed: int, epochs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One 64-bit key per (seed, epoch, row): every draw of that row derives from it."""
    key = _mix(np.full(len(rows), seed & _M64, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    key = _mix(key ^ np.asarray(epochs).astype(np.uint64))
    return _mix(key ^ np.asarray(rows).astype(np.uint64))


def uniforms(keys: np.ndarray, positions: np.ndarray, stream: int) -> np.ndarray:
    """Uniform floats in [0, 1), one per (row key, position) pair, for one decision stream."""
    key = _mix(keys + positions.astype(np.uint64) * np.uint64(5) + np.uint64(stream))
    return (key >> np.uint64(11)).astype(np.float64) * 2.0**-53
