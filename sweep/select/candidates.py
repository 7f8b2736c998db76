"""A candidate's frozen, pooled features of the task's training split, as ``strategy=feature`` computes
them (sweep/pipeline/build.py) and through the same disk cache (sweep/data/features.py ``cached_features``, keyed
by the backbone's weights, the pooling and the tokenized rows): what one computes, the other reuses.

On a cache hit the backbone is never loaded: the key needs only the tokenizer (for the rows), the
source's fingerprint and the pooling, which the config says (a kept model's pooling is in its saved
metadata: that one loads first). A candidate already featurised by select or a feature job costs the
tokenizer's load and a file read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sweep.config.schema import JobConfig

log = logging.getLogger("sweep")


@dataclass
class Features:
    name: str
    features: np.ndarray  # N x D, float32, row order of the training split (token classification: one row per word)
    cached: bool  # read from the feature cache (nothing computed)
    seconds: float  # tokenizer, tokens (cached or not), the model where needed, the features
    labels: np.ndarray | None = None  # token classification: each word's tag id (None: the split's labels, row by row)


class LazyClassifier:
    """What ``cached_features`` asks of the model: its pooling at once (the cache key), anything else (a
    cache miss: the forward pass) loads the real classifier first and is answered by it."""

    def __init__(self, pooling: str, load: Callable[[], object]):
        self.pooling = pooling
        self._load = load
        self._model = None

    def __getattr__(self, name: str):  # only for names not set in __init__
        if self._model is None:
            self._model = self._load()
        return getattr(self._model, name)

    @property
    def loaded(self) -> bool:
        return self._model is not None


def extract(name: str, job: JobConfig, splits, batch_size: int) -> Features:
    """The features of ``splits.train`` (as load_splits gives it) under candidate ``name``."""
    from sweep.data.features import cached_features, word_features
    from sweep.data.pipelines import pipeline_for
    from sweep.task_types import TASK_TYPES
    from sweep.tracking.saved_models import classifier_from_run, is_saved_source
    from sweep.zoo.loader import source_fingerprint

    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    task_type = TASK_TYPES.get(root.task.type)
    start = time.perf_counter()
    if is_saved_source(root.model.source):  # a kept model: family and pooling are its own (sets root.model's)
        loaded, processor, _ = classifier_from_run(job, splits.label_names, cache_dir, task_type, splits.fitted)
        _freeze(job, loaded, processor)
        model = LazyClassifier(getattr(loaded, "pooling", None), lambda: loaded)
    else:
        processor = pipeline_for(root.model.family).load_processor(root.model, cache_dir)
        model = LazyClassifier(_pooling(job), lambda: _classifier(job, processor, task_type, task_type.outputs(splits.label_names)))
    pipeline = pipeline_for(root.model.family)
    encoded, _ = pipeline.encode(splits.train, processor, root.task, cache_dir, pipeline.fingerprint(processor))
    if task_type.head == "tokens":  # per word: not cached (a row's words are as many feature rows as it has words)
        features, tags = common_tags(*(values.numpy() for values in word_features(model, encoded, processor, batch_size)))
        return Features(name, features, False, time.perf_counter() - start, tags)
    # the backbone id as sweep/pipeline/build.py computes it for strategy=feature: the same key, the same file
    features, hit = cached_features(model, pipeline, encoded, processor, batch_size, cache_dir, source_fingerprint(root.model, root.seed))
    return Features(name, features.numpy(), hit, time.perf_counter() - start)


MIN_TAG_WORDS = 5  # the probes' 5-fold cross-validation needs as many words of each tag


def common_tags(features: np.ndarray, tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The words whose tag at least MIN_TAG_WORDS words have: a rare entity type (I-tvshow on 1,700 tweets) would
    leave the probes no fold to test it in. Said in one line; LogME and H-score read the same words. Also a dual
    encoder's classes of too few rows (sweep/select/pairs.py)."""
    values, counts = np.unique(tags, return_counts=True)
    rare = values[counts < MIN_TAG_WORDS]
    if len(rare):
        keep = ~np.isin(tags, rare)
        log.info("select: %d row(s) of %d class(es) with fewer than %d rows left out", int((~keep).sum()), len(rare), MIN_TAG_WORDS)
        return features[keep], tags[keep]
    return features, tags


def _pooling(job: JobConfig) -> str:
    from sweep.models.families import FAMILIES

    return job.root.model.pooling or FAMILIES.get(job.root.model.family).pooling


def _classifier(job: JobConfig, processor, task_type, outputs: int):
    """The classifier of sweep/pipeline/build.py for a ``strategy=feature`` job: the same seed before the backbone
    (a random: source's weights come from it), the same pooling, the backbone frozen."""
    import pytorch_lightning as pl

    from sweep.data.pipelines import pipeline_for
    from sweep.models.heads import with_head
    from sweep.zoo.loader import load_backbone

    root = job.root
    log.info("%s: computing features (not in the cache yet)", root.model.name)
    pl.seed_everything(root.seed, verbose=False)
    options = pipeline_for(root.model.family).backbone_options(processor)
    backbone = load_backbone(root.model, Path(root.paths.cache_dir), **options)
    model = with_head(task_type.head, backbone, backbone.config.hidden_size, outputs, _pooling(job), root.model.dropout)
    _freeze(job, model, processor)
    return model


def _freeze(job: JobConfig, model, processor) -> None:
    from sweep.strategies import STRATEGIES

    STRATEGIES.get(job.strategy.name)(job.strategy).apply(model, processor)  # feature: the whole backbone frozen
