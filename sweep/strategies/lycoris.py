"""LoHa and LoKr (the LyCORIS family), through PEFT: the weight update as a Hadamard product of two low-rank
products (LoHa) or as a Kronecker product (LoKr) instead of LoRA's one low-rank product; the backbone is frozen.

PEFT adapts Linear and Conv layers only: GPT-2's Conv1D layers are refused (sweep/strategies/peft_method.py).
"""

from __future__ import annotations

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod


def shared_options(strategy: PeftMethod, model) -> dict:
    """What LoHa's and LoKr's PEFT configs take alike."""
    c = strategy.config
    targets = strategy.targets(model)
    return {"r": c.r, "alpha": c.alpha, "rank_dropout": c.dropout, "module_dropout": c.module_dropout, "target_modules": targets,
            "task_type": strategy.task_type(model)}  # fmt: skip


@STRATEGIES.register("loha")
class LoHa(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import LoHaConfig

        return LoHaConfig(**shared_options(self, model))


@STRATEGIES.register("lokr")
class LoKr(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import LoKrConfig

        c = self.config
        return LoKrConfig(**shared_options(self, model), decompose_both=c.decompose_both, decompose_factor=c.decompose_factor)
