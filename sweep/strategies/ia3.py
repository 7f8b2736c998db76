"""(IA)^3: learned vectors that rescale the keys, values and the FFN's inner activations, through PEFT
(Liu et al. 2022); the backbone is frozen. The fewest parameters of the weight-side methods: one number per
channel of each target."""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import IA3_TARGETS, PeftMethod


@STRATEGIES.register("ia3")
class IA3(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import IA3Config

        targets, feedforward = self.config.target_modules, self.config.feedforward_modules
        if targets is None:  # PEFT's default for the model type (BERT: key, value, output.dense), else ours
            targets, feedforward = IA3_TARGETS.get(model.backbone.config.model_type, (None, feedforward))
        if feedforward is None and targets is not None:  # targets given, not which of them are FFN layers: none are
            feedforward = []
        return IA3Config(target_modules=targets, feedforward_modules=feedforward, task_type=self.task_type(model))
