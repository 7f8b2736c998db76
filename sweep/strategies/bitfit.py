"""BitFit: only the backbone's bias terms train, with the head (Ben Zaken et al. 2022).

Ours, not PEFT's: PEFT has no BitFit method (its ``bias="all"`` option trains biases beside an adapter, never
alone), and none is needed: BitFit wraps nothing, it is these few lines of ``requires_grad``. A kept BitFit model
is saved whole (sweep/tracking/saved_models.py: a backbone with trainable parameters and no PEFT wrapper).
Models whose layers have no biases (Llama, T5) leave only their norms' biases, if any: there the head trains
almost alone.
"""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("bitfit")
class BitFit(Strategy):
    def apply(self, model, tokenizer) -> None:
        for name, param in model.backbone.named_parameters():
            param.requires_grad_(name == "bias" or name.endswith(".bias"))
