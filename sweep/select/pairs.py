"""Candidate tower pairs of an image–text task (task.type=image_text), scored before any training.

A candidate is ``<vision model>+<text model>`` (``vit_fashion+minilm_l6``), as the dual encoder's runs are named, so
the ranking is checked against their fine-tuned results like any other. No pair shares a space before training (its
projections are random: zero-shot accuracy is chance for all), so a pair is scored by what each tower brings: its
frozen pooled features of the training rows (the vision tower's of the images, the text tower's of their texts),
scored against the rows' classes as any candidate's are (LogME, H-score, probes), and the pair's score is the mean of
the two. A tower that does not separate the classes cannot align them with the other's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sweep.config.errors import require

TOWERS = ("vision", "text")


def pair_names(name: str) -> tuple[str, str]:
    vision, plus, text = name.partition("+")
    example = "e.g. vit_small+minilm_l6"
    require(
        bool(plus and vision and text), "candidates", name, f"an image_text task's candidates are tower pairs <vision>+<text>, {example}"
    )
    return vision, text


def pair_node(name: str, model_node) -> dict:
    """The dual encoder's model config with the pair's towers (``model_node``: a model file's tree by name)."""
    vision, text = pair_names(name)
    return {**model_node("dual_encoder"), "vision": vision, "text": text}


def scored_pair(name: str, job, splits, scores: list[str], seed: int, batch_size: int):
    """The pair's Scored: each tower's features scored, the scores averaged, the seconds and dimensions summed."""
    from sweep.select.candidates import common_tags
    from sweep.select.ranking import Scored, score

    parts = []
    for tower in TOWERS:  # a class of fewer than 5 rows leaves the probes' 5 folds nothing to test it on: left out, said once
        features = tower_features(name, job, splits, tower, batch_size)
        features.features, labels = common_tags(features.features, np.asarray(splits.train.labels))
        parts.append(score(features, labels, scores, seed))
    values = {key: sum(part.scores[key] for part in parts) / len(parts) for key in scores}
    seconds = {key: sum(part.score_s[key] for part in parts) for key in scores}
    rows, dimensions = parts[0].rows, sum(part.dimensions for part in parts)
    return Scored(name, rows, dimensions, False, sum(part.features_s for part in parts), values, seconds)


def tower_features(name: str, job, splits, tower: str, batch_size: int):
    """One tower's frozen pooled features of the training split: the images (vision) or their texts (text)."""
    import torch

    from sweep.data.labelled import Split
    from sweep.data.pipelines import pipeline_for
    from sweep.models.dual_encoder import tower as projected
    from sweep.pipeline.dual import load_tower, tower_config
    from sweep.select.candidates import Features

    start = time.perf_counter()
    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    config = tower_config(root, tower)
    backbone, processor, pooling = load_tower(root, config, tower, cache_dir)
    model = projected(backbone, 1, pooling).eval()  # its projection is never used: the pooled output is the feature
    pipeline = pipeline_for(config.family)
    train = splits.train
    rows = Split(train.inputs if tower == "vision" else list(train.pairs), train.labels)
    encoded, _ = pipeline.encode(rows, processor, root.task, cache_dir, pipeline.fingerprint(processor))
    inputs = ("pixel_values",) if tower == "vision" else ("input_ids", "attention_mask")
    with torch.no_grad():
        features = pipeline.in_row_order(encoded, processor, batch_size, lambda batch: model.features(**{k: batch[k] for k in inputs}))
    return Features(f"{name}:{tower}", features.float().numpy(), False, time.perf_counter() - start)
