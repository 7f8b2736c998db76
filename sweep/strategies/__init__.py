"""Fine-tuning strategies, one file each, chosen by ``strategy.name`` from the registry.

Importing this package registers every strategy; it imports no heavy package (each strategy imports
torch/peft inside its methods), so config validation stays fast.
"""

# noqa: F401 below: the files register themselves. PEFT methods: sweep/strategies/peft_method.py (one schema, the
# defaults); each method one file (LoHa and LoKr share lycoris.py); bitfit is ours (PEFT has no BitFit)
from sweep.strategies import (  # noqa: F401
    adalora,
    bitfit,
    distill,
    feature,
    full,
    ia3,
    lit,
    ln_tuning,
    lora,
    lycoris,
    partial,
    prefix,
    prompt,
    ptuning,
    vera,
)
from sweep.strategies.base import STRATEGIES, Strategy, StrategyConfig

__all__ = ["STRATEGIES", "Strategy", "StrategyConfig"]
