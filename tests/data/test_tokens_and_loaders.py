"""The token cache and length-grouped batches."""

import numpy as np


def test_token_cache_hit_returns_identical_ids(tmp_path):
    from transformers import AutoTokenizer

    from sweep.data.tokens import tokenize, tokenizer_fingerprint
    from sweep.zoo.assets import MINILM_L6

    tokenizer = AutoTokenizer.from_pretrained(MINILM_L6.locate("model.source"))
    texts = ["a fine film", "dull", "an unexpectedly moving portrait of a family"] * 10
    labels = np.arange(30) % 2
    fingerprint = tokenizer_fingerprint(tokenizer)
    first, hit1 = tokenize(texts, labels, tokenizer, 16, tmp_path, fingerprint)
    second, hit2 = tokenize(texts, labels, tokenizer, 16, tmp_path, fingerprint)
    assert (hit1, hit2) == (False, True)
    assert all(np.array_equal(a, b) for a, b in zip(first.ids, second.ids))
    # another max length is another entry
    _, hit3 = tokenize(texts, labels, tokenizer, 8, tmp_path, fingerprint)
    assert hit3 is False


def test_an_empty_split_round_trips_through_the_cache(tmp_path):
    from transformers import AutoTokenizer

    from sweep.data.tokens import tokenize
    from sweep.zoo.assets import MINILM_L6

    tokenizer = AutoTokenizer.from_pretrained(MINILM_L6.locate("model.source"))
    for expected_hit in (False, True):
        split, hit = tokenize([], np.zeros(0, dtype=np.int64), tokenizer, 16, tmp_path, "t")
        assert (len(split), hit) == (0, expected_hit)


def test_length_grouped_batches_pad_far_less_than_random_ones():
    import torch
    from torch.utils.data import DataLoader

    from sweep.data.loaders import PadCollator, TokenDataset, eval_loader, train_loader
    from sweep.data.tokens import TokenizedSplit

    rng = np.random.default_rng(0)
    ids = [np.ones(n, dtype=np.int32) for n in rng.integers(5, 64, size=2000)]
    split = TokenizedSplit(ids, np.zeros(2000, dtype=np.int64), "k")

    def padded(loader):
        return sum(batch["input_ids"].numel() for batch in loader)

    real = sum(len(row) for row in ids)
    grouped = padded(train_loader(split, 32, 0, seed=1))
    shuffled = padded(
        DataLoader(TokenDataset(split), batch_size=32, shuffle=True, collate_fn=PadCollator(0), generator=torch.Generator().manual_seed(1))
    )
    assert grouped < 1.1 * real < shuffled
    assert padded(eval_loader(split, 64, 0)) < 1.05 * real
    # every row exactly once per epoch, in a different order each epoch
    loader = train_loader(split, 32, 0, seed=1)
    assert sorted(loader.sampler) == list(range(2000))
    assert list(loader.sampler) != list(loader.sampler)
