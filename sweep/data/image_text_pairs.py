"""Image–text rows as a dual encoder's batches: each row's image through the vision tower's image processor
(sweep/data/images.py), its text through the text tower's tokenizer (sweep/data/tokens.py, cached), drawn together
by row index (one tensor gather for the pixels, the tokens padded to the batch's longest text).

Each row also carries ``text_id``: rows whose text is the very same string share one, so recall counts a row with
the same sentence as a hit (lightning_modules/image_text.py); and its ``example`` id, its index in the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from sweep.data.images import BatchIndices, ImageSplit, image_split
from sweep.data.loaders import PadCollator
from sweep.data.tokens import TokenizedSplit, tokenize, tokenizer_fingerprint


@dataclass
class PairSplit:
    images: ImageSplit
    texts: TokenizedSplit
    text_ids: np.ndarray  # int64: rows with the same text share one

    def __len__(self) -> int:
        return len(self.images)


def encode_pairs(split, image_processor, tokenizer, max_length: int, cache_dir: Path | None) -> tuple[PairSplit, bool]:
    """A split's images and texts (``split.pairs``) encoded; returns (pairs, whether the tokens came from the cache)."""
    texts = list(split.pairs)
    tokens, hit = tokenize(texts, split.labels, tokenizer, max_length, cache_dir, tokenizer_fingerprint(tokenizer))
    _, text_ids = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    return PairSplit(image_split(np.asarray(split.inputs), split.labels, image_processor), tokens, text_ids.astype(np.int64)), hit


class PairBatches(torch.utils.data.Dataset):
    """A batch per item: ``(epoch, row indices)`` -> pixel_values, input_ids, attention_mask, labels, text_id, extras."""

    def __init__(self, pairs: PairSplit, pad_id: int, extras: dict[str, np.ndarray] | None = None):
        self.pairs = pairs
        self.collate = PadCollator(pad_id)
        self.labels = torch.as_tensor(np.array(pairs.images.labels))
        self.extras = {"text_id": torch.as_tensor(pairs.text_ids)}
        self.extras.update({name: torch.as_tensor(np.array(values)) for name, values in (extras or {}).items()})

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, np.ndarray]) -> dict:
        _, rows = key
        index = torch.as_tensor(rows, dtype=torch.long)
        texts = self.pairs.texts
        batch = self.collate([(texts.row(int(row)), np.zeros(()), {}) for row in rows])
        batch["pixel_values"] = self.pairs.images.normalised(self.pairs.images.pixels[index])
        batch["labels"] = self.labels[index]
        batch.update({name: values[index] for name, values in self.extras.items()})
        return batch


def pair_loader(pairs: PairSplit, pad_id: int, batch_size: int, extras=None, seed: int | None = None) -> DataLoader:
    """Training batches when ``seed`` is given (shuffled each epoch), else evaluation batches in row order."""
    return DataLoader(PairBatches(pairs, pad_id, extras), sampler=BatchIndices(len(pairs), batch_size, seed), batch_size=None)
