"""LoRA: low-rank adapters on the attention projections, through PEFT; the backbone is frozen.

Its variants are options of the one method, as PEFT has them: DoRA (``use_dora``: the update split into a
magnitude and a direction), rsLoRA (``use_rslora``: scaling alpha / sqrt(r), which keeps large ranks learning),
and the initialisations ``init`` (PEFT's ``init_lora_weights``): default (B = 0), gaussian, pissa (A and B from
the weight's principal singular vectors; the base keeps the residual) and olora (from a QR decomposition).
PiSSA and OLoRA change the base weights: a kept model still round-trips, as the merged adapter holds the
difference (sweep/tracking/saved_models.py merges LoRA into its rebuilt base).
"""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftConfig, PeftMethod

LoraConfig = PeftConfig  # the schema every PEFT method reads (sweep/strategies/peft_method.py)
INIT_LORA_WEIGHTS = {"default": True, "gaussian": "gaussian", "pissa": "pissa", "olora": "olora"}


@STRATEGIES.register("lora")
class LowRankAdaptation(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import LoraConfig as PeftLoraConfig

        c = self.config
        return PeftLoraConfig(
            r=c.r,
            lora_alpha=c.alpha,
            lora_dropout=c.dropout,
            target_modules=self.targets(model),
            use_dora=c.use_dora,
            use_rslora=c.use_rslora,
            init_lora_weights=INIT_LORA_WEIGHTS[c.init],
            # a language model (generation types) is wrapped as one, so that PEFT's generate() runs it
            task_type=self.task_type(model),
        )
