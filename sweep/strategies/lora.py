"""LoRA: low-rank adapters on the attention projections, through PEFT; the backbone is frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from sweep.config.errors import ConfigError, require
from sweep.strategies.base import STRATEGIES, Strategy, StrategyConfig


@dataclass
class LoraConfig(StrategyConfig):
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    # null: PEFT's default for the model type (query/value for BERT, q_proj/v_proj for Llama, q/v for T5), else DEFAULT_TARGETS
    target_modules: Optional[List[str]] = None

    def __post_init__(self) -> None:
        require(self.r >= 1, "strategy.r", self.r, "must be >= 1")
        require(self.alpha >= 1, "strategy.alpha", self.alpha, "must be >= 1")
        require(0.0 <= self.dropout < 1.0, "strategy.dropout", self.dropout, "must be in [0, 1)")


# model types PEFT 0.21.2 has no LoRA default for. ViT: transformers 5 names its attention projections
# q_proj/k_proj/v_proj/o_proj (PEFT maps vit, for its AdaMSS and FRoD methods only, to the old names
# query/value, which no longer exist); the query and value projections, as LoRA's paper and BERT's default
DEFAULT_TARGETS = {"vit": ["q_proj", "v_proj"]}


@STRATEGIES.register("lora")
class LowRankAdaptation(Strategy):
    config_class = LoraConfig

    def apply(self, model, tokenizer) -> None:
        from peft import LoraConfig as PeftLoraConfig
        from peft import get_peft_model

        targets = self.config.target_modules or DEFAULT_TARGETS.get(getattr(model.backbone.config, "model_type", None))
        config = PeftLoraConfig(
            r=self.config.r,
            lora_alpha=self.config.alpha,
            lora_dropout=self.config.dropout,
            target_modules=list(targets) if targets else None,
            # a language model (generation types) is wrapped as one, so that PEFT's generate() runs it
            task_type=getattr(model, "peft_task_type", None),
        )
        try:
            model.backbone = get_peft_model(model.backbone, config)
        except ValueError as error:  # PEFT names the modules it could not find, or a model type it has no defaults for
            raise ConfigError("strategy.target_modules", str(error).splitlines()[0], self.config.target_modules) from None
