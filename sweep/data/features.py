"""Pooled features of a frozen backbone: computed once, cached on disk, reused by every epoch and job.

Recomputing a frozen MiniLM-L6 every epoch costs as much as the forward pass of full fine-tuning;
training a linear head on cached features takes a fraction of a second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from sweep.data.atomic import atomic_write
from sweep.data.pipelines import InputPipeline

FEATURE_INPUTS = ("input_ids", "attention_mask", "pixel_values")


def compute_features(model, pipeline: InputPipeline, split, processor, batch_size: int) -> torch.Tensor:
    """The pooled backbone output of every row of an encoded split (token ids or images), in row order."""
    if not len(split):
        return torch.zeros(0, model.head.in_features)
    was_training = model.training
    model.eval()
    try:
        return pipeline.in_row_order(
            split, processor, batch_size, lambda batch: model.features(**{key: batch[key] for key in FEATURE_INPUTS if key in batch})
        )
    finally:
        model.train(was_training)


def cached_features(
    model, pipeline: InputPipeline, split, processor, batch_size: int, cache_dir: Path | None, backbone_id: str
) -> tuple[torch.Tensor, bool]:
    """Features for ``split``; returns (features, whether they came from the cache)."""
    if cache_dir is None:
        return compute_features(model, pipeline, split, processor, batch_size), False
    key = hashlib.sha256(f"{backbone_id}|{model.pooling}|{split.key}".encode()).hexdigest()[:24]
    path = cache_dir / "features" / f"{key}.npy"
    if path.exists():
        return torch.from_numpy(np.load(path)), True
    features = compute_features(model, pipeline, split, processor, batch_size)
    atomic_write(path, lambda handle: np.save(handle, features.numpy()))
    return features, False
