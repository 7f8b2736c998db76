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
    # forked: iterating a DataLoader draws its base seed from the global generator, so computing the features (a
    # cache miss) would change the head's dropout draws after it, and a job's result would depend on the cache
    with torch.random.fork_rng(devices=[]):
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


@torch.no_grad()
def word_features(model, split, processor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token classification: the frozen backbone's hidden state at every word's first piece, and the word's tag
    (the positions its per-token labels mark; sweep/data/word_tokens.py), over a tokenized split."""
    from sweep.data.loaders import eval_loader
    from sweep.data.pipelines import pad_id

    was_training = model.training
    model.eval()
    features, tags = [], []
    try:
        for batch in eval_loader(split, batch_size, pad_id(processor)):
            hidden = model.features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            words = batch["labels"] != -100
            features.append(hidden[words].float())
            tags.append(batch["labels"][words])
    finally:
        model.train(was_training)
    return torch.cat(features), torch.cat(tags)
