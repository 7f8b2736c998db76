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
    assert all(np.array_equal(first.row(i), second.row(i)) for i in range(len(texts)))
    assert first.row(2).tolist() == tokenizer(texts[2], truncation=True, max_length=16)["input_ids"]
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
    split = TokenizedSplit.from_rows(ids, np.zeros(2000, dtype=np.int64), "k")

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


def test_a_cache_hit_allocates_its_token_count_not_rows_times_rows(tmp_path):
    """Regression: a hit used to re-read the whole flat array once per row, each row keeping its own copy."""
    import tracemalloc

    from transformers import AutoTokenizer

    from sweep.data.loaders import TokenDataset
    from sweep.data.tokens import tokenize, tokenizer_fingerprint
    from sweep.zoo.assets import MINILM_L6

    tokenizer = AutoTokenizer.from_pretrained(MINILM_L6.locate("model.source"))
    rng = np.random.default_rng(0)
    words = ["film", "dull", "moving", "a", "the", "portrait", "of", "family", "not", "quite", "funny", "enough"]
    texts = [" ".join(rng.choice(words, size=int(n))) + f" {i}" for i, n in enumerate(rng.integers(5, 40, size=3000))]
    labels = np.arange(len(texts)) % 2
    fingerprint = tokenizer_fingerprint(tokenizer)
    cold, _ = tokenize(texts, labels, tokenizer, 64, tmp_path, fingerprint)
    token_count = sum(len(TokenDataset(cold)[i][0]) for i in range(len(cold)))
    stored = 4 * token_count + 8 * (len(texts) + 1)  # int32 ids and int64 offsets

    tracemalloc.start()
    try:
        split, hit = tokenize(texts, labels, tokenizer, 64, tmp_path, fingerprint)
        dataset = TokenDataset(split)
        tokens = sum(len(dataset[i][0]) for i in range(len(dataset)))  # every row, as an epoch does
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hit and tokens == token_count
    assert peak < 2 * stored + 256 * 1024, f"a cache hit of {len(texts)} rows ({stored:,} bytes stored) allocated {peak:,} bytes"


def test_tokenizing_in_chunks_gives_the_rows_of_one_call(tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    import sweep.data.tokens as tokens
    from sweep.zoo.assets import MINILM_L6

    tokenizer = AutoTokenizer.from_pretrained(MINILM_L6.locate("model.source"))
    texts = [f"review {i}: " + "quite good " * (i % 9) for i in range(50)]
    monkeypatch.setattr(tokens, "CHUNK_ROWS", 7)  # 8 chunks, the last one short
    split, _ = tokens.tokenize(texts, np.zeros(50), tokenizer, 12, None, "t")
    expected = tokenizer(texts, truncation=True, max_length=12)["input_ids"]
    assert len(split) == 50 and [split.row(i).tolist() for i in range(50)] == expected
