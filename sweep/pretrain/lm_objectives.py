"""Pre-training objectives by name (``pretrain.objective``): which families each supports, how it builds
the model it trains, how it turns rows into batches, and which part of the trained model is kept.

An entry is data plus three functions, registered in one place below; the family decides what it can
do (``families``). The hook for the vision family: a supervised ``image_classification`` entry declares
``families=("vision",)`` and ``modality="image"`` (its rows come from an image processor, not from
sweep/data/tokens.py), builds e.g. ``AutoModelForImageClassification`` and keeps ``model.base_model``;
sweep/pretrain/pretrain_job.py picks the data step by ``modality``.

Light at import (no torch, no transformers): the config check answers in about a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from sweep.registry import Registry

log = logging.getLogger("sweep")


@dataclass(frozen=True)
class PretrainObjective:
    families: tuple[str, ...]  # model.family values it supports
    auto_class: str  # the transformers Auto class of the model it trains
    collator: Callable[[Any, Any, int], Callable] | None  # (tokenizer, PretrainConfig, seed) -> rows -> batch; None: images
    shift_labels: bool = False  # causal: the logits at t predict the label at t + 1
    prepare_tokenizer: Callable[[Any], Any] = lambda tokenizer: tokenizer
    modality: str = "text"  # how its model and rows are made: PREPARERS in sweep/pretrain/pretrain_job.py


OBJECTIVES: Registry[PretrainObjective] = Registry("pretrain.objective")


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


OBJECTIVES.register("mlm")(PretrainObjective(families=("encoder",), auto_class="AutoModelForMaskedLM", collator=mlm_collator))
OBJECTIVES.register("clm")(
    PretrainObjective(families=("decoder",), auto_class="AutoModelForCausalLM", collator=clm_collator, shift_labels=True)
)
OBJECTIVES.register("span")(
    PretrainObjective(
        families=("encoder_decoder",), auto_class="AutoModelForSeq2SeqLM", collator=span_collator, prepare_tokenizer=with_sentinels
    )
)


def objectives_of(family: str) -> list[str]:
    return [name for name in OBJECTIVES if family in OBJECTIVES.get(name).families]


from sweep.pretrain import image_objectives  # noqa: E402, F401  (registers image_classification; needs OBJECTIVES)
