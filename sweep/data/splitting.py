"""Reproducible train/val/test splits of exact sizes, where rows of one group share a split.

Why our own and not sklearn's GroupShuffleSplit: that splits by group *counts* or fractions; a sweep
needs exact row counts (``task.train_size=2000``) with groups (movies) kept whole, and a split that
depends on ``task.split_seed`` alone, so every job of a sweep sees the same data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}


def split_rows(frame: pd.DataFrame, task: TaskConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if "split" in frame.columns:
        parts = _given_splits(frame, task)
    else:
        parts = _group_splits(frame, task, np.random.default_rng(task.split_seed))
    names = ("train", "val", "test")
    sizes = {"train": task.train_size, "val": task.val_size, "test": task.test_size}
    for name, part in reversed(list(zip(names, parts))):  # test and val are filled first: name them first
        if sizes[name] is not None and sizes[name] > len(part):
            raise ConfigError(f"task.{name}_size", f"only {len(part)} rows available for {name} ({len(frame)} in all)", sizes[name])
    out = []
    for index, (name, part) in enumerate(zip(names, parts)):
        size = sizes[name]
        if size is not None and size < len(part):
            # one generator per split: val and test rows do not change when task.train_size does; a
            # prefix of one permutation: a smaller train_size is a subset of a larger one (learning curves)
            rng = np.random.default_rng([task.split_seed, index])
            part = part.iloc[np.sort(rng.permutation(len(part))[:size])]
        out.append(part.reset_index(drop=True))
    if len(out[0]) == 0:
        raise ConfigError("task.train_size", f"no training rows left ({len(frame)} rows in all)", task.train_size)
    return out[0], out[1], out[2]


def _holdout(size: int | None, total: int, task: TaskConfig) -> int:
    return size if size is not None else int(round(total * task.holdout_fraction))


def _group_splits(frame, task, rng):
    """Walk the groups in a seeded random order: test first, then val, then train take whole groups."""
    groups = frame["group"] if "group" in frame.columns else frame.index.to_series()
    codes, uniques = groups.factorize(use_na_sentinel=False)  # rows without a group form one group
    order = rng.permutation(len(uniques))
    group_sizes = np.bincount(codes, minlength=len(uniques))[order]
    cumulative = np.cumsum(group_sizes)
    total = len(frame)
    n_test = _holdout(task.test_size, total, task)
    n_val = _holdout(task.val_size, total, task)
    # the first group index at which each split has enough rows (capped: sizes larger than the data
    # leave the later splits short, which split_rows reports with the row counts)
    test_end = min(int(np.searchsorted(cumulative, n_test)) + (1 if n_test else 0), len(uniques))
    taken = cumulative[test_end - 1] if test_end else 0
    val_end = min(int(np.searchsorted(cumulative, taken + n_val)) + 1, len(uniques))
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    row_rank = rank[codes]
    test = frame[row_rank < test_end]
    val = frame[(row_rank >= test_end) & (row_rank < val_end)]
    train = frame[row_rank >= val_end]
    return train, val, test


def _given_splits(frame, task):
    """Use the file's own split column; unknown split names are an error that lists the known ones."""
    names = frame["split"].astype(str).str.lower().map(SPLIT_NAMES)
    if names.isna().any():
        bad = sorted(frame.loc[names.isna(), "split"].astype(str).unique())[:5]
        raise ConfigError("task.split_column", f"unknown split values {bad}; known: {', '.join(SPLIT_NAMES)}", task.split_column)
    parts = [frame[names == name] for name in ("train", "val", "test")]
    if len(parts[1]) == 0:
        raise ConfigError("task.split_column", "the file has no validation rows (val/validation/dev)", task.split_column)
    return parts
