"""A pretrained backbone and a linear head on every token: token classification (entities, parts of speech).

Why not ``AutoModelForTokenClassification``: as for sequences (sweep/models/classifier.py), one head of ours for
every family, encoder or decoder, so strategies and kept models treat both alike. The head reads each position;
the loss and metrics read only a word's first piece (sweep/data/word_tokens.py).
"""

from __future__ import annotations

import torch
from torch import nn


class TokenClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_labels)

    def features(self, input_ids=None, attention_mask=None, pixel_values=None) -> torch.Tensor:
        """Every real position's hidden state: (batch, tokens, hidden)."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # prompt tuning (PEFT) prepends virtual tokens: keep the positions of the row's own tokens, which the
        # labels are aligned with
        return hidden[:, hidden.size(1) - attention_mask.size(1) :]

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, features=None) -> torch.Tensor:
        if features is None:
            features = self.features(input_ids, attention_mask)
        return self.head(self.dropout(features))
