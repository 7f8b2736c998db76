"""Build one job from a validated config and its resolved sources (sweep/pipeline/sources.py), in this order:

1. the strategy against the model's block count (its config only: a bad depth fails before anything loads);
2. the data: the task's splits (and a multi-task mixture's draw weights);
3. the teacher, where there is one (sweep/pipeline/teacher.py ``teach``): loaded, its labels checked, its logits
   of every split computed or read from the cache;
4. the model and its strategy: the preprocessing (the model family's pipeline: tokenizer or image processor),
   the classifier (fresh from ``model.source``, or a kept run's), the strategy applied, a frozen prefix installed;
5. the splits encoded, then the loaders (of frozen features, where the strategy trains on them).

Everything that can fail on bad input happens here, before a tracking run is opened, so a bad
value leaves nothing half-written in the store. Nothing here looks a source up: ``sources`` says where
the model and the teacher are.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sweep.config.schema import JobConfig
from sweep.pipeline.built import Built
from sweep.pipeline.sources import Sources, resolve_sources
from sweep.strategies import STRATEGIES, Strategy
from sweep.task_types import TASK_TYPES


def check_model_fit(job: JobConfig, cache_dir: Path) -> Strategy:
    """The strategy against the model's block count, read from its config (no weights loaded)."""
    from sweep.zoo.loader import quick_block_count

    strategy = STRATEGIES.get(job.strategy.name)(job.strategy)
    strategy.check(quick_block_count(job.root.model, cache_dir))
    return strategy


