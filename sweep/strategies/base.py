"""The strategy interface: which parameters train and how the backbone is wrapped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from omegaconf import MISSING

from sweep.config.registry import Registry

if TYPE_CHECKING:
    from sweep.models.classifier import SequenceClassifier


@dataclass
class StrategyConfig:
    name: str = MISSING


class Strategy:
    """One way to fine-tune. Subclasses set ``config_class`` and implement ``apply``."""

    config_class: ClassVar[type] = StrategyConfig
    # True: the backbone is frozen whole, so its pooled output is computed once per split and the
    # head trains on those features (across epochs and, through the disk cache, across jobs)
    frozen_features: ClassVar[bool] = False
    # distill.teacher: "optional" (trains under it when set), "required" (strategy=distill) or "never"
    # (full: the student alone, what strategy=distill is compared with in `-m strategy=full,distill`)
    teacher_use: ClassVar[str] = "optional"
    # a dual encoder's towers it fine-tunes whatever model.tuned_towers says (LiT: the text tower); None: as it says.
    # A strategy that names towers runs on dual encoders only
    towers: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: StrategyConfig):
        self.config = config

    def check(self, num_blocks: int | None) -> None:
        """Validate the config against the model (block count known from its config); raise ConfigError."""

    def apply(self, model: SequenceClassifier, tokenizer) -> None:
        """Freeze parameters and/or wrap ``model.backbone`` in place."""
        raise NotImplementedError

    def training_callbacks(self, model) -> list:
        """Lightning callbacks the strategy needs while its model trains (AdaLoRA's rank budget schedule); most none."""
        return []

    def cached_prefix_depth(self) -> int:
        """How many bottom blocks (with the embeddings) stay frozen and may be served from the frozen
        prefix cache (sweep/models/frozen_prefix.py); 0: none."""
        return 0


STRATEGIES: Registry[type[Strategy]] = Registry("strategy.name")


def freeze(module) -> None:
    for param in module.parameters():
        param.requires_grad_(False)
