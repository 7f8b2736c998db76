"""Prompt tuning: trainable soft-prompt vectors before the input, through PEFT; the backbone is frozen.

The head (ours, see sweep/models/classifier.py) trains too: PEFT's own ``modules_to_save`` would only
cover HF classification heads.
"""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftConfig, PeftMethod

PromptConfig = PeftConfig  # the schema every PEFT method reads (sweep/strategies/peft_method.py)


@STRATEGIES.register("prompt")
class PromptTuning(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import PromptTuningConfig, PromptTuningInit

        options = {}
        if self.config.init_text:
            options = {
                "prompt_tuning_init": PromptTuningInit.TEXT,
                "prompt_tuning_init_text": self.config.init_text,
                "tokenizer_name_or_path": tokenizer.name_or_path,
            }
        # a language model (generation types) as one: PEFT's generate() then feeds the soft prompt, as training did
        task_type = self.task_type(model, "FEATURE_EXTRACTION")
        return PromptTuningConfig(task_type=task_type, num_virtual_tokens=self.config.num_virtual_tokens, **options)
