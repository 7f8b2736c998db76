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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from sweep.errors import ConfigError, require
from sweep.registry import Registry


@dataclass
class AugmentConfig:
    """The `augment` group: augmentation of the training split; none: off. tokens: text (this file);
    images: random shifts and crops (sweep/data/image_augment.py)."""

    name: str = "none"  # none | tokens | images
    p_mask: float = 0.0  # each content token replaced by the tokenizer's mask token
    p_delete: float = 0.0  # each content token dropped (a row keeps at least one)
    p_swap: float = 0.0  # each content token swapped with the next one
    p_insert: float = 0.0  # a token of the training vocabulary inserted before each content token
    max_shift: float = 0.0  # images: each image moved by up to this fraction of its side, in x and y
    min_crop: float = 1.0  # images: a random square crop of side in [min_crop, 1] of the image, resized back

    def __post_init__(self) -> None:
        for key in ("p_mask", "p_delete", "p_swap", "p_insert"):
            value = getattr(self, key)
            require(0.0 <= value <= 1.0, f"augment.{key}", value, "must be in [0, 1]")
        require(0.0 <= self.max_shift <= 0.5, "augment.max_shift", self.max_shift, "must be in [0, 0.5]")
        require(0.25 <= self.min_crop <= 1.0, "augment.min_crop", self.min_crop, "must be in [0.25, 1]")


@dataclass(frozen=True)
class Augmenter:
    # factory(config, processor, encoded train split, seed, max_length) -> a batch transform, or None for none
    make: Callable[..., Any]
    modality: str | None  # the rows it transforms (text, image); None: any


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


AUGMENTERS: Registry[Augmenter] = Registry("augment.name")

# decision streams: one independent uniform per (row, position) for each
SWAP, DELETE, MASK, INSERT, INSERT_TOKEN = range(5)
_M64 = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrap-around arithmetic, no warnings for arrays)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_keys(seed: int, epochs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One 64-bit key per (seed, epoch, row): every draw of that row derives from it."""
    key = _mix(np.full(len(rows), seed & _M64, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    key = _mix(key ^ np.asarray(epochs).astype(np.uint64))
    return _mix(key ^ np.asarray(rows).astype(np.uint64))


def uniforms(keys: np.ndarray, positions: np.ndarray, stream: int) -> np.ndarray:
    """Uniform floats in [0, 1), one per (row key, position) pair, for one decision stream."""
    key = _mix(keys + positions.astype(np.uint64) * np.uint64(5) + np.uint64(stream))
    return (key >> np.uint64(11)).astype(np.float64) * 2.0**-53


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

    def __call__(self, rows: list[np.ndarray], row_ids: np.ndarray, epochs: np.ndarray) -> list[np.ndarray]:
        return self.augment_batch(rows, np.asarray(row_ids, dtype=np.int64), np.asarray(epochs, dtype=np.int64))

    def augment_batch(self, rows: list[np.ndarray], row_ids: np.ndarray, epochs: np.ndarray) -> list[np.ndarray]:
        """New token ids for ``rows`` (row ``i`` is training row ``row_ids[i]`` in epoch ``epochs[i]``).

        In this order, each decision drawn once per content token (never a special token):
        swap with the next content token (p_swap; not when the previous token starts a swap), delete
        (p_delete; a row never loses all its content), replace by the mask token (p_mask), insert a
        random training-vocabulary token before it (p_insert; no row grows beyond max_length).
        """
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        if not lengths.sum():
            return [row.copy() for row in rows]
        flat = np.concatenate(rows).astype(np.int32)
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
        return np.split(out, np.cumsum(new_lengths)[:-1])


def no_augmentation(config, processor, train, seed: int, max_length: int) -> None:
    return None


AUGMENTERS.register("none")(Augmenter(no_augmentation, None))
AUGMENTERS.register("tokens")(Augmenter(TokenAugmenter, "text"))


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
        rows = self.augmenter([item[0] for item in items], np.array([item[3] for item in items]), np.array([item[4] for item in items]))
        return self.pad([(ids, label, extras) for ids, (_, label, extras, _, _) in zip(rows, items)])


from sweep.data import image_augment  # noqa: E402, F401  (registers augment=images; needs AUGMENTERS defined)
