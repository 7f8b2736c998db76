"""Build one job: data, tokenizer, model and strategy, and the loaders, from a validated config.

Everything that can fail on bad input happens here, before a tracking run is opened, so a bad
value leaves nothing half-written in the store.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweep.schema import JobConfig
from sweep.strategies import STRATEGIES, Strategy

log = logging.getLogger(__name__)


@dataclass
class Built:
    job: JobConfig
    model: object  # SequenceClassifier
    tokenizer: object
    strategy: Strategy
    label_names: list[str]
    loaders: dict  # train / val / test DataLoaders
    sizes: dict[str, int]
    total_params: int
    trainable_params: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent preparing, and cache hits

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / max(self.total_params, 1)


def check_model_fit(job: JobConfig, cache_dir: Path) -> Strategy:
    """The strategy against the model's block count, read from its config (no weights loaded)."""
    from sweep.zoo.loader import quick_block_count

    strategy = STRATEGIES.get(job.strategy.name)(job.strategy)
    strategy.check(quick_block_count(job.root.model, cache_dir))
    return strategy


def build(job: JobConfig) -> Built:
    from sweep.data.tasks import load_splits

    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    strategy = check_model_fit(job, cache_dir)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    splits = load_splits(root.task)
    timings["load_data_s"] = time.perf_counter() - start

    # heavy imports only now: the checks above answer bad input without them
    import pytorch_lightning as pl

    from sweep.data.tokens import tokenize, tokenizer_fingerprint
    from sweep.models.classifier import SequenceClassifier
    from sweep.models.families import FAMILIES
    from sweep.zoo.loader import load_backbone, load_tokenizer, source_fingerprint
    from sweep.zoo.saved import classifier_from_run, is_saved_source

    start = time.perf_counter()
    if is_saved_source(root.model.source):  # runs:/<id>/model: a kept model, with its head (sweep/zoo/saved.py)
        model, tokenizer = classifier_from_run(job, splits.label_names, cache_dir)
    else:
        tokenizer = load_tokenizer(root.model, cache_dir)
        pl.seed_everything(root.seed, verbose=False)
        backbone = load_backbone(root.model, cache_dir, vocab_size=len(tokenizer))
        pooling = root.model.pooling or FAMILIES.get(root.model.family).pooling
        model = SequenceClassifier(backbone, backbone.config.hidden_size, splits.num_labels, pooling, root.model.dropout)
    strategy.apply(model, tokenizer)
    model.train()  # from_pretrained returns eval mode (dropout off); Lightning keeps modes as they are
    timings["load_model_s"] = time.perf_counter() - start

    start = time.perf_counter()
    tokenizer_id = tokenizer_fingerprint(tokenizer)
    tokenized, hits = {}, 0
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        tokenized[name], hit = tokenize(part.texts, part.labels, tokenizer, root.task.max_length, cache_dir, tokenizer_id)
        hits += hit
    timings["tokenize_s"] = time.perf_counter() - start
    timings["token_cache_hits"] = hits

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if strategy.frozen_features:
        loaders = _feature_loaders(model, tokenized, job, pad_id, source_fingerprint(root.model, root.seed), timings)
    else:
        loaders = _token_loaders(tokenized, job, pad_id)

    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Built(
        job=job,
        model=model,
        tokenizer=tokenizer,
        strategy=strategy,
        label_names=splits.label_names,
        loaders=loaders,
        sizes={name: len(split) for name, split in tokenized.items()},
        total_params=total,
        trainable_params=trainable,
        timings=timings,
    )


def _token_loaders(tokenized: dict, job: JobConfig, pad_id: int) -> dict:
    from sweep.data.loaders import eval_loader, train_loader

    optim = job.root.optim
    return {
        "train": train_loader(tokenized["train"], optim.batch_size, pad_id, job.root.seed),
        "val": eval_loader(tokenized["val"], optim.eval_batch_size, pad_id),
        "test": eval_loader(tokenized["test"], optim.eval_batch_size, pad_id) if len(tokenized["test"]) else None,
    }


def _feature_loaders(model, tokenized: dict, job: JobConfig, pad_id: int, backbone_id: str, timings: dict) -> dict:
    from sweep.data.features import cached_features
    from sweep.data.loaders import FeatureDataset, feature_loader

    optim, cache_dir = job.root.optim, Path(job.root.paths.cache_dir)
    start, hits, loaders = time.perf_counter(), 0, {}
    for name, split in tokenized.items():
        if name == "test" and not len(split):
            loaders[name] = None
            continue
        features, hit = cached_features(model, split, optim.eval_batch_size, pad_id, cache_dir, backbone_id)
        hits += hit
        dataset = FeatureDataset(features, split.labels)
        batch_size = optim.batch_size if name == "train" else optim.eval_batch_size
        loaders[name] = feature_loader(dataset, batch_size, shuffle=name == "train", seed=job.root.seed)
    timings["features_s"] = time.perf_counter() - start
    timings["feature_cache_hits"] = hits
    return loaders
