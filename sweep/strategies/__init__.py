"""Fine-tuning strategies, one file each, chosen by ``strategy.name`` from the registry.

Importing this package registers every strategy; it imports no heavy package (each strategy imports
torch/peft inside its methods), so config validation stays fast.
"""

from sweep.strategies import distill, feature, full, lora, partial, prompt  # noqa: F401  (register themselves)
from sweep.strategies.base import STRATEGIES, Strategy, StrategyConfig

__all__ = ["STRATEGIES", "Strategy", "StrategyConfig"]
