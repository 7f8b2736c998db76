"""Heads by kind (``TaskType.head``): a backbone, and a linear head on its pooled output or on every token.

Used wherever a classifier is made: a fresh job (sweep/pipeline/build.py), a kept model reloaded
(sweep/tracking/saved_models.py), a candidate scored by sweep.select.
"""

from __future__ import annotations

from torch import nn

from sweep.config.registry import Registry
from sweep.models.classifier import SequenceClassifier
from sweep.models.generator import Generator
from sweep.models.multi_head import MultiTaskClassifier
from sweep.models.token_classifier import TokenClassifier

HEADS: Registry = Registry(
    "head",
    {
        "pooled": lambda backbone, hidden, outputs, pooling, dropout: SequenceClassifier(backbone, hidden, outputs, pooling, dropout),
        "tokens": lambda backbone, hidden, outputs, pooling, dropout: TokenClassifier(backbone, hidden, outputs, dropout),
        # multi-task training across types: outputs is (pooled columns, token columns)
        "mixed": lambda backbone, hidden, outputs, pooling, dropout: MultiTaskClassifier(backbone, hidden, outputs, pooling, dropout),
        # generation: the backbone is the whole language model, its own head writes the text
        "generate": lambda backbone, hidden, outputs, pooling, dropout: Generator(backbone),
    },
)


def with_head(head: str, backbone: nn.Module, hidden_size: int, outputs, pooling: str, dropout: float) -> nn.Module:
    """The backbone under a fresh head of kind ``head`` (pooled, tokens, or mixed) with ``outputs`` outputs (mixed:
    a pair, pooled and token columns)."""
    return HEADS.get(head)(backbone, hidden_size, outputs, pooling, dropout)
