"""Build one job: data, its preprocessing (the model family's pipeline: tokenizer or image processor),
model and strategy, and the loaders, from a validated config.

Everything that can fail on bad input happens here, before a tracking run is opened, so a bad
value leaves nothing half-written in the store.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweep.config.schema import JobConfig
from sweep.strategies import STRATEGIES, Strategy

log = logging.getLogger(__name__)


@dataclass
class Built:
    job: JobConfig
    model: object  # SequenceClassifier
    tokenizer: object  # the processor of the model's inputs: a tokenizer, or an image processor (vision)
    strategy: Strategy
    label_names: list[str]
    loaders: dict  # train / val / test DataLoaders
    sizes: dict[str, int]
    total_params: int
    trainable_params: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent preparing, and cache hits
    task_names: list[str] | None = None  # multi-task training: the sub-tasks, in head order
    task_label_counts: list[int] | None = None
    teacher_metrics: dict[str, float] = field(default_factory=dict)  # distillation: the teacher on val and test
    teacher_source: str | None = None  # the teacher as resolved: a model name's runs:/ URI

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / max(self.total_params, 1)


def check_model_fit(job: JobConfig, cache_dir: Path) -> Strategy:
    """The strategy against the model's block count, read from its config (no weights loaded)."""
    from sweep.zoo.loader import quick_block_count

    strategy = STRATEGIES.get(job.strategy.name)(job.strategy)
    strategy.check(quick_block_count(job.root.model, cache_dir))
    return strategy


def build(job: JobConfig, tracking_uri: str | None = None) -> Built:
    """``tracking_uri``: where a teacher given by run or model name is found (distillation)."""
    from sweep.data.tasks import load_splits

    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    strategy = check_model_fit(job, cache_dir)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    splits = load_splits(root.task)
    timings["load_data_s"] = time.perf_counter() - start
    teacher = None
    if root.distill.teacher is not None and job.teacher is None:
        log.warning("strategy=%s trains on the labels alone: full fine-tuning under a teacher is strategy=distill", job.strategy.name)
    if job.teacher is not None:  # before the student: a bad teacher fails fast
        from sweep.pipeline.teacher import label_order, load_teacher

        start = time.perf_counter()
        teacher = load_teacher(root, cache_dir, tracking_uri)
        teacher_columns = label_order(teacher, splits.label_names)
        timings["load_teacher_s"] = time.perf_counter() - start

    # heavy imports only now: the checks above answer bad input without them
    import pytorch_lightning as pl

    from sweep.data.pipelines import pipeline_for
    from sweep.models.classifier import SequenceClassifier
    from sweep.models.families import FAMILIES
    from sweep.tracking.saved_models import classifier_from_run, is_saved_source
    from sweep.zoo.loader import load_backbone, source_fingerprint

    start = time.perf_counter()
    if is_saved_source(root.model.source):  # runs:/<id>/model: a kept model, with its head (sweep/tracking/saved_models.py)
        model, processor = classifier_from_run(job, splits.label_names, cache_dir)
    else:
        inputs = pipeline_for(root.model.family)
        processor = inputs.load_processor(root.model, cache_dir)
        pl.seed_everything(root.seed, verbose=False)
        backbone = load_backbone(root.model, cache_dir, **inputs.backbone_options(processor))
        pooling = root.model.pooling or FAMILIES.get(root.model.family).pooling
        model = SequenceClassifier(backbone, backbone.config.hidden_size, splits.num_labels, pooling, root.model.dropout)
    pipeline = pipeline_for(root.model.family)  # after a kept model set the family
    strategy.apply(model, processor)
    model.train()  # from_pretrained returns eval mode (dropout off); Lightning keeps modes as they are
    if strategy.cached_prefix_depth() and root.augment.name == "none":  # augmented rows differ every epoch
        from sweep.models.frozen_prefix import install

        dtype = next(model.backbone.parameters()).dtype
        install(model.backbone, strategy.cached_prefix_depth(), (source_fingerprint(root.model, root.seed), str(dtype)))
    timings["load_model_s"] = time.perf_counter() - start

    start = time.perf_counter()
    fingerprint = pipeline.fingerprint(processor)
    encoded, hits = {}, 0
    for name in ("train", "val", "test"):
        encoded[name], hit = pipeline.encode(getattr(splits, name), processor, root.task, cache_dir, fingerprint)
        hits += hit
    timings["tokenize_s"] = time.perf_counter() - start
    timings["token_cache_hits"] = hits

    extras = {name: {} for name in encoded}  # per-row values the objective needs beside the labels
    if splits.task_names is not None:
        for name in extras:
            extras[name]["task"] = getattr(splits, name).tasks
    teacher_metrics = {}
    if teacher is not None:
        teacher_metrics = _teacher_logits(teacher, teacher_columns, splits, job, extras, timings)
    weights = None
    if splits.task_names is not None:
        from sweep.data.multitask import sampling_weights

        weights = sampling_weights(root.task, splits.train.tasks)

    if strategy.frozen_features:  # never augmented: sweep.config.schema.check_augment refuses it
        backbone_id = source_fingerprint(root.model, root.seed)
        loaders = _feature_loaders(model, pipeline, processor, encoded, extras, weights, job, backbone_id, timings)
    else:
        from sweep.data.augment import AUGMENTERS

        make = AUGMENTERS.get(root.augment.name).make
        augmenter = make(root.augment, processor, encoded["train"], root.seed, root.task.max_length)  # None for augment=none
        optim, test = root.optim, encoded["test"]
        loaders = {
            "train": pipeline.train_loader(encoded["train"], processor, optim.batch_size, root.seed, extras["train"], weights, augmenter),
            "val": pipeline.eval_loader(encoded["val"], processor, optim.eval_batch_size, extras["val"]),
            "test": pipeline.eval_loader(test, processor, optim.eval_batch_size, extras["test"]) if len(test) else None,
        }

    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Built(
        job=job,
        model=model,
        tokenizer=processor,
        strategy=strategy,
        label_names=splits.label_names,
        loaders=loaders,
        sizes={name: len(split) for name, split in encoded.items()},
        total_params=total,
        trainable_params=trainable,
        timings=timings,
        task_names=splits.task_names,
        task_label_counts=splits.task_label_counts,
        teacher_metrics=teacher_metrics,
        teacher_source=teacher.source if teacher is not None else None,
    )


