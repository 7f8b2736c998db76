"""Token augmentation of the training split: mask, delete, swap and insert token ids, drawn afresh each epoch.

It works on token ids after the token cache (sweep/data/tokens.py), per batch in the training loader's
collator, so the cache stays valid and an epoch costs a few milliseconds more (tests/benchmarks/bench_augment.py).
Validation and test loaders never see it. ``augment=none`` is the absence of a transform: its registry
entry returns None and the training loader is exactly the unaugmented one.

Every random decision is a counter-based hash of (seed, epoch, row, position, decision), computed for a
whole batch at once with numpy: a row's result depends only on (seed, epoch, row) and its ids, never on
which batch it landed in or which worker collated it, and differs across epochs and seeds. (One
``np.random.default_rng((seed, epoch, row))`` per row gives the same guarantee, but as a Python loop over
rows whose draws alone cost about as much as this whole transform; bench_augment.py.) The epoch reaches the rows
through the sampler: Lightning calls ``set_epoch`` on the train loader's sampler before every epoch
(pytorch_lightning 2.6 ``fit_loop.on_advance_start`` -> ``lightning_fabric.utilities.data._set_sampler_epoch``)
and the sampler tags each index with it, so this holds with worker processes too; without Lightning,
each pass over the loader is the next epoch.

Special tokens (the tokenizer's ``all_special_ids``: CLS, SEP, BOS, EOS, PAD, ...) are never masked,
deleted, swapped or replaced; a token is inserted only before a content token, never before CLS or after
the last SEP.

Token classification: each piece's tag (-100 on all but a word's first piece) goes wherever its piece goes: a
swapped piece takes its tag along, a deleted one takes it away (that word is not trained on this epoch), a
masked one keeps it, and an inserted piece gets -100 (ignored), so the tags stay aligned with the pieces.
"""

from __future__ import annotations

import numpy as np

from sweep.config.errors import ConfigError
from sweep.data.draws import row_keys, uniforms

# decision streams: one independent uniform per (row, position) for each
SWAP, DELETE, MASK, INSERT, INSERT_TOKEN = range(5)
IGNORED = -100  # the tag of a piece that is not a word's first (sweep/data/word_tokens.py)


def _row_cumsum(flags: np.ndarray, starts: np.ndarray, row_of: np.ndarray) -> np.ndarray:
    """Running count of ``flags`` within each row (inclusive)."""
    total = np.cumsum(flags, dtype=np.int64)
    before = np.concatenate([[0], total])[starts]  # count before each row starts
    return total - before[row_of]


