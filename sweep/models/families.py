"""Model families by name (``model.family``): the pooling a family classifies with, the part of the
loaded model that encodes the input, whether its tokenizer needs a pad token and on which side it pads.

Light on purpose (no torch, no transformers): the config schema checks ``model.family`` against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sweep.registry import Registry


@dataclass(frozen=True)
class Family:
    pooling: str  # default pooling for the family
    take_backbone: Callable[[Any], Any]  # the part of the loaded model that encodes the input
    needs_pad_token: bool = False
    padding_side: str | None = None  # set on the tokenizer whatever the checkpoint says; None: as loaded


FAMILIES: Registry[Family] = Registry("model.family")
FAMILIES.register("encoder")(Family(pooling="mean", take_backbone=lambda model: model))
# right: as our loaders pad (PadCollator); chat/GGUF tokenizers often say left (see zoo/loader.py)
FAMILIES.register("decoder")(Family(pooling="last", take_backbone=lambda model: model, needs_pad_token=True, padding_side="right"))
# T5/BART: classify from the encoder; the decoder would need target tokens we do not have
FAMILIES.register("encoder_decoder")(Family(pooling="mean", take_backbone=lambda model: model.get_encoder()))
