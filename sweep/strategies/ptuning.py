"""P-tuning: virtual tokens produced by a small prompt encoder (MLP or LSTM), put before the input, through
PEFT (Liu et al. 2021); the backbone is frozen. As prompt tuning, it feeds ``inputs_embeds``: refused for ViTs."""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod


@STRATEGIES.register("ptuning")
class PTuning(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import PromptEncoderConfig

        return PromptEncoderConfig(
            task_type=self.task_type(model, "FEATURE_EXTRACTION"),
            num_virtual_tokens=self.config.num_virtual_tokens,
            encoder_reparameterization_type=self.config.encoder_type,
            encoder_hidden_size=self.config.encoder_hidden_size,
            encoder_num_layers=self.config.encoder_num_layers,
            encoder_dropout=self.config.dropout,
        )
