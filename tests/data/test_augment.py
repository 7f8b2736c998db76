"""Token augmentation: deterministic per (seed, epoch, row), fresh every epoch, training split only."""

from types import SimpleNamespace

import numpy as np
import pytest

from sweep.config.errors import ConfigError

CLS, SEP, PAD, UNK, MASK = 101, 102, 0, 100, 103
SPECIAL = [PAD, UNK, CLS, SEP, MASK]
TINY = ["model=tiny_bert", "task.train_size=64", "task.val_size=32", "task.test_size=32", "optim.batch_size=8"]


def tokenizer(mask_token_id=MASK):
    special = SPECIAL if mask_token_id is not None else [i for i in SPECIAL if i != MASK]
    return SimpleNamespace(all_special_ids=special, mask_token_id=mask_token_id)


def make_rows(count=200, seed=0):
    """BERT-like rows: [CLS] content [SEP], some as pairs with a [SEP] in the middle."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        content = rng.integers(1000, 1100, size=int(rng.integers(1, 30))).astype(np.int32)
        if i % 3 == 0:
            half = len(content) // 2
            content = np.concatenate([content[:half], [SEP], content[half:]]).astype(np.int32)
        rows.append(np.concatenate([[CLS], content, [SEP]]).astype(np.int32))
    return rows


def augmenter(rows=None, seed=0, max_length=64, mask_token_id=MASK, **p):
    from sweep.config.schema import AugmentConfig
    from sweep.data.token_augment import TokenAugmenter
    from sweep.data.tokens import TokenizedSplit

    rows = make_rows() if rows is None else rows
    split = TokenizedSplit.from_rows(rows, np.zeros(len(rows), dtype=np.int64), "k")
    config = AugmentConfig(name="tokens", **{f"p_{key}": p.get(key, 0.0) for key in ("mask", "delete", "swap", "insert")})
    return TokenAugmenter(config, tokenizer(mask_token_id), split, seed, max_length)


def run(aug, rows, epoch, row_ids=None):
    row_ids = np.arange(len(rows)) if row_ids is None else np.asarray(row_ids)
    return [out.tolist() for out in aug(rows, row_ids, np.full(len(rows), epoch))]


ALL = dict(mask=0.2, delete=0.2, swap=0.2, insert=0.2)


def test_same_seed_epoch_and_row_give_the_same_ids_whatever_the_batch():
    rows = make_rows()
    aug = augmenter(**ALL)
    whole = run(aug, rows, epoch=3)
    assert whole == run(augmenter(**ALL), rows, epoch=3)  # a fresh augmenter, same draw
    order = np.random.default_rng(1).permutation(len(rows))
    for batch in np.array_split(order, 7):  # other batches, other order: each row as before
        assert run(aug, [rows[i] for i in batch], epoch=3, row_ids=batch) == [whole[i] for i in batch]
    assert whole != [row.tolist() for row in rows]


def test_draws_differ_across_epochs_and_seeds_and_rows():
    rows = make_rows()
    base = run(augmenter(**ALL), rows, epoch=0)
    assert base != run(augmenter(**ALL), rows, epoch=1)
    assert base != run(augmenter(seed=1, **ALL), rows, epoch=0)
    same = [max(rows, key=len)] * 50  # one row's ids as 50 different rows: 50 different draws
    assert len({tuple(out) for out in run(augmenter(**ALL), same, epoch=0)}) > 40
    per_row_changed = [a != b for a, b in zip(base, run(augmenter(**ALL), rows, epoch=1))]
    assert sum(per_row_changed) > 0.8 * len(rows)


def content_of(ids):
    return [t for t in ids if t not in SPECIAL]


def specials_of(ids):
    return [t for t in ids if t in SPECIAL and t != MASK]


@pytest.mark.parametrize(
    "p", [dict(mask=1.0), dict(delete=1.0), dict(swap=1.0), dict(insert=1.0), dict(mask=0.5, delete=0.5, swap=0.5, insert=0.5)]
)
def test_special_tokens_are_never_touched(p):
    rows = make_rows()
    for epoch in range(3):
        for row, out in zip(rows, run(augmenter(**p), rows, epoch)):
            assert out[0] == CLS and out[-1] == SEP
            assert specials_of(out) == specials_of(row.tolist())  # none masked, deleted, replaced or moved past another
            if p.get("insert", 0) == 0 and p.get("delete", 0) == 0:
                assert [i for i, t in enumerate(out) if t in (CLS, SEP)] == [i for i, t in enumerate(row) if t in (CLS, SEP)]


def test_each_operation_does_what_it_says():
    rows = make_rows()
    masked = run(augmenter(mask=1.0), rows, 0)
    assert all(out == [t if t in SPECIAL else MASK for t in row.tolist()] for row, out in zip(rows, masked))
    deleted = run(augmenter(delete=1.0), rows, 0)  # a row never loses all its content: it is left whole
    assert all(out == row.tolist() for row, out in zip(rows, deleted))
    some = run(augmenter(delete=0.5), rows, 0)
    assert all(0 < len(content_of(out)) <= len(content_of(row.tolist())) for row, out in zip(rows, some))
    assert sum(len(out) for out in some) < 0.8 * sum(len(row) for row in rows)
    swapped = run(augmenter(swap=1.0), rows, 0)
    assert all(sorted(out) == sorted(row.tolist()) for row, out in zip(rows, swapped))
    assert swapped != [row.tolist() for row in rows]
    vocabulary = {t for row in rows for t in row.tolist()} - set(SPECIAL)
    inserted = run(augmenter(insert=0.5, max_length=40), rows, 0)
    assert all(len(row) <= len(out) <= max(40, len(row)) for row, out in zip(rows, inserted))
    assert set(content_of([t for out in inserted for t in out])) <= vocabulary  # only ids of the training split
    assert sum(len(out) for out in inserted) > 1.2 * sum(len(row) for row in rows)


def test_zero_probabilities_leave_rows_identical():
    rows = make_rows()
    assert run(augmenter(), rows, epoch=5) == [row.tolist() for row in rows]


def test_a_tokenizer_without_a_mask_token_refuses_p_mask():
    with pytest.raises(ConfigError, match=r"^augment.p_mask=0.1: the tokenizer .* has no mask token"):
        augmenter(mask_token_id=None, mask=0.1)
    assert run(augmenter(mask_token_id=None, delete=0.3), make_rows(), 0)  # other operations need no mask token


def test_lightning_sets_the_epoch_on_the_augmented_train_loader():
    """Lightning 2.6 calls set_epoch on the loader's sampler before each epoch (fit_loop.on_advance_start)."""
    from lightning_fabric.utilities.data import _set_sampler_epoch

    from sweep.data.loaders import PadCollator, train_loader
    from sweep.data.tokens import TokenizedSplit

    rows = make_rows(40)
    split = TokenizedSplit.from_rows(rows, np.arange(40) % 2, "k")
    aug = augmenter(rows, **ALL)
    loader = train_loader(split, 8, PAD, seed=0, augmenter=aug)
    _set_sampler_epoch(loader, 4)
    keys = list(loader.sampler)
    assert {epoch for epoch, _ in keys} == {4} and sorted(row for _, row in keys) == list(range(40))
    first = [row for _, row in keys[:8]]
    batch = loader.collate_fn([loader.dataset[key] for key in keys[:8]])
    augmented = aug([rows[row] for row in first], np.array(first), np.full(8, 4))
    expected = PadCollator(PAD)([(ids, label, {}) for ids, label in zip(augmented, split.labels[first])])
    assert all(batch[key].equal(expected[key]) for key in ("input_ids", "attention_mask", "labels"))
    assert len(loader) == 5


