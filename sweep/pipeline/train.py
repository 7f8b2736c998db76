"""Train, validate and test one built job with a Lightning Trainer, logging into its MLflow run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import psutil
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from pytorch_lightning.loggers import MLFlowLogger

from lightning_modules.callbacks import RestoreBestWeights
from lightning_modules.classification import SequenceClassificationModule
from lightning_modules.schedule import Schedule
from lightning_modules.validation import ValidationPlan, ValidationSchedule
from sweep.pipeline.built import Built
from sweep.pipeline.optim import param_groups
from sweep.runtime.console import interactive, quiet_libraries


class RunLogger(MLFlowLogger):
    """Lightning's MLflow logger writing into a run the job opened (with its parent and tags).

    It must not end the run: the job ends it with its real final state (finished, failed, pruned).
    """

    def finalize(self, status: str = "success") -> None:
        pass


class PeakMemory(pl.Callback):
    """Peak resident memory of this job (sampled per batch), and peak CUDA memory on a GPU.

    Per job, unlike the process's ru_maxrss, which an in-process sweep shares among all its jobs.
    """

    def __init__(self):
        self.peak_rss = 0
        self.process = psutil.Process()

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._sample()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sample()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._sample()

    def metrics(self) -> dict[str, float]:
        out = {"peak_memory_mb": self.peak_rss / 2**20}
        if torch.cuda.is_available():
            out["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return out


@dataclass
class TrainResult:
    monitored: float  # best value of the monitored validation metric
    best_step: int | None
    steps: int
    precision: str  # what trainer.precision resolved to on this machine
    metrics: dict[str, float] = field(default_factory=dict)  # logged on the run at its end
    last: dict[str, float] = field(default_factory=dict)  # the last train/val values (already logged)
    at_best: dict[str, float] = field(default_factory=dict)  # every val/* metric at the best step
    examples: dict = field(default_factory=dict)  # "val" (the best validation's) and "test": per-example tables


def precision_arguments(precision: str, accelerator: str) -> dict:
    """Trainer arguments for a resolved precision: bf16 goes through our plugin, which clips a fused optimizer."""
    if precision != "bf16-mixed":
        return {"precision": precision}
    from lightning_modules.precision import BF16MixedPrecision
    from sweep.runtime.hardware import device_type

    return {"plugins": [BF16MixedPrecision(device_type(accelerator))]}


def objective_for(built: Built):
    """The task type's loss and metrics (under a teacher, its distillation), or per sub-task for multi-task training."""
    from lightning_modules.objectives import MultiTask

    root = built.job.root
    if built.sub_task_types is not None:  # classification and token classification sub-tasks side by side
        from lightning_modules.mixed_multitask import MixedMultiTask

        kinds = ["tokens" if kind == "token_classification" else "pooled" for kind in built.sub_task_types]
        ends = np.cumsum(built.task_label_counts)
        labels = [[name.split("/", 1)[1] for name in built.label_names[end - n : end]] for n, end in zip(built.task_label_counts, ends)]
        return MixedMultiTask(built.task_names, kinds, labels)
    distill = root.distill if built.job.teacher is not None else None
    if built.head == "generate":  # one language model; several generation sub-tasks are scored each and on average
        return built.task_type.objective(built.label_names, built.fitted, root.task, distill, task_names=built.task_names)
    if built.task_names is not None:
        return MultiTask(built.task_names, built.task_label_counts)
    return built.task_type.objective(built.label_names, built.fitted, root.task, distill)


def module_for(built: Built) -> SequenceClassificationModule:
    """The LightningModule of the job's head: one loop for every classifier; generation's also generates."""
    root = built.job.root
    schedule = Schedule(root.optim.lr, root.optim.warmup_ratio, root.optim.scheduler)
    if built.head == "dual":  # two towers; the class prompts embedded before each evaluation (zero-shot accuracy)
        from lightning_modules.image_text import DualEncoderModule
        from sweep.pipeline.optim import dual_param_groups

        groups = dual_param_groups(built.model, root.optim, dict(root.model.lr_scale))
        return DualEncoderModule(built.model, objective_for(built), groups, schedule, prompts=built.prompts)
    parts = (built.model, objective_for(built), param_groups(built.model, root.optim), schedule)
    if built.head == "generate":
        from lightning_modules.generation import GenerationModule
        from sweep.data.generation_tokens import end_of_sequence
        from sweep.data.pipelines import pad_id

        ends = {"eos_id": end_of_sequence(built.tokenizer), "pad_id": pad_id(built.tokenizer)}
        return GenerationModule(
            *parts, tokenizer=built.tokenizer, generate=root.task.generate, **ends, batch_size=root.optim.eval_batch_size
        )
    return SequenceClassificationModule(*parts)


