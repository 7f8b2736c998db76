"""Tokenized splits, cached on disk keyed by (texts, tokenizer, max length).

The second job of a sweep (same data, same tokenizer) tokenizes nothing. Token ids are stored unpadded
(flat int32 array + offsets): padding happens per batch, to the batch's own longest row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.data.atomic import atomic_write


@dataclass
class TokenizedSplit:
    ids: list[np.ndarray]  # one int32 array per row, unpadded
    labels: np.ndarray
    key: str  # the cache key: identifies texts, tokenizer and max length

    @property
    def lengths(self) -> list[int]:
        return [len(row) for row in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of everything that decides token ids: the fast tokenizer's full serialisation."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(texts: list[str], tokenizer_id: str, max_length: int) -> str:
    digest = hashlib.sha256(f"{tokenizer_id}|{max_length}|{len(texts)}".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def tokenize(
    texts: list[str], labels: np.ndarray, tokenizer, max_length: int, cache_dir: Path | None, tokenizer_id: str
) -> tuple[TokenizedSplit, bool]:
    """Token ids for ``texts``; returns (split, whether it came from the cache)."""
    key = cache_key(texts, tokenizer_id, max_length)
    path = None
    if cache_dir is not None:
        path = cache_dir / "tokens" / f"{key}.npz"
        if path.exists():
            stored = np.load(path)
            offsets = stored["offsets"]
            ids = [stored["flat"][start:end] for start, end in zip(offsets[:-1], offsets[1:])]
            return TokenizedSplit(ids, labels, key), True
    ids = []
    if texts:  # an empty split (task.test_size=0) is legal; tokenizers reject an empty batch
        encoded = tokenizer(texts, truncation=True, max_length=max_length, return_attention_mask=False, return_token_type_ids=False)
        ids = [np.asarray(row, dtype=np.int32) for row in encoded["input_ids"]]
    if path is not None:
        offsets = np.concatenate([[0], np.cumsum([len(row) for row in ids])]).astype(np.int64)
        flat = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        atomic_write(path, lambda handle: np.savez(handle, flat=flat, offsets=offsets))
    return TokenizedSplit(ids, labels, key), False
