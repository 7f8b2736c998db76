"""Prompt tuning: trainable soft-prompt vectors before the input, through PEFT; the backbone is frozen.

The head (ours, see sweep/models/classifier.py) trains too: PEFT's own ``modules_to_save`` would only
cover HF classification heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sweep.config.errors import require
from sweep.strategies.base import STRATEGIES, Strategy, StrategyConfig


@dataclass
class PromptConfig(StrategyConfig):
    num_virtual_tokens: int = 20
    init_text: Optional[str] = None  # initialise the prompt from this text's embeddings; null = random

    def __post_init__(self) -> None:
        require(1 <= self.num_virtual_tokens <= 512, "strategy.num_virtual_tokens", self.num_virtual_tokens, "must be in [1, 512]")


@STRATEGIES.register("prompt")
class PromptTuning(Strategy):
    config_class = PromptConfig

    def apply(self, model, tokenizer) -> None:
        from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

        options = {}
        if self.config.init_text:
            options = {
                "prompt_tuning_init": PromptTuningInit.TEXT,
                "prompt_tuning_init_text": self.config.init_text,
                "tokenizer_name_or_path": tokenizer.name_or_path,
            }
        # a language model (generation types) as one: PEFT's generate() then feeds the soft prompt, as training did
        task_type = TaskType[getattr(model, "peft_task_type", "FEATURE_EXTRACTION")]
        config = PromptTuningConfig(task_type=task_type, num_virtual_tokens=self.config.num_virtual_tokens, **options)
        model.backbone = get_peft_model(model.backbone, config)
