"""LN tuning: only the normalisation layers train (their scale and shift), through PEFT (Zhao et al. 2023);
the rest of the backbone is frozen. Targets: every LayerNorm / RMSNorm of the model, found by type (PEFT's own
defaults miss BERT's and ViT's)."""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod, norm_modules


@STRATEGIES.register("ln_tuning")
class LNTuning(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import LNTuningConfig

        targets = self.config.target_modules or norm_modules(model.backbone)
        return LNTuningConfig(target_modules=list(targets), task_type=self.task_type(model))
