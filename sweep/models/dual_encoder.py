"""A CLIP-style dual encoder from any vision model and any text model of the zoo (model.family=dual_encoder).

Each tower is a ``SequenceClassifier`` whose head is its projection (hidden -> ``model.projection_dim``), pooled as
its family pools (a ViT's CLS token, MiniLM's mean): every strategy then applies to a tower as it applies to a
classifier (LoRA wraps ``tower.backbone``, partial and feature freeze its blocks), and a kept tower is saved and
loaded as a kept classifier is (sweep/tracking/saved_models.py). The similarity is cosine times exp(logit scale), a
learnable temperature started at ``model.temperature``.

Why not transformers' ``VisionTextDualEncoderModel`` (what Hugging Face's run_clip.py builds): it projects each
tower's ``pooler_output``, a tanh layer that sentence-transformers checkpoints such as MiniLM do not have (it would
be random, and frozen under LiT), and its towers cannot be PEFT-wrapped one at a time by our strategies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sweep.models.classifier import SequenceClassifier

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's clamp: the temperature never drops below 0.01


class DualEncoder(nn.Module):
    def __init__(self, vision: SequenceClassifier, text: SequenceClassifier, temperature: float):
        super().__init__()
        self.vision = vision
        self.text = text
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    @property
    def towers(self) -> dict[str, SequenceClassifier]:
        return {"vision": self.vision, "text": self.text}

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.vision(pixel_values=pixel_values).float(), dim=-1)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(input_ids=input_ids, attention_mask=attention_mask).float(), dim=-1)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None) -> torch.Tensor:
        """[B, 2, D]: the images' unit embeddings x exp(scale), the texts' unit embeddings (``images @ texts.T`` is the
        logit matrix: lightning_modules/image_text.py)."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        return torch.stack([self.encode_image(pixel_values) * scale, self.encode_text(input_ids, attention_mask)], dim=1)


def tower(backbone: nn.Module, projection_dim: int, pooling: str) -> SequenceClassifier:
    """A backbone under a projection head (no dropout before it: CLIP projects the pooled output as it is)."""
    return SequenceClassifier(backbone, backbone.config.hidden_size, projection_dim, pooling, dropout=0.0)
