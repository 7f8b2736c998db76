"""The text objectives' collators (mlm, clm, span): rows of token ids -> a pre-training batch. Listed by
name in sweep/pretrain/objectives.py."""

from __future__ import annotations

import logging

log = logging.getLogger("sweep")


# ---------------------------------------------------------------------------------------- collators
def mlm_collator(tokenizer, config, seed: int):
    """transformers' own: mask_probability of the tokens chosen (special tokens never), 80% [MASK],
    10% a random token, 10% kept; labels -100 elsewhere."""
    from transformers import DataCollatorForLanguageModeling

    collate = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=config.mask_probability, seed=seed)
    return lambda rows: collate([{"input_ids": row[0].tolist()} for row in rows])


def clm_collator(tokenizer, config, seed: int):
    """The rows padded; labels = the inputs, -100 on padding (a decoder's pad is often its eos, so the
    attention mask decides, not the token id)."""
    from sweep.data.loaders import PadCollator

    pad = PadCollator(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)

    def collate(rows):
        batch = pad([(row[0], 0, {}) for row in rows])
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        return batch

    return collate


def with_sentinels(tokenizer):
    """T5's sentinel tokens, added where the tokenizer lacks them (a BERT tokenizer on a T5 model); the
    model's vocabulary is sized to the tokenizer, and the kept tokenizer has them too."""
    from sweep.pretrain.span_corruption import NUM_SENTINELS, SENTINEL

    names = [SENTINEL.format(i) for i in range(NUM_SENTINELS)]
    missing = [name for name in names if name not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return tokenizer


def span_collator(tokenizer, config, seed: int):
    from sweep.pretrain.span_corruption import NUM_SENTINELS, SENTINEL, SpanCorruptionCollator

    sentinels = tokenizer.convert_tokens_to_ids([SENTINEL.format(i) for i in range(NUM_SENTINELS)])
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    special = set(tokenizer.all_special_ids) - set(sentinels)
    return SpanCorruptionCollator(sentinels, eos, pad, special, config.noise_density, config.mean_span_length, seed)
