"""Partial fine-tuning: freeze what runs before the blocks (embeddings) and the bottom ``freeze_depth``
transformer blocks; the blocks above, what runs after them (final norms) and the head train."""

from __future__ import annotations

from dataclasses import dataclass

from sweep.config.errors import require
from sweep.strategies.base import STRATEGIES, Strategy, StrategyConfig


@dataclass
class PartialConfig(StrategyConfig):
    freeze_depth: int = 2  # blocks frozen from the bottom; the embeddings are always frozen
    # compute the frozen blocks' output once per row and reuse it (sweep/models/frozen_prefix.py): an epoch
    # costs in proportion to the blocks that train; the frozen blocks then run without dropout
    cache_prefix: bool = True

    def __post_init__(self) -> None:
        require(self.freeze_depth >= 0, "strategy.freeze_depth", self.freeze_depth, "must be >= 0")


@STRATEGIES.register("partial")
class PartialFineTuning(Strategy):
    config_class = PartialConfig

    def check(self, num_blocks: int | None) -> None:
        if num_blocks is not None:
            depth = self.config.freeze_depth
            require(depth <= num_blocks, "strategy.freeze_depth", depth, f"the model has {num_blocks} blocks: allowed 0..{num_blocks}")

    def apply(self, model, tokenizer) -> None:
        from sweep.models.blocks import find_blocks, parameter_depths

        blocks = find_blocks(model.backbone)
        self.check(len(blocks))
        depths = parameter_depths(model.backbone, blocks)
        for name, param in model.backbone.named_parameters():
            # depth 0 = what runs before the blocks (embeddings), 1..k = the bottom k blocks; a parameter
            # the forward pass never uses has no depth and stays frozen (it cannot learn anything)
            depth = depths.get(name)
            param.requires_grad_(depth is not None and depth > self.config.freeze_depth)

    def cached_prefix_depth(self) -> int:
        return self.config.freeze_depth if self.config.cache_prefix else 0