class TokenAugmenter:
    """Mask, delete, swap and insert content tokens of a batch of rows; see ``augment_batch``."""

    def __init__(self, config, tokenizer, train, seed: int, max_length: int):
        self.p_mask, self.p_delete = float(config.p_mask), float(config.p_delete)
        self.p_swap, self.p_insert = float(config.p_swap), float(config.p_insert)
        self.seed, self.max_length = int(seed), int(max_length)
        self.special = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int32)
        self.mask_id = tokenizer.mask_token_id
        # No fallback to the unk token: GPT-2's unk is <|endoftext|> (its EOS and often its PAD), and an
        # "unknown word" is not what masking teaches; a tokenizer without a mask token asks for p_mask=0.
        if self.p_mask > 0 and self.mask_id is None:
            raise ConfigError(
                "augment.p_mask", f"the tokenizer ({type(tokenizer).__name__}) has no mask token: set augment.p_mask=0", self.p_mask
            )
        # insertions draw from the ids that occur in the training split, content tokens only
        vocab = np.unique(train.flat)
        self.vocab = vocab[~np.isin(vocab, self.special)].astype(np.int32)

    def __call__(self, rows: list[np.ndarray], row_ids: np.ndarray, epochs: np.ndarray, tags: list[np.ndarray] | None = None):
        return self.augment_batch(rows, np.asarray(row_ids, dtype=np.int64), np.asarray(epochs, dtype=np.int64), tags)

    def augment_batch(self, rows: list[np.ndarray], row_ids: np.ndarray, epochs: np.ndarray, tags: list[np.ndarray] | None = None):
        """New token ids for ``rows`` (row ``i`` is training row ``row_ids[i]`` in epoch ``epochs[i]``); with
        ``tags`` (a per-piece tag array per row: token classification), ``(new ids, their tags)``.

        In this order, each decision drawn once per content token (never a special token):
        swap with the next content token (p_swap; not when the previous token starts a swap), delete
        (p_delete; a row never loses all its content), replace by the mask token (p_mask), insert a
        random training-vocabulary token before it (p_insert; no row grows beyond max_length).
        """
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        if not lengths.sum():
            copies = [row.copy() for row in rows]
            return copies if tags is None else (copies, [row.copy() for row in tags])
        flat = np.concatenate(rows).astype(np.int32)
        flat_tags = np.concatenate(tags).astype(np.int64) if tags is not None else None
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        row_of = np.repeat(np.arange(len(rows)), lengths)
        position = np.arange(len(flat)) - starts[row_of]
        content = ~np.isin(flat, self.special)

        keys = row_keys(self.seed, epochs, row_ids)[row_of]

        def draw(stream: int) -> np.ndarray:
            return uniforms(keys, position, stream)

        if self.p_swap > 0:  # a pair of adjacent content tokens of one row; accepted swaps never overlap
            pair = np.zeros(len(flat), dtype=bool)
            pair[:-1] = content[:-1] & content[1:] & (row_of[:-1] == row_of[1:])
            chosen = pair & (draw(SWAP) < self.p_swap)
            starts_swap = chosen & ~np.concatenate([[False], chosen[:-1]])
            at = np.flatnonzero(starts_swap)
            flat[at], flat[at + 1] = flat[at + 1], flat[at].copy()
            if flat_tags is not None:  # a piece's tag goes with it
                flat_tags[at], flat_tags[at + 1] = flat_tags[at + 1], flat_tags[at].copy()

        keep = np.ones(len(flat), dtype=bool)
        if self.p_delete > 0:
            drop = content & (draw(DELETE) < self.p_delete)
            left = np.bincount(row_of, weights=content & ~drop, minlength=len(rows))
            had = np.bincount(row_of, weights=content, minlength=len(rows))
            drop &= ~((left == 0) & (had > 0))[row_of]  # keep a row's content rather than empty it
            keep = ~drop

        if self.p_mask > 0:
            flat[content & keep & (draw(MASK) < self.p_mask)] = self.mask_id

        insert = np.zeros(len(flat), dtype=bool)
        if self.p_insert > 0 and len(self.vocab):
            insert = content & keep & (draw(INSERT) < self.p_insert)
            kept_length = np.bincount(row_of, weights=keep, minlength=len(rows)).astype(np.int64)
            room = np.maximum(self.max_length, lengths) - kept_length  # never longer than max_length (or the row was)
            insert &= _row_cumsum(insert, starts, row_of) <= room[row_of]

        # each original position emits [inserted token] + [its own token if kept]
        emitted = insert.astype(np.int64) + keep
        end = np.cumsum(emitted)
        out = np.empty(int(end[-1]), dtype=np.int32)
        first = end - emitted
        at = np.flatnonzero(insert)
        out[first[at]] = self.vocab[(draw(INSERT_TOKEN)[at] * len(self.vocab)).astype(np.int64)]
        kept = np.flatnonzero(keep)
        out[first[kept] + insert[kept]] = flat[kept]
        new_lengths = np.bincount(row_of, weights=emitted, minlength=len(rows)).astype(np.int64)
        cuts = np.cumsum(new_lengths)[:-1]
        if flat_tags is None:
            return np.split(out, cuts)
        out_tags = np.full(len(out), IGNORED, dtype=np.int64)  # an inserted piece: no tag
        out_tags[first[kept] + insert[kept]] = flat_tags[kept]
        return np.split(out, cuts), np.split(out_tags, cuts)
