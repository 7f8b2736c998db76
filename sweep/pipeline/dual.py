"""Build a dual encoder's job (task.type=image_text, model.family=dual_encoder): what sweep/pipeline/build.py does
for one backbone, done for two towers.

1. each tower's model config: ``model.vision`` / ``model.text`` name a conf/model file (or a zoo name), or a kept
   run (``runs:/<id>/model``: a pre-trained ViT from sweep.pretrain, a fine-tuned MiniLM), whose backbone is taken;
   or ``model.source`` is a kept dual encoder (sweep/tracking/saved_dual.py), towers, projections and scale;
2. the strategy applied to each tuned tower as to a classifier (``model.tuned_towers``, or the strategy's own, LiT's
   [text]); the others frozen whole; the projections and the temperature always train;
3. the rows encoded (images by the vision tower's processor, texts by the text tower's tokenizer), the class prompts
   tokenized (zero-shot accuracy), the loaders.
Bad input fails here, before a tracking run opens: a tower that reads the wrong modality, an unknown name.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sweep.config.errors import ConfigError
from sweep.config.schema import JobConfig, ModelConfig, typed
from sweep.models.families import FAMILIES

TOWER_MODALITY = {"vision": "image", "text": "text"}


def tower_config(root, tower: str) -> ModelConfig:
    """``model.<tower>`` as a model config: a conf/model (or zoo) file by name, or a kept run's source. Its family
    must read the tower's modality: one line naming the key and the models that do."""
    from omegaconf import OmegaConf

    from sweep.config.groups import CONF, group_options, zoo_dir

    key, name = f"model.{tower}", getattr(root.model, tower)
    if name is None:
        raise ConfigError(key, f"a dual encoder needs its {tower} tower: a conf/model name or runs:/<id>/model")
    if name.startswith("runs:/"):
        family = "vision" if tower == "vision" else "encoder"  # the kept model's own family replaces it as it loads
        return ModelConfig(name=name, source=name, family=family)
    roots = [CONF, zoo_dir()]
    files = [root_dir / "model" / f"{name}.yaml" for root_dir in roots if (root_dir / "model" / f"{name}.yaml").exists()]
    if not files:
        options = group_options("model", roots) or []
        raise ConfigError(key, f"unknown model; choose from {', '.join(tower_choices(options, roots, tower))}", name)
    config = typed(ModelConfig, OmegaConf.load(files[-1]), prefix=f"{key}.")
    check_tower_family(config.family, tower, name)
    return config


def check_tower_family(family: str, tower: str, name: str) -> None:
    from sweep.config.groups import CONF, group_options, zoo_dir

    modality = TOWER_MODALITY[tower]
    if FAMILIES.get(family).modality != modality:
        roots = [CONF, zoo_dir()]
        fitting = ", ".join(tower_choices(group_options("model", roots) or [], roots, tower))
        message = f"{name} (family {family}) reads {FAMILIES.get(family).modality}; the {tower} tower must read {modality}: {fitting}"
        raise ConfigError(f"model.{tower}", message, name)


def tower_choices(options: list[str], roots: list[Path], tower: str) -> list[str]:
    """The model files whose family reads the tower's modality."""
    from omegaconf import OmegaConf

    fitting = []
    for option in options:
        path = next(root_dir / "model" / f"{option}.yaml" for root_dir in roots if (root_dir / "model" / f"{option}.yaml").exists())
        family = OmegaConf.load(path).get("family", "encoder")
        if family in FAMILIES.names() and FAMILIES.get(family).modality == TOWER_MODALITY[tower]:
            fitting.append(option)
    return fitting


def load_tower(root, config: ModelConfig, tower: str, cache_dir: Path):
    """(backbone, processor, pooling) of one tower, fresh from its source or a kept run's backbone."""
    from sweep.data.pipelines import pipeline_for
    from sweep.zoo.loader import load_backbone

    if config.source.startswith("runs:/"):
        from sweep.tracking.saved_models import load_saved_classifier
        from sweep.tracking.store import tracking_uri

        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        try:
            kept, processor, metadata = load_saved_classifier(config.source, uri, cache_dir, headless_ok=True)
        except ConfigError as error:  # named by the tower's key, not model.source
            why = error.message
            if "a kept dual encoder" in why:
                why = "a kept dual encoder, not one tower: evaluate or train it on with model=saved model.source=<it>"
            raise ConfigError(f"model.{tower}", why, config.source) from None
        check_tower_family(metadata["family"], tower, config.source)
        config.family = metadata["family"]
        return kept.backbone.train(), processor, metadata.get("pooling") or FAMILIES.get(config.family).pooling
    pipeline = pipeline_for(config.family)
    processor = pipeline.load_processor(config, cache_dir)
    backbone = load_backbone(config, cache_dir, **pipeline.backbone_options(processor))
    return backbone, processor, config.pooling or FAMILIES.get(config.family).pooling


