"""DataLoaders with dynamic padding: training batches grouped by length, evaluation sorted by length.

Padding is most of the cost on short texts (median review snippet ~25 tokens, max length 64):
length-grouped batches halve an epoch against random batches (see benchmarks/).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sweep.data.tokens import TokenizedSplit


class TokenDataset(Dataset):
    def __init__(self, split: TokenizedSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.split.row(index), int(self.split.labels[index])


class FeatureDataset(Dataset):
    """Pooled features of a frozen backbone, computed once (the `feature` strategy)."""

    def __init__(self, features: torch.Tensor, labels: np.ndarray):
        self.features = features
        self.labels = torch.tensor(labels, dtype=torch.long)  # a copy: the array may be read-only

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"features": self.features[index], "labels": self.labels[index]}


class PadCollator:
    """Pads a batch to its own longest row; the attention mask marks the real tokens."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[tuple[np.ndarray, int]]) -> dict:
        longest = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, (ids, _) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.from_numpy(ids.astype(np.int64))
            attention_mask[i, : len(ids)] = 1
        labels = torch.tensor([label for _, label in rows], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def train_loader(split: TokenizedSplit, batch_size: int, pad_id: int, seed: int, augmenter=None) -> DataLoader:
    """Length-grouped training batches; ``augmenter`` (sweep/data/augment.py) transforms each batch's ids."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    # shuffled mega-batches of up to 50 batches, each sorted by length: random order, little padding
    sampler = LengthGroupedSampler(batch_size, lengths=split.lengths.tolist(), generator=torch.Generator().manual_seed(seed))
    if augmenter is None:
        return DataLoader(TokenDataset(split), batch_size=batch_size, sampler=sampler, collate_fn=PadCollator(pad_id))
    from sweep.data.augment import AugmentingCollator, EpochRows, EpochSampler

    return DataLoader(
        EpochRows(split),
        batch_size=batch_size,
        sampler=EpochSampler(sampler),
        collate_fn=AugmentingCollator(augmenter, PadCollator(pad_id)),
    )


def eval_loader(split: TokenizedSplit, batch_size: int, pad_id: int) -> DataLoader:
    order = np.argsort(split.lengths, kind="stable").tolist()  # sorted: the least padding possible
    return DataLoader(TokenDataset(split), batch_size=batch_size, sampler=order, collate_fn=PadCollator(pad_id))


def feature_loader(dataset: FeatureDataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
