"""Augmenters by name (``augment.name``), one explicit list: none, tokens (sweep/data/token_augment.py),
images (sweep/data/image_augment.py); the schema check of a job's augmentation; and the training loader's
parts that hand each row its epoch and augment a batch at once.

Validation and test loaders never see augmentation. ``augment=none`` is the absence of a transform: its
entry returns None and the training loader is exactly the unaugmented one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from sweep.config.errors import ConfigError
from sweep.config.registry import Registry
from sweep.data.image_augment import ImageAugmenter
from sweep.data.token_augment import TokenAugmenter

if TYPE_CHECKING:
    from sweep.config.schema import AugmentConfig


@dataclass(frozen=True)
class Augmenter:
    # factory(config, processor, encoded train split, seed, max_length) -> a batch transform, or None for none
    make: Callable[..., Any]
    modality: str | None  # the rows it transforms (text, image); None: any


def no_augmentation(config, processor, train, seed: int, max_length: int) -> None:
    return None


AUGMENTERS: Registry[Augmenter] = Registry(
    "augment.name",
    {
        "none": Augmenter(no_augmentation, None),
        "tokens": Augmenter(TokenAugmenter, "text"),
        "images": Augmenter(ImageAugmenter, "image"),
    },
)


def check_augment(augment: AugmentConfig, strategy: str, frozen_features: bool, modality: str = "text") -> None:
    """In the job's schema check: a known augmenter for the task's rows, and none where features are computed once."""
    entry = AUGMENTERS.get(augment.name)  # an unknown name lists the known ones
    if entry.modality not in (None, modality):
        fitting = [name for name in AUGMENTERS.names() if AUGMENTERS.get(name).modality in (None, modality)]
        message = f"it augments {entry.modality} rows; the task has {modality} rows: use {' or '.join(fitting)}"
        raise ConfigError("augment", message, augment.name)
    if augment.name != "none" and frozen_features:
        raise ConfigError(
            "augment",
            f"strategy {strategy} trains on features computed once from the unaugmented tokens: use augment=none",
            augment.name,
        )


class EpochSampler:
    """Wraps the training sampler: yields ``(epoch, index)`` keys, so every row knows its epoch.

    Lightning calls ``set_epoch`` before each epoch; without Lightning, each iteration is the next epoch.
    """

    def __init__(self, sampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return ((epoch, int(index)) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class EpochRows:
    """The training rows, indexed by ``(epoch, index)`` keys: a TokenDataset item ``(ids, label, extras)``
    followed by its ``index`` and ``epoch``."""

    def __init__(self, rows):
        self.rows = rows  # a TokenDataset

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int]) -> tuple[np.ndarray, int, dict, int, int]:
        epoch, index = key
        return (*self.rows[index], index, epoch)


class AugmentingCollator:
    """Augments a batch of ``EpochRows`` items at once, then pads it with ``pad`` (a PadCollator)."""

    def __init__(self, augmenter: Callable, pad: Callable):
        self.augmenter = augmenter
        self.pad = pad

    def __call__(self, items: list[tuple[np.ndarray, int, dict, int, int]]) -> dict:
        ids, row_ids, epochs = [item[0] for item in items], np.array([item[3] for item in items]), np.array([item[4] for item in items])
        if getattr(self.pad, "per_token", False):  # token classification: each piece's tag moves with it
            rows, tags = self.augmenter(ids, row_ids, epochs, [item[1] for item in items])
            return self.pad([(row, tag, extras) for row, tag, (_, _, extras, _, _) in zip(rows, tags, items)])
        rows = self.augmenter(ids, row_ids, epochs)
        return self.pad([(row, label, extras) for row, (_, label, extras, _, _) in zip(rows, items)])
