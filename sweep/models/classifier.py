"""A pretrained backbone, a pooler and a linear head: one classifier for every model family, text or images.

Why not ``AutoModelForSequenceClassification``: its heads differ per family (BERT classifies through a
pooler that sentence-transformers checkpoints such as MiniLM do not have, so frozen-backbone strategies
would classify through a frozen *random* layer), and it cannot take precomputed features. Here the head
is ours: mean, first-token or last-token pooling, then dropout and a Linear layer.
"""

from __future__ import annotations

import torch
from torch import nn

from sweep.config.registry import Registry

POOLERS: Registry = Registry("model.pooling")


@POOLERS.register("mean")
def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@POOLERS.register("cls")
def first_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden[:, 0]


@POOLERS.register("last")
def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # index of the last real token, whichever side the padding is on
    positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)
    last = (positions * mask).argmax(1)
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]


class SequenceClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, hidden_size: int, num_labels: int, pooling: str, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.pool = POOLERS.get(pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_labels)

    def features(self, input_ids=None, attention_mask=None, pixel_values=None) -> torch.Tensor:
        if pixel_values is not None:  # a ViT: every position (CLS + patches) is real
            hidden = self.backbone(pixel_values=pixel_values).last_hidden_state
            return self.pool(hidden, torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device))
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # prompt tuning (PEFT) prepends virtual tokens: pool over the real positions only; the virtual
        # tokens still act on them through attention
        prefix = hidden.size(1) - attention_mask.size(1)
        return self.pool(hidden[:, prefix:], attention_mask)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, features=None) -> torch.Tensor:
        if features is None:
            features = self.features(input_ids, attention_mask, pixel_values)
        return self.head(self.dropout(features))
