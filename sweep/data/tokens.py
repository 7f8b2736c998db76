"""Tokenized splits, cached on disk keyed by (texts, tokenizer, max length).

The second job of a sweep (same data, same tokenizer) tokenizes nothing. Token ids are kept unpadded as
one flat int32 array plus row offsets, in memory and on disk alike: a row is a view into the flat array,
so a split costs its token count in memory whatever its row count, and a cache hit is two array reads.
Padding happens per batch, to the batch's own longest row.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.data.atomic import atomic_write

CHUNK_ROWS = 4096


@dataclass
class TokenizedSplit:
    flat: np.ndarray  # int32: every row's token ids, end to end, unpadded
    offsets: np.ndarray  # int64, one more than rows: row i is flat[offsets[i] : offsets[i + 1]]
    labels: np.ndarray
    key: str  # the cache key: identifies texts, tokenizer and max length
    # token classification: flat like ``flat``, each token's tag id on a word's first piece, -100 elsewhere
    token_labels: np.ndarray | None = None
    token_words: np.ndarray | None = None  # ... and the index of that word in its sentence, -1 elsewhere
    # an encoder-decoder's generation targets: ``labels`` holds one token-id array per row (sweep/data/generation_tokens.py)
    sequence_targets: bool = False

    @classmethod
    def from_rows(cls, rows: list, labels: np.ndarray, key: str) -> TokenizedSplit:
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=int(offsets[-1]))
        return cls(flat, offsets, labels, key)

    @classmethod
    def concatenate(cls, parts: list[TokenizedSplit], labels: np.ndarray, key: str) -> TokenizedSplit:
        if not parts:  # an empty split (task.test_size=0) is legal
            return cls(np.zeros(0, np.int32), np.zeros(1, np.int64), labels, key)
        starts = np.cumsum([0] + [len(part.flat) for part in parts[:-1]])
        offsets = np.concatenate([parts[0].offsets[:1]] + [part.offsets[1:] + start for part, start in zip(parts, starts)])
        return cls(np.concatenate([part.flat for part in parts]), offsets, labels, key)

    def row(self, index: int) -> np.ndarray:
        """Row ``index``'s token ids: a view, not a copy."""
        return self.flat[self.offsets[index] : self.offsets[index + 1]]

    def row_labels(self, index: int) -> np.ndarray:
        """Row ``index``'s per-token tag ids (token classification): a view."""
        return self.token_labels[self.offsets[index] : self.offsets[index + 1]]

    def row_words(self, index: int) -> np.ndarray:
        """The indices of the words that row ``index`` has a first piece of, in order (token classification)."""
        words = self.token_words[self.offsets[index] : self.offsets[index + 1]]
        return words[words >= 0]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of everything that decides token ids: the fast tokenizer's full serialisation."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(texts: list[str], tokenizer_id: str, max_length: int, pairs: list[str] | None = None) -> str:
    digest = hashlib.sha256(f"{tokenizer_id}|{max_length}|{len(texts)}".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    for pair in pairs or []:  # without pairs: the key of every cache written before pairs existed
        digest.update(pair.encode())
        digest.update(b"\1")
    return digest.hexdigest()[:24]


def tokenize(
    texts: list[str],
    labels: np.ndarray,
    tokenizer,
    max_length: int,
    cache_dir: Path | None,
    tokenizer_id: str,
    pairs: list[str] | None = None,
) -> tuple[TokenizedSplit, bool]:
    """Token ids for ``texts`` (each with its ``pairs`` entry, when the task has two texts per row); returns
    (split, whether it came from the cache)."""
    key = cache_key(texts, tokenizer_id, max_length, pairs)
    path = None
    if cache_dir is not None:
        path = cache_dir / "tokens" / f"{key}.npz"
        if path.exists():
            # each array read once (indexing an NpzFile reads the member again every time), file closed
            with np.load(path) as stored:
                return TokenizedSplit(stored["flat"], stored["offsets"], labels, key), True
    # in chunks, each turned into arrays at once: the tokenizer's Python lists cost ~20x the int32 ids
    chunks = [
        TokenizedSplit.from_rows(
            _encode(texts[start : start + CHUNK_ROWS], tokenizer, max_length, pairs[start : start + CHUNK_ROWS] if pairs else None),
            labels,
            key,
        )
        for start in range(0, len(texts), CHUNK_ROWS)
    ]
    split = TokenizedSplit.concatenate(chunks, labels, key)
    if path is not None:
        atomic_write(path, lambda handle: np.savez(handle, flat=split.flat, offsets=split.offsets))
    return split, False


def _encode(texts: list[str], tokenizer, max_length: int, pairs: list[str] | None = None) -> list[list[int]]:
    if pairs is not None and tokenizer.sep_token is None:
        return _joined_pairs(texts, pairs, tokenizer, max_length)
    options = {"truncation": True, "max_length": max_length, "return_attention_mask": False, "return_token_type_ids": False}
    if pairs is None:
        return tokenizer(texts, **options)["input_ids"]
    # a pair: the tokenizer's own template ([CLS] a [SEP] b [SEP] for BERT), the longer side truncated first
    return tokenizer(texts, pairs, **options)["input_ids"]


def _joined_pairs(texts: list[str], pairs: list[str], tokenizer, max_length: int) -> list[list[int]]:
    """Two texts for a tokenizer with no pair template (decoders: GPT-2, Llama): ``a <eos> b`` between the special
    tokens it adds to one text, the longer side cut first, as a pair template would. Why not the tokenizer's pair
    call: without a separator token their templates run the two texts together."""
    separator = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.pad_token_id
    plain = {"add_special_tokens": False, "return_attention_mask": False, "return_token_type_ids": False}
    firsts, seconds = tokenizer(texts, **plain)["input_ids"], tokenizer(pairs, **plain)["input_ids"]
    prefix, suffix = _special_tokens(tokenizer)
    budget = max_length - 1 - len(prefix) - len(suffix)
    rows = []
    for first, second in zip(firsts, seconds):
        first, second = list(first), list(second)
        while len(first) + len(second) > budget:
            (first if len(first) > len(second) else second).pop()
        rows.append(prefix + first + [separator] + second + suffix)
    return rows


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """What the tokenizer adds before and after one text (Llama: a BOS; GPT-2: nothing), read off an encoding
    (transformers 5's fast tokenizers no longer expose build_inputs_with_special_tokens)."""
    marked = tokenizer("x", return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    bare = tokenizer("x", add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    for start in range(len(marked) - len(bare) + 1):
        if marked[start : start + len(bare)] == bare:
            return list(marked[:start]), list(marked[start + len(bare) :])
    return [], []