def _teacher_logits(teacher, columns: list[int], splits, job: JobConfig, extras: dict, timings: dict) -> dict[str, float]:
    """The teacher's logits of every split, from its cache after the first job: the training split's go
    into the batches; val and test only measure the teacher, for comparison with its student."""
    import numpy as np

    from sweep.pipeline.teacher import teacher_logits

    root = job.root
    start, hits, measured = time.perf_counter(), 0, {}
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        logits, hit = teacher_logits(
            teacher, part.inputs, part.labels, columns, root.task.max_length, root.optim.eval_batch_size, Path(root.paths.cache_dir)
        )
        hits += hit
        if name == "train":
            extras[name]["teacher_logits"] = logits
        elif len(part):
            measured[f"teacher_{name}_acc"] = float(np.mean(logits.argmax(1) == part.labels))
    timings.update(teacher_s=time.perf_counter() - start, teacher_cache_hits=hits, teacher_forward_batches=teacher.batches_run)
    return measured


def _feature_loaders(model, pipeline, processor, encoded: dict, extras: dict, weights, job: JobConfig, backbone_id: str, timings: dict):
    from sweep.data.features import cached_features
    from sweep.data.loaders import FeatureDataset, feature_loader

    optim, cache_dir = job.root.optim, Path(job.root.paths.cache_dir)
    start, hits, loaders = time.perf_counter(), 0, {}
    for name, split in encoded.items():
        if name == "test" and not len(split):
            loaders[name] = None
            continue
        features, hit = cached_features(model, pipeline, split, processor, optim.eval_batch_size, cache_dir, backbone_id)
        hits += hit
        dataset = FeatureDataset(features, split.labels, extras[name])
        batch_size = optim.batch_size if name == "train" else optim.eval_batch_size
        loaders[name] = feature_loader(dataset, batch_size, shuffle=name == "train", seed=job.root.seed, weights=weights)
    timings["features_s"] = time.perf_counter() - start
    timings["feature_cache_hits"] = hits
    return loaders