def make_trainer(cfg, train_batches: int, tracking_uri: str | None, run_id: str | None, callbacks: list | None = None):
    """The Lightning Trainer of a fit (also sweep.pretrain's): validations on the plan, best weights restored,
    early stopping, peak memory, the resolved precision, logging into the job's open run.
    Returns (trainer, validation schedule, best-weights callback, peak memory callback, precision)."""
    from sweep.runtime.hardware import resolve_precision

    schedule = ValidationSchedule(ValidationPlan.for_budget(train_batches, cfg.max_epochs, cfg.max_steps, cfg.val_check_interval))
    best = RestoreBestWeights(cfg.monitor, cfg.mode, restore=cfg.restore_best)
    memory = PeakMemory()
    all_callbacks = [schedule, best, memory, *(callbacks or [])]
    if cfg.early_stopping_patience is not None:
        all_callbacks.append(EarlyStopping(cfg.monitor, mode=cfg.mode, patience=cfg.early_stopping_patience))
    precision = resolve_precision(cfg.precision, cfg.accelerator)
    trainer = pl.Trainer(
        max_epochs=cfg.max_epochs,
        max_steps=cfg.max_steps,
        **schedule.trainer_arguments(),
        **precision_arguments(precision, cfg.accelerator),
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        # our samplers group rows by length or yield whole batches, which Lightning's distributed sampler
        # would undo; under DDP sweep.data.shards gives each rank its share of the batches instead
        use_distributed_sampler=False,
        gradient_clip_val=cfg.gradient_clip_val or None,
        log_every_n_steps=cfg.log_every_n_steps,
        logger=RunLogger(tracking_uri=tracking_uri, run_id=run_id) if run_id else False,
        callbacks=all_callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=interactive(),
        num_sanity_val_steps=0,
    )
    return trainer, schedule, best, memory, precision


def train(built: Built, tracking_uri: str | None = None, run_id: str | None = None, callbacks: list | None = None) -> TrainResult:
    quiet_libraries()
    root = built.job.root
    cfg = root.trainer
    module = module_for(built)
    callbacks = [*(callbacks or []), *built.strategy.training_callbacks(built.model)]
    trainer, schedule, best, memory, precision = make_trainer(cfg, len(built.loaders["train"]), tracking_uri, run_id, callbacks)
    from sweep.distributed.launcher import ranks_of

    with ranks_of(trainer, root) as place:  # under DDP: the other ranks started (from rank 0), cleaned up after
        train_loader = built.loaders["train"]
        if place.distributed:
            train_loader = shard_training(train_loader, place, schedule, trainer, cfg)
        start = time.perf_counter()
        if cfg.fit:
            trainer.fit(module, train_loader, built.loaders["val"])
        else:  # evaluate only (a kept model): one validation stands for the best step, then the test
            trainer.validate(module, built.loaders["val"], verbose=False)
        train_time = time.perf_counter() - start
        if best.best is None:
            raise RuntimeError(f"trainer.monitor={cfg.monitor} was never logged; logged: {', '.join(sorted(trainer.callback_metrics))}")

        metrics = {f"best_{cfg.monitor}": best.best, "train_time_s": train_time, "optimizer_steps": trainer.global_step}
        metrics["warmup_steps"] = module.warmup_steps
        metrics["world_size"] = trainer.world_size  # processes that trained it (DDP ranks)
        if cfg.fit and cfg.restore_best:  # the tested weights are the best validation's: so is what it calibrated there
            module.objective.adopt(best.at_best)
        # read before testing: Lightning clears callback_metrics when trainer.test starts
        logged = trainer.callback_metrics
        last = {key.removesuffix("_epoch"): float(value) for key, value in logged.items() if key.startswith(("train/", "val/"))}
        if built.loaders["test"] is not None:
            tested = trainer.test(module, built.loaders["test"], verbose=False)[0]
            metrics.update({key: float(value) for key, value in tested.items()})
    metrics.update(memory.metrics())
    examples = {"val": best.examples_at_best, "test": module.example_tables.get("test")}
    examples = {stage: table for stage, table in examples.items() if table is not None}
    return TrainResult(
        best.best, best.best_step, trainer.global_step, precision, metrics=metrics, last=last, at_best=best.at_best, examples=examples
    )


def shard_training(loader, place, schedule: ValidationSchedule, trainer: pl.Trainer, cfg):
    """This DDP rank's share of the training batches (sweep/data/shards.py), and the validation plan of
    that many batches an epoch: every rank validates, and stops, at the same steps."""
    from sweep.data.shards import sharded

    share = sharded(loader, place.rank, place.world_size)
    if len(share) == 0:
        raise ValueError(f"{len(loader)} training batch(es) cannot be shared by {place.world_size} processes: lower optim.batch_size")
    schedule.replan(trainer, ValidationPlan.for_budget(len(share), cfg.max_epochs, cfg.max_steps, cfg.val_check_interval))
    return share
