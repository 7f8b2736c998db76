"""One pre-training job, start to end: validate, build, open its MLflow run, train, keep the backbone.

Same order and guarantees as a fine-tuning job (sweep/pipeline/job.py): everything that can fail on bad input
happens before the run opens (exit 2, nothing recorded); once open, the run always ends with the truth
(finished, failed, or interrupted by Ctrl-C / SIGTERM). The kept model is the backbone as the family's
``take_backbone`` sees it, in sweep/tracking/saved_models.py's format without a head, so ``sweep.run`` loads it with
``model.source=runs:/<run_id>/model`` (and by the zoo name ``pretrain.save_as``) and adds a fresh head.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from sweep.pretrain.pretrain_config import PretrainRoot, validate_pretrain

log = logging.getLogger("sweep")


@dataclass
class Prepared:
    root: PretrainRoot
    objective: object  # PretrainObjective
    model: object  # the transformers model the objective trains (head included)
    tokenizer: object
    loaders: dict
    sizes: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    fresh_weights: int = 0  # tensors the source did not have (an MLM head on MiniLM): initialised fresh


def prepare(cfg: DictConfig) -> tuple[Prepared, str]:
    from sweep.pretrain.objectives import OBJECTIVES
    from sweep.runtime.console import quiet_libraries
    from sweep.tracking.store import check_reachable, tracking_uri

    root = validate_pretrain(cfg)
    uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
    check_reachable(uri)
    quiet_libraries()
    objective = OBJECTIVES.get(root.pretrain.objective)
    timings: dict[str, float] = {}
    make_model, make_loaders = preparers()[objective.modality]
    start = time.perf_counter()
    model, tokenizer, fresh = make_model(root, objective)
    timings["load_model_s"] = time.perf_counter() - start
    start = time.perf_counter()
    loaders, sizes, hits = make_loaders(root, objective, tokenizer)
    timings.update(tokenize_s=time.perf_counter() - start, token_cache_hits=hits)
    return Prepared(root, objective, model, tokenizer, loaders, sizes, timings, fresh), uri


def preparers() -> dict:
    """modality -> (build the objective's model and its processor, build its loaders)."""
    from sweep.pretrain.image_objectives import build_image_loaders, build_image_model

    return {"text": (build_model, build_loaders), "image": (build_image_model, build_image_loaders)}


def build_model(root: PretrainRoot, objective):
    """The objective's model on ``model.source``: from its config (random:) or its weights; what the
    source lacks (MiniLM has no MLM head) is initialised fresh, and said so."""
    import pytorch_lightning as pl
    import transformers
    from transformers import AutoConfig

    from sweep.config.errors import ConfigError
    from sweep.zoo.loader import load_tokenizer, resolve_source

    model_cfg, cache_dir = root.model, Path(root.paths.cache_dir)
    tokenizer = objective.prepare_tokenizer(load_tokenizer(model_cfg, cache_dir))
    auto = getattr(transformers, objective.auto_class)
    path = resolve_source(model_cfg.source, "model.source", cache_dir)
    pl.seed_everything(root.seed, verbose=False)
    fresh = []
    try:
        if path is None:
            config = AutoConfig.for_model(
                model_cfg.source.partition(":")[2], **{"vocab_size": len(tokenizer), **model_cfg.config_overrides}
            )
            model = auto.from_config(config)
        else:
            config = AutoConfig.from_pretrained(path, trust_remote_code=False, **model_cfg.config_overrides)
            model, info = auto.from_pretrained(
                path, config=config, trust_remote_code=False, use_safetensors=True, dtype="float32", output_loading_info=True
            )
            fresh = sorted(info["missing_keys"])
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(
            "model.source", f"cannot build a {objective.auto_class} from it: {str(e).splitlines()[0]}", model_cfg.source
        ) from None
    if fresh:
        log.info("%s: %d tensors not in the checkpoint, initialised fresh: %s", model_cfg.source, len(fresh), ", ".join(fresh[:6]))
    if model.get_input_embeddings().num_embeddings < len(tokenizer):  # sentinels added to a smaller vocabulary
        model.resize_token_embeddings(len(tokenizer))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model.config.pad_token_id = pad
    if model.config.is_encoder_decoder:  # T5 starts decoding from its pad token (our collator shifts with it)
        model.config.decoder_start_token_id = pad
    model.train()
    return model, tokenizer, len(fresh)


def build_loaders(root: PretrainRoot, objective, tokenizer) -> tuple[dict, dict, int]:
    """Token rows of the task's texts (labels ignored; cached, sweep/data/tokens.py), in length-grouped
    training batches; validation batches made once, so every validation sees the same masks."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from sweep.data.loaders import TokenDataset
    from sweep.data.tasks import load_splits
    from sweep.data.tokens import tokenize, tokenizer_fingerprint

    splits = load_splits(root.task)
    tokenizer_id = tokenizer_fingerprint(tokenizer)
    tokenized, hits = {}, 0
    for name in ("train", "val"):
        texts = getattr(splits, name).inputs
        tokenized[name], hit = tokenize(
            texts, np.zeros(len(texts), np.int64), tokenizer, root.task.max_length, Path(root.paths.cache_dir), tokenizer_id
        )
        hits += hit
    optim = root.optim
    train = tokenized["train"]
    sampler = LengthGroupedSampler(optim.batch_size, lengths=train.lengths.tolist(), generator=torch.Generator().manual_seed(root.seed))
    collate = objective.collator(tokenizer, root.pretrain, root.seed)
    train_loader = DataLoader(TokenDataset(train), batch_size=optim.batch_size, sampler=sampler, collate_fn=collate)
    val = TokenDataset(tokenized["val"])
    order = np.argsort(tokenized["val"].lengths, kind="stable")  # sorted: the least padding
    val_collate = objective.collator(tokenizer, root.pretrain, root.seed + 1)
    step = optim.eval_batch_size
    val_batches = [val_collate([val[int(i)] for i in order[start : start + step]]) for start in range(0, len(order), step)]
    loaders = {"train": train_loader, "val": DataLoader(val_batches, batch_size=None)}
    return loaders, {"train": len(train), "val": len(val)}, hits


def run_pretrain(cfg: DictConfig) -> str:
    """Pre-train; returns the run id. ConfigError on bad input (nothing recorded); other errors re-raised
    after the run recorded them."""
    from sweep.pipeline.job import JobContext, describe, state_of
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.orphans import close_orphans
    from sweep.tracking.store import client_and_experiment, ui_hint

    prepared, uri = prepare(cfg)
    root = prepared.root
    context = JobContext.from_hydra()
    client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
    close_orphans(client, experiment_id)
    objective = root.pretrain.objective
    tags = {
        "model": root.model.name,
        "task": root.task.name,
        "model.source": root.model.source,
        "objective": objective,
        "sweep.kind": "pretrain",
    }
    if context.job_number is not None:
        tags["sweep.job"] = str(context.job_number)
    name = root.tracking.run_name or f"{root.model.name}-pretrain-{objective}"
    from sweep.config.schema import job_container

    run = JobRun.open(client, experiment_id, name, tags, job_container(cfg), context.parent_run_id)
    try:
        sizes = {f"data_{key}_rows": value for key, value in prepared.sizes.items()}
        timings = {f"prepare_{key}": value for key, value in prepared.timings.items()}
        params = sum(p.numel() for p in prepared.model.parameters())
        run.log_metrics({**sizes, **timings, "params_total": params, "fresh_tensors": prepared.fresh_weights})
        from sweep.pretrain.pretrain_training import fit

        result = fit(prepared, uri, run.run_id)
        run.log_metrics(result.metrics, step=result.steps)
        keep(run, prepared)
        if root.pretrain.save_as:
            from sweep.pretrain.zoo_names import write_zoo_name

            path = write_zoo_name(root.pretrain.save_as, run.run_id, root)
            run.set_tags({"zoo.name": root.pretrain.save_as})
            log.info("zoo name %s -> runs:/%s/model (%s)", root.pretrain.save_as, run.run_id, path)
    except BaseException as error:
        run.finish(state_of(error), error=describe(error), traceback=traceback.format_exc()[-4000:])
        raise
    run.finish("finished", best_step=result.best_step, precision=result.precision)
    log.info(
        "result %s: best %s=%.4f  train %.1fs  run %s",
        name,
        root.trainer.monitor,
        result.monitored,
        result.metrics["train_time_s"],
        run.run_id,
    )
    print(f"kept: model.source=runs:/{run.run_id}/model", flush=True)
    print(ui_hint(uri), flush=True)
    return run.run_id


def keep(run, prepared: Prepared) -> None:
    """The trained backbone as the run's ``model`` artifact (sweep/tracking/saved_models.py, headless)."""
    from sweep.data.pipelines import pipeline_for
    from sweep.models.families import FAMILIES
    from sweep.tracking.kept_models import upload_model
    from sweep.tracking.saved_models import LANGUAGE_MODEL, write_backbone

    root = prepared.root
    model = root.model
    family = FAMILIES.get(model.family)
    # a decoder's or encoder-decoder's whole language model, its LM head (and a T5's decoder) included: a
    # generation job starts from all of it, a classifier reads its backbone part (sweep/tracking/saved_models.py)
    whole = family.generates is not None
    backbone = prepared.model if whole else family.take_backbone(prepared.model.base_model)
    base = {"name": model.name, "source": model.source, "tokenizer": model.tokenizer, "config_overrides": dict(model.config_overrides)}
    metadata = {
        "objective": root.pretrain.objective,
        "base": base,
        "family": model.family,
        "task": root.task.name,
        "seed": root.seed,
        "vocab_size": pipeline_for(model.family).backbone_options(prepared.tokenizer).get("vocab_size"),  # None: images
        "run_id": run.run_id,
        "pooling": model.pooling or family.pooling,
        "hidden_size": backbone.config.hidden_size,
        "dropout": model.dropout,
        LANGUAGE_MODEL: whole,
    }
    upload_model(run, lambda folder: write_backbone(folder, backbone, prepared.tokenizer, metadata))