class EpochsSeen:
    def __init__(self, inner):
        self.inner, self.epochs = inner, set()

    def __call__(self, rows, row_ids, epochs):
        self.epochs.update(int(e) for e in epochs)
        return self.inner(rows, row_ids, epochs)


def test_training_draws_afresh_each_epoch(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    built = build(job_config(*TINY, "augment=tokens", "trainer.max_epochs=3", "trainer.early_stopping_patience=null"))
    spy = EpochsSeen(built.loaders["train"].collate_fn.augmenter)
    built.loaders["train"].collate_fn.augmenter = spy
    assert train(built).steps == 24
    assert spy.epochs == {0, 1, 2}


def batches(loader):
    return [{key: value.tolist() for key, value in batch.items()} for batch in loader]


def test_only_the_training_loader_is_augmented(job_config):
    from sweep.data.augment import AugmentingCollator
    from sweep.data.loaders import PadCollator
    from sweep.pipeline.build import build

    plain = build(job_config(*TINY))
    augmented = build(job_config(*TINY, "augment=tokens", "augment.p_mask=0.5", "augment.p_delete=0.5"))
    assert type(plain.loaders["train"].collate_fn) is PadCollator
    assert isinstance(augmented.loaders["train"].collate_fn, AugmentingCollator)
    for name in ("val", "test"):
        assert type(augmented.loaders[name].collate_fn) is PadCollator
        assert batches(augmented.loaders[name]) == batches(plain.loaders[name])
    mask_id = augmented.tokenizer.mask_token_id
    train_ids = [ids for batch in batches(augmented.loaders["train"]) for ids in batch["input_ids"]]
    assert sum(ids.count(mask_id) for ids in train_ids) > 50
    assert not any(mask_id in ids for name in ("val", "test") for batch in batches(augmented.loaders[name]) for ids in batch["input_ids"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["augment=tokens", "augment.p_mask=1.5"], "augment.p_mask=1.5: must be in [0, 1]"),
        (["augment=tokens", "augment.p_insert=-0.1"], "augment.p_insert=-0.1: must be in [0, 1]"),
        (["augment.name=nope"], "augment.name=nope: unknown name; known: images, none, tokens"),
        (["strategy=feature", "augment=tokens"], "augment=tokens: strategy feature trains on features computed once"),
    ],
)
def test_bad_augment_config_names_its_key(overrides, message):
    from sweep.pipeline.validate import validate
    from tests.conftest import compose

    with pytest.raises(ConfigError) as error:
        validate(compose(*overrides))
    assert str(error.value).startswith(message), str(error.value)


def test_augment_defaults_to_none_and_the_feature_strategy_accepts_that():
    from sweep.pipeline.validate import validate
    from tests.conftest import compose

    assert validate(compose()).root.augment.name == "none"
    assert validate(compose("strategy=feature")).root.augment.name == "none"
    tokens = validate(compose("augment=tokens", "augment.p_swap=0")).root.augment
    assert (tokens.p_mask, tokens.p_delete, tokens.p_swap, tokens.p_insert) == (0.1, 0.1, 0.0, 0.1)
