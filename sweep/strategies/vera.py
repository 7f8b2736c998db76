"""VeRA: one pair of frozen random projections shared by every adapted layer, and per layer two trainable
scaling vectors (d of width r, b of the layer's output width), through PEFT (Kopiczko et al. 2024). Far fewer
trainable parameters than LoRA at a much larger rank (default 256); the projections are rebuilt from their seed
(``projection_prng_key``) when a kept model loads, so they are not saved."""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod


@STRATEGIES.register("vera")
class VeRA(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import VeraConfig

        c = self.config
        return VeraConfig(
            r=c.r, vera_dropout=c.dropout, d_initial=c.d_initial, projection_prng_key=c.projection_prng_key, save_projection=False,
            target_modules=self.targets(model), task_type=self.task_type(model),
        )  # fmt: skip
