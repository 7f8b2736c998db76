"""Prefix tuning: trainable key/value vectors prepended in every attention layer, through PEFT (Li & Liang 2021);
the backbone is frozen. Unlike prompt tuning and P-tuning, no position is added to the input: the prefix reaches
the rows only through attention (so sweep/pipeline/cost.py adds no positions for it).

Refused for ViTs (PEFT builds the prefix from a vocabulary a ViT does not have) and for T5's encoder alone
(the classifier reads the encoder; its attention mask does not cover the prefix): sweep/models/families.py.
"""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod


@STRATEGIES.register("prefix")
class PrefixTuning(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            task_type=self.task_type(model, "FEATURE_EXTRACTION"),
            num_virtual_tokens=self.config.num_virtual_tokens,
            prefix_projection=self.config.prefix_projection,
            encoder_hidden_size=self.config.encoder_hidden_size,
        )
