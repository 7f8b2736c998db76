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

    def encode_image(self, pixel_values: torch.Tensor | None = None, features: torch.Tensor | None = None) -> torch.Tensor:
        """``features``: the frozen vision backbone's pooled output, computed once (sweep/pipeline/dual.py)."""
        return F.normalize(self.vision(pixel_values=pixel_values, features=features).float(), dim=-1)

    def encode_text(self, input_ids=None, attention_mask=None, features: torch.Tensor | None = None) -> torch.Tensor:
        return F.normalize(self.text(input_ids=input_ids, attention_mask=attention_mask, features=features).float(), dim=-1)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, vision_features=None, text_features=None) -> torch.Tensor:
        """[B, 2, D]: the images' unit embeddings x exp(scale), the texts' unit embeddings (``images @ texts.T`` is the
        logit matrix: lightning_modules/image_text.py). A frozen tower's pooled features, where given, stand for its input."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        images = self.encode_image(pixel_values, vision_features) * scale
        return torch.stack([images, self.encode_text(input_ids, attention_mask, text_features)], dim=1)


def tower(backbone: nn.Module, projection_dim: int, pooling: str) -> SequenceClassifier:
    """A backbone under a projection head (no dropout before it: CLIP projects the pooled output as it is)."""
    return SequenceClassifier(backbone, backbone.config.hidden_size, projection_dim, pooling, dropout=0.0)
