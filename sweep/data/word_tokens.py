"""Word-tagged sentences as sub-word tokens, each word's tag on its first piece (token classification).

As in transformers' run_ner ``tokenize_and_align_labels``: the tag goes on a word's first piece, -100 (ignored by
the loss and the metrics) on its later pieces and on special tokens; predictions are read back at the same first
pieces, so metrics count words, not pieces. Where run_ner asks the tokenizer for ``word_ids()`` of pre-split
words (``is_split_into_words``, which byte-level BPE tokenizers such as GPT-2's and Llama's refuse without
``add_prefix_space``), here the words are joined by spaces and each token is given the word its character
offsets fall in: one rule for encoders and decoders alike.

Lengths: ``task.max_length`` counts words. Longer sentences are cut to it, and the sub-word sequence is capped
at ``TOKENS_PER_WORD`` times it; every word lost either way is counted and said (``cut``), never silently.
Cached on disk like other token ids (sweep/data/tokens.py), keyed by words, tags, tokenizer and length.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.data.atomic import atomic_write
from sweep.data.tokens import CHUNK_ROWS, TokenizedSplit

IGNORED = -100  # torch's cross-entropy ignore_index
TOKENS_PER_WORD = 2  # the sub-word budget per word of task.max_length (MiniLM averages 1.3 pieces a word on tweets)


@dataclass
class Cut:
    """Words that lost their tag position: sentences longer than task.max_length, or past the sub-word budget."""

    sentences: int = 0
    words: int = 0

    def __add__(self, other: Cut) -> Cut:
        return Cut(self.sentences + other.sentences, self.words + other.words)


def first_pieces(words: list[str], offsets: list[tuple[int, int]]) -> np.ndarray:
    """Per token: the index of the word whose first piece it is, else -1 (a later piece, a special token).

    A token belongs to the word holding its last character: a piece that carries the preceding space (``Ġcat``,
    ``▁cat``) still ends inside its word, and a bare space marker or a special token ((0, 0)) belongs to none.
    """
    char_word = np.full(sum(len(word) for word in words) + len(words), -1, np.int64)
    start = 0
    for index, word in enumerate(words):
        char_word[start : start + len(word)] = index
        start += len(word) + 1
    out = np.full(len(offsets), -1, np.int64)
    seen = -1  # words come in order: a token of a word at or before the last one seen is not a first piece
    for position, (begin, end) in enumerate(offsets):
        if end <= begin:
            continue
        word = int(char_word[end - 1])
        if word > seen:
            out[position] = word
            seen = word
    return out


def tokenize_words(
    sentences: list[list[str]], tags: np.ndarray, tokenizer, max_words: int, cache_dir: Path | None, tokenizer_id: str
) -> tuple[TokenizedSplit, bool, Cut]:
    """Token ids and per-token tag ids of word-tagged sentences: (split, whether from the cache, words cut)."""
    key = _cache_key(sentences, tags, tokenizer_id, max_words)
    path = cache_dir / "tokens" / f"{key}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path) as stored:
            split = TokenizedSplit(stored["flat"], stored["offsets"], tags, key, stored["token_labels"], stored["token_words"])
            return split, True, Cut(int(stored["cut_sentences"]), int(stored["cut_words"]))
    ids, token_tags, token_words, cut = [], [], [], Cut()
    budget = TOKENS_PER_WORD * max_words
    for start in range(0, len(sentences), CHUNK_ROWS):  # the tokenizer called on a chunk at once: 2.6x faster than per row
        kept = [list(words[:max_words]) for words in sentences[start : start + CHUNK_ROWS]]
        encoded = tokenizer([" ".join(words) for words in kept], truncation=True, max_length=budget, return_offsets_mapping=True)
        for row, words in enumerate(kept):
            owners = first_pieces(words, encoded["offset_mapping"][row])
            lost = len(sentences[start + row]) - int((owners >= 0).sum())
            cut = cut + Cut(int(lost > 0), lost)
            ids.append(encoded["input_ids"][row])
            token_tags.append(np.where(owners >= 0, np.asarray(tags[start + row])[np.maximum(owners, 0)], IGNORED))
            token_words.append(owners)
    split = TokenizedSplit.from_rows(ids, tags, key)
    split.token_labels = np.concatenate(token_tags).astype(np.int64) if token_tags else np.zeros(0, np.int64)
    split.token_words = np.concatenate(token_words).astype(np.int64) if token_words else np.zeros(0, np.int64)
    if path is not None:
        arrays = {"flat": split.flat, "offsets": split.offsets, "token_labels": split.token_labels, "token_words": split.token_words}
        atomic_write(path, lambda handle: np.savez(handle, **arrays, cut_sentences=cut.sentences, cut_words=cut.words))
    return split, False, cut


def _cache_key(sentences: list[list[str]], tags: np.ndarray, tokenizer_id: str, max_words: int) -> str:
    digest = hashlib.sha256(f"words|{tokenizer_id}|{max_words}|{TOKENS_PER_WORD}|{len(sentences)}".encode())
    for words, row_tags in zip(sentences, tags):
        digest.update("\x1f".join(words).encode())
        digest.update(np.asarray(row_tags, np.int64).tobytes())
        digest.update(b"\0")
    return digest.hexdigest()[:24]