def build(job: JobConfig, sources: Sources | None = None) -> Built:
    """``sources``: the job's model and teacher as resolved (sweep/pipeline/sources.py); default: resolved here,
    from the job's own tracking store."""
    from sweep.data.tasks import load_splits
    from sweep.pipeline.fingerprint import data_digest

    if TASK_TYPES.get(job.root.task.type).head == "dual":  # two towers, not one backbone
        from sweep.pipeline.dual import build_dual

        return build_dual(job, sources)
    sources = sources if sources is not None else resolve_sources(job)
    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    strategy = check_model_fit(job, cache_dir)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    splits = load_splits(root.task)
    timings["load_data_s"] = time.perf_counter() - start
    digest = data_digest(splits)  # before anything the job computes could change a row
    task_type = TASK_TYPES.get(root.task.type)
    task_type.check_labels(root.trainer.monitor, splits.label_names)  # e.g. entity F1 monitored on tags that are not BIO
    weights = None  # multi-task training: how often each row is drawn
    if splits.task_names is not None:
        from sweep.data.multitask import sampling_weights

        weights = sampling_weights(root.task, splits.train.tasks)

    taught = None
    # before the student, so that a bad teacher fails fast; a generation teacher reads the student's own encoded
    # rows, so it comes after them (sweep/pipeline/generation_teacher.py)
    if sources.teacher is not None and task_type.head != "generate":
        from sweep.pipeline.teacher import teach

        taught = teach(sources, splits, root.task.max_length, root.optim.eval_batch_size, cache_dir, task_type)
        timings.update(taught.timings)

    # heavy imports only now: the checks above answer bad input without them
    import pytorch_lightning as pl

    from sweep.data.pipelines import pipeline_for
    from sweep.models.families import FAMILIES
    from sweep.models.heads import with_head
    from sweep.zoo.loader import load_backbone, source_fingerprint

    start = time.perf_counter()
    head, outputs = head_of(splits, task_type)
    if sources.kept_model:  # runs:/<id>/model: a kept model, with its head (sweep/tracking/saved_models.py)
        from sweep.tracking.saved_models import classifier_from_run

        model, processor, splits.fitted = classifier_from_run(job, splits.label_names, cache_dir, task_type, splits.fitted, head, outputs)
        pipeline = pipeline_for(root.model.family)  # the kept model's family, set as it loaded
    else:
        pipeline = pipeline_for(root.model.family)
        processor = pipeline.load_processor(root.model, cache_dir)
        pl.seed_everything(root.seed, verbose=False)
        backbone = load_backbone(root.model, cache_dir, **pipeline.backbone_options(processor), generates=head == "generate")
        pooling = root.model.pooling or FAMILIES.get(root.model.family).pooling
        model = with_head(head, backbone, backbone.config.hidden_size, outputs, pooling, root.model.dropout)
    if head == "generate":  # its pad, end and decoder-start ids as the tokenizer has them
        from sweep.data.generation_tokens import end_of_sequence
        from sweep.models.generator import fit_tokenizer

        fit_tokenizer(model.backbone, processor, end_of_sequence(processor))
    strategy.apply(model, processor)
    model.train()  # from_pretrained returns eval mode (dropout off); Lightning keeps modes as they are
    # augmented rows differ every epoch; a language model's frozen prefix (an encoder's bottom blocks, or a decoder's
    # over prompt and response) is not cached
    cached_prefix = strategy.cached_prefix_depth() and root.augment.name == "none" and head != "generate"
    # what the frozen backbone's caches are keyed by: its weights (the frozen prefix, the frozen features)
    backbone_id = source_fingerprint(root.model, root.seed) if cached_prefix or strategy.frozen_features else None
    if cached_prefix:
        from sweep.models.frozen_prefix import install

        dtype = next(model.backbone.parameters()).dtype
        install(model.backbone, strategy.cached_prefix_depth(), (backbone_id, str(dtype)))
    else:  # this job reads no frozen prefix: what an earlier trial of the process kept must not stay in memory
        from sweep.models.frozen_prefix import release

        release()
    timings["load_model_s"] = time.perf_counter() - start

    start = time.perf_counter()
    fingerprint = pipeline.fingerprint(processor)
    encoded, hits = {}, 0
    for name in ("train", "val", "test"):
        if splits.sub_task_types is not None:  # classification and token rows: each sub-task encoded as its type
            from sweep.data.multitask import encode_mixed

            encoded[name], hit = encode_mixed(getattr(splits, name), pipeline, processor, root.task, cache_dir, fingerprint)
        else:
            encoded[name], hit = pipeline.encode(getattr(splits, name), processor, root.task, cache_dir, fingerprint)
        hits += hit
    timings["tokenize_s"] = time.perf_counter() - start
    if head == "generate":
        from sweep.models.generator import check_positions

        check_positions(model.backbone, encoded, root.task)
    timings["token_cache_hits"] = hits

    extras = {name: {} for name in encoded}  # per-row values the objective needs beside the labels
    if splits.task_names is not None:
        for name in extras:
            extras[name]["task"] = getattr(splits, name).tasks
    if head == "generate":  # each row's place in its split (in its sub-task's): a fit's validations generate the first rows
        for name in extras:
            extras[name]["row"] = place_in_task(getattr(splits, name).tasks, len(encoded[name]))
    for name in ("val", "test"):  # each evaluated row's id, its index in the split: per-example records pair runs by it
        extras[name]["example"] = np.arange(len(encoded[name]))
    if sources.teacher is not None and head == "generate":
        from sweep.pipeline.generation_teacher import teach_tokens

        taught = teach_tokens(sources, encoded, model, processor, root.optim.eval_batch_size, cache_dir)
        timings.update(taught.timings)
        extras["train"].update(taught.extras)
    elif taught is not None and task_type.head == "tokens":  # per word: at the words this student's pieces start
        from sweep.pipeline.word_teacher import for_student_words

        extras["train"].update(for_student_words(taught.train_logits, encoded["train"]))
    elif taught is not None:
        extras["train"]["teacher_logits"] = taught.train_logits

    # never augmented (sweep.config.schema.check_augment refuses it); a per-token head reads the frozen backbone
    # batch by batch instead: its features (one per token, per row) are not cached
    if strategy.frozen_features and head == "pooled":
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
        data_digest=digest,
        teacher_metrics=taught.metrics if taught is not None else {},
        sources=sources,
        fitted=splits.fitted,
        head=head,
        sub_task_types=splits.sub_task_types,
    )


def place_in_task(tasks: np.ndarray | None, rows: int) -> np.ndarray:
    """Each row's index among its sub-task's rows (multi-task training), else in the split."""
    if tasks is None:
        return np.arange(rows)
    place = np.zeros(rows, np.int64)
    for task in np.unique(tasks):
        where = np.flatnonzero(tasks == task)
        place[where] = np.arange(len(where))
    return place


def head_of(splits, task_type) -> tuple[str, object]:
    """The model's head and its width: the task type's; multi-task training across types: mixed, (pooled columns,
    token columns), the classification sub-tasks' labels and the token ones' tags."""
    if splits.sub_task_types is None:
        return task_type.head, task_type.outputs(splits.label_names)
    counts = zip(splits.sub_task_types, splits.task_label_counts)
    pooled = sum(count for kind, count in counts if kind == "classification")
    return "mixed", (pooled, len(splits.label_names) - pooled)


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
