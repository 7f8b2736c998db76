"""Multi-task training across task types: one backbone, a pooled head and a per-token head side by side.

The pooled head holds the classification sub-tasks' columns, the token head the token sub-tasks' (each sub-task a
column range: lightning_modules/mixed_multitask.py). One output tensor, ``[batch, tokens, pooled + token columns]``,
the pooled logits repeated at every position, so the training loop and the trainer stay as for one task.
"""

from __future__ import annotations

import torch
from torch import nn

from sweep.models.classifier import POOLERS


class MultiTaskClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, hidden_size: int, outputs: tuple[int, int], pooling: str, dropout: float):
        """``outputs``: (pooled columns, token columns)."""
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.pool = POOLERS.get(pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, outputs[0])  # "head": what kept models read the hidden size from
        self.token_head = nn.Linear(hidden_size, outputs[1])

    @property
    def outputs(self) -> list[int]:
        return [self.head.out_features, self.token_head.out_features]

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, features=None) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = self.dropout(hidden[:, hidden.size(1) - attention_mask.size(1) :])  # past prompt tuning's virtual tokens
        pooled = self.head(self.pool(hidden, attention_mask))
        return torch.cat([pooled.unsqueeze(1).expand(-1, hidden.size(1), -1), self.token_head(hidden)], dim=-1)
