"""DataLoaders with dynamic padding: training batches grouped by length, evaluation sorted by length.

Padding is most of the cost on short texts (median review snippet ~25 tokens, max length 64):
length-grouped batches halve an epoch against random batches (see benchmarks/).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sweep.data.tokens import TokenizedSplit

Extras = dict[str, np.ndarray]  # per-row values beside the labels, batched under their names: a multi-task
# row's sub-task ("task"), a teacher's logits ("teacher_logits")


class TokenDataset(Dataset):
    def __init__(self, split: TokenizedSplit, extras: Extras | None = None):
        self.split = split
        self.extras = extras or {}

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, dict]:
        split = self.split
        # the target: per token (token classification), else the row's (a label id, a multi-hot row, a number)
        target = split.row_labels(index) if split.token_labels is not None else np.asarray(split.labels[index])
        return split.row(index), target, {name: values[index] for name, values in self.extras.items()}


class FeatureDataset(Dataset):
    """Pooled features of a frozen backbone, computed once (the `feature` strategy)."""

    def __init__(self, features: torch.Tensor, labels: np.ndarray, extras: Extras | None = None):
        self.features = features
        self.labels = torch.as_tensor(np.array(labels))  # a copy (the array may be read-only), its dtype kept: ids, multi-hot rows, numbers
        self.extras = {name: torch.as_tensor(np.array(values)) for name, values in (extras or {}).items()}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"features": self.features[index], "labels": self.labels[index], **{name: v[index] for name, v in self.extras.items()}}


class PadCollator:
    """Pads a batch to its own longest row; the attention mask marks the real tokens. Per-token targets (token
    classification) are padded alike, with -100 (ignored by the loss and the metrics)."""

    def __init__(self, pad_id: int, per_token: bool = False, sequences: bool = False):
        self.pad_id = pad_id
        self.per_token = per_token
        self.sequences = sequences  # each row's target is a token sequence of its own length (seq2seq): padded with -100

    def __call__(self, rows: list[tuple[np.ndarray, np.ndarray, dict]]) -> dict:
        longest = max(len(ids) for ids, _, _ in rows)
        input_ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, (ids, _, _) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.from_numpy(ids.astype(np.int64))
            attention_mask[i, : len(ids)] = 1
        if self.per_token or self.sequences:
            width = longest if self.per_token else max(len(target) for _, target, _ in rows)
            labels = torch.full((len(rows), width), -100, dtype=torch.long)
            for i, (_, tags, _) in enumerate(rows):
                labels[i, : len(tags)] = torch.from_numpy(tags.astype(np.int64))
        else:
            labels = torch.as_tensor(np.stack([target for _, target, _ in rows]))
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        batch.update({name: torch.as_tensor(stack_padded([extras[name] for _, _, extras in rows])) for name in rows[0][2]})
        return batch


def stack_padded(values: list) -> np.ndarray:
    """Per-row values as one array; rows of different lengths (a teacher's logits per word) zero-padded at the end."""
    arrays = [np.asarray(value) for value in values]
    longest = max((len(array) for array in arrays if array.ndim), default=0)
    if all(array.shape == arrays[0].shape for array in arrays):
        return np.stack(arrays)
    out = np.zeros((len(arrays), longest, *arrays[0].shape[1:]), arrays[0].dtype)
    for i, array in enumerate(arrays):
        out[i, : len(array)] = array
    return out


class WeightedLengthGroupedSampler(Sampler):
    """Each epoch draws as many rows as the split has, with replacement, row i with probability in
    proportion to ``weights[i]`` (temperature sampling across multi-task sub-tasks), then groups the draw
    by length like ``LengthGroupedSampler``. (Lightning's and torch's weighted samplers know no lengths.)"""

    def __init__(self, weights: np.ndarray, lengths: np.ndarray, batch_size: int, generator: torch.Generator):
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.lengths, self.batch_size, self.generator = lengths, batch_size, generator

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        drawn = torch.multinomial(self.weights, len(self.lengths), replacement=True, generator=self.generator).numpy()
        order = get_length_grouped_indices(self.lengths[drawn].tolist(), self.batch_size, generator=self.generator)
        return iter(drawn[order].tolist())


def collator_for(split: TokenizedSplit, pad_id: int) -> PadCollator:
    return PadCollator(pad_id, per_token=split.token_labels is not None, sequences=split.sequence_targets)


def train_loader(
    split: TokenizedSplit,
    batch_size: int,
    pad_id: int,
    seed: int,
    extras: Extras | None = None,
    weights: np.ndarray | None = None,
    augmenter=None,
) -> DataLoader:
    """Length-grouped training batches. ``weights``: per-row draw weights (WeightedLengthGroupedSampler);
    None: every row once per epoch. ``augmenter`` (sweep/data/augment.py) transforms each batch's ids."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if weights is None:
        # shuffled mega-batches of up to 50 batches, each sorted by length: random order, little padding
        sampler = LengthGroupedSampler(batch_size, lengths=split.lengths.tolist(), generator=generator)
    else:
        sampler = WeightedLengthGroupedSampler(weights, split.lengths, batch_size, generator)
    rows = TokenDataset(split, extras)
    collator = collator_for(split, pad_id)
    if augmenter is None:
        return DataLoader(rows, batch_size=batch_size, sampler=sampler, collate_fn=collator)
    from sweep.data.augment import AugmentingCollator, EpochRows, EpochSampler

    return DataLoader(
        EpochRows(rows), batch_size=batch_size, sampler=EpochSampler(sampler), collate_fn=AugmentingCollator(augmenter, collator)
    )


def eval_loader(split: TokenizedSplit, batch_size: int, pad_id: int, extras: Extras | None = None) -> DataLoader:
    order = np.argsort(split.lengths, kind="stable").tolist()  # sorted: the least padding possible
    collator = collator_for(split, pad_id)
    return DataLoader(TokenDataset(split, extras), batch_size=batch_size, sampler=order, collate_fn=collator)


@torch.no_grad()
def in_row_order(split: TokenizedSplit, batch_size: int, pad_id: int, compute) -> torch.Tensor:
    """``compute(batch) -> tensor`` over ``split`` in length order (least padding), rows given back their places."""
    loader = eval_loader(split, batch_size, pad_id)
    outputs = torch.cat([compute(batch).float() for batch in loader])
    unsorted = torch.empty_like(outputs)
    unsorted[torch.as_tensor(list(loader.sampler), dtype=torch.long)] = outputs
    return unsorted


def feature_loader(dataset: FeatureDataset, batch_size: int, shuffle: bool, seed: int, weights: np.ndarray | None = None) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    if shuffle and weights is not None:  # temperature sampling; features have no padding to group by
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(dataset), replacement=True, generator=generator)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
