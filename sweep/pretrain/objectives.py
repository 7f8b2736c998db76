"""Pre-training objectives by name (``pretrain.objective``): which families each supports, how it builds
the model it trains, how it turns rows into batches, and which part of the trained model is kept.

An entry is data plus three functions, listed in one place below; the family decides what it can
do (``families``). The hook for the vision family: a supervised ``image_classification`` entry declares
``families=("vision",)`` and ``modality="image"`` (its rows come from an image processor, not from
sweep/data/tokens.py), builds e.g. ``AutoModelForImageClassification`` and keeps ``model.base_model``;
sweep/pretrain/pretrain_job.py picks the data step by ``modality``.

Light at import (no torch, no transformers): the config check answers in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sweep.config.registry import Registry
from sweep.pretrain.lm_objectives import clm_collator, mlm_collator, span_collator, with_sentinels


@dataclass(frozen=True)
class PretrainObjective:
    families: tuple[str, ...]  # model.family values it supports
    auto_class: str  # the transformers Auto class of the model it trains
    collator: Callable[[Any, Any, int], Callable] | None  # (tokenizer, PretrainConfig, seed) -> rows -> batch; None: images
    shift_labels: bool = False  # causal: the logits at t predict the label at t + 1
    prepare_tokenizer: Callable[[Any], Any] = lambda tokenizer: tokenizer
    modality: str = "text"  # how its model and rows are made: PREPARERS in sweep/pretrain/pretrain_job.py


OBJECTIVES: Registry[PretrainObjective] = Registry(
    "pretrain.objective",
    {
        "mlm": PretrainObjective(families=("encoder",), auto_class="AutoModelForMaskedLM", collator=mlm_collator),
        "clm": PretrainObjective(families=("decoder",), auto_class="AutoModelForCausalLM", collator=clm_collator, shift_labels=True),
        "span": PretrainObjective(
            families=("encoder_decoder",), auto_class="AutoModelForSeq2SeqLM", collator=span_collator, prepare_tokenizer=with_sentinels
        ),
        # rows from the image processor; model and loaders built by sweep/pretrain/image_objectives.py
        "image_classification": PretrainObjective(
            families=("vision",), auto_class="AutoModelForImageClassification", collator=None, modality="image"
        ),
    },
)


def objectives_of(family: str) -> list[str]:
    return [name for name in OBJECTIVES if family in OBJECTIVES.get(name).families]