def build_dual(job: JobConfig, sources=None):
    import pytorch_lightning as pl

    from sweep.data.image_text_pairs import encode_pairs, pair_loader
    from sweep.data.pipelines import pad_id
    from sweep.data.tasks import load_splits
    from sweep.models.dual_encoder import DualEncoder, tower
    from sweep.pipeline.built import Built
    from sweep.pipeline.fingerprint import data_digest
    from sweep.strategies import STRATEGIES
    from sweep.strategies.base import freeze
    from sweep.tracking.saved_models import is_saved_source

    root = job.root
    cache_dir = Path(root.paths.cache_dir)
    strategy = STRATEGIES.get(job.strategy.name)(job.strategy)
    kept = is_saved_source(root.model.source)
    configs = {} if kept else {name: tower_config(root, name) for name in ("vision", "text")}  # bad names before any data
    timings: dict[str, float] = {}

    start = time.perf_counter()
    splits = load_splits(root.task)
    timings["load_data_s"] = time.perf_counter() - start
    digest = data_digest(splits)

    start = time.perf_counter()
    pl.seed_everything(root.seed, verbose=False)
    if kept:
        from sweep.tracking.saved_dual import load_dual
        from sweep.tracking.store import tracking_uri

        model, processors, configs = load_dual(root.model.source, tracking_uri(root.tracking.uri, root.paths.output_dir), cache_dir)
    else:
        towers, processors = {}, {}
        for name, config in configs.items():
            # each tower from the seed alone, as a kept model's frozen random tower is rebuilt (saved_models._base_backbone)
            pl.seed_everything(root.seed, verbose=False)
            backbone, processors[name], pooling = load_tower(root, config, name, cache_dir)
            towers[name] = tower(backbone, root.model.projection_dim, pooling)
        model = DualEncoder(towers["vision"], towers["text"], root.model.temperature)
    tuned = strategy.towers if strategy.towers is not None else tuple(root.model.tuned_towers)
    for name, part in model.towers.items():
        if name in tuned:
            tower_strategy(job, strategy, name).apply(part, processors[name])
        else:
            freeze(part.backbone)
    model.train()
    timings["load_model_s"] = time.perf_counter() - start

    start = time.perf_counter()
    image_processor, tokenizer = processors["vision"], processors["text"]
    encoded, hits = {}, 0
    for name in ("train", "val", "test"):
        encoded[name], hit = encode_pairs(getattr(splits, name), image_processor, tokenizer, root.task.max_length, cache_dir)
        hits += hit
    timings["tokenize_s"], timings["token_cache_hits"] = time.perf_counter() - start, hits
    teacher_extras, teacher_metrics = {}, {}
    if sources is not None and sources.teacher is not None:  # strategy=distill: a larger dual encoder's similarities
        from sweep.pipeline.dual_teacher import teach_dual

        teacher_extras, teacher_metrics, teacher_timings = teach_dual(
            sources, splits, root.task.max_length, root.optim.eval_batch_size, cache_dir
        )
        timings.update(teacher_timings)
    pad, optim = pad_id(tokenizer), root.optim
    start = time.perf_counter()
    extras = frozen_tower_features(model, encoded, pad, optim.eval_batch_size)
    timings["frozen_features_s"] = time.perf_counter() - start
    extras["train"].update(teacher_extras)
    for name in ("val", "test"):
        extras[name]["example"] = np.arange(len(encoded[name]))
    loaders = {
        "train": pair_loader(encoded["train"], pad, optim.batch_size, extras["train"], seed=root.seed),
        "val": pair_loader(encoded["val"], pad, optim.eval_batch_size, extras["val"]),
        "test": pair_loader(encoded["test"], pad, optim.eval_batch_size, extras["test"]) if len(encoded["test"]) else None,
    }
    return Built(
        job=job,
        model=model,
        tokenizer=tokenizer,
        strategy=strategy,
        label_names=splits.label_names,
        loaders=loaders,
        sizes={name: len(split) for name, split in encoded.items()},
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        timings=timings,
        data_digest=digest,
        teacher_metrics=teacher_metrics,
        sources=sources,
        head="dual",
        processors=processors,
        tower_configs=configs,
        prompts=prompt_tokens(splits.label_names, root.task.zeroshot_prompt, tokenizer, root.task.max_length),
    )


def frozen_tower_features(model, encoded: dict, pad: int, batch_size: int) -> dict[str, dict[str, np.ndarray]]:
    """Per split, each frozen tower's pooled output of every row (``<tower>_features``), computed once in eval mode:
    its backbone never changes, so each epoch reads them instead of running it (the projections alone train there).
    As strategy=feature's cached features for one model, without the disk cache (a split of 600 pairs takes seconds)."""
    import torch

    from sweep.data.image_text_pairs import pair_loader

    inputs = {"vision": ("pixel_values",), "text": ("input_ids", "attention_mask")}
    frozen = [name for name, part in model.towers.items() if not any(p.requires_grad for p in part.backbone.parameters())]
    out = {name: {} for name in encoded}
    for tower in frozen:
        part = model.towers[tower].eval()
        with torch.no_grad():
            for split, pairs in encoded.items():
                rows = [part.features(**{k: batch[k] for k in inputs[tower]}).float() for batch in pair_loader(pairs, pad, batch_size)]
                out[split][f"{tower}_features"] = torch.cat(rows).numpy() if rows else np.zeros((0, 1), np.float32)
        part.train()
    return out


def tower_strategy(job: JobConfig, strategy, tower: str):
    """The strategy as one tower runs it: with ``model.tower_freeze_depth.<tower>`` where that is set (partial)."""
    import dataclasses

    from sweep.strategies import STRATEGIES

    depth = job.root.model.tower_freeze_depth.get(tower)
    if depth is None:
        return strategy
    return STRATEGIES.get(job.strategy.name)(dataclasses.replace(job.strategy, freeze_depth=depth))


def prompt_tokens(label_names: list[str], template: str, tokenizer, max_length: int) -> dict:
    """Each class's prompt, tokenized and padded: [classes, length] input_ids and attention_mask."""
    prompts = [template.replace("{label}", name) for name in label_names]
    encoded = tokenizer(prompts, padding=True, truncation=True, max_length=max_length, return_tensors="pt", return_token_type_ids=False)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
