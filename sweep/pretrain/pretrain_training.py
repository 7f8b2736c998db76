"""Train a pre-training model with a Lightning Trainer, logging every validation into its MLflow run.

The pieces of fine-tuning's loop (sweep/pipeline/train.py) that carry over: the run logger that never ends the
run, the validation plan, best-weight restoring (the kept backbone is the best validation's), early
stopping, precision and peak memory.
"""

from __future__ import annotations

import time

from lightning_modules.language_modeling import LanguageModelingModule
from lightning_modules.schedule import Schedule
from sweep.pipeline.optim import param_groups
from sweep.pipeline.train import TrainResult, make_trainer
from sweep.runtime.console import quiet_libraries


def fit(prepared, tracking_uri: str | None = None, run_id: str | None = None) -> TrainResult:
    quiet_libraries()
    root = prepared.root
    cfg, optim = root.trainer, root.optim
    module = LanguageModelingModule(
        prepared.model,
        param_groups=param_groups(prepared.model, optim),
        schedule=Schedule(optim.lr, optim.warmup_ratio, optim.scheduler),
        shift_labels=prepared.objective.shift_labels,
    )
    trainer, _, best, memory, precision = make_trainer(cfg, len(prepared.loaders["train"]), tracking_uri, run_id)
    start = time.perf_counter()
    trainer.fit(module, prepared.loaders["train"], prepared.loaders["val"])
    train_time = time.perf_counter() - start
    if best.best is None:
        raise RuntimeError(f"trainer.monitor={cfg.monitor} was never logged; logged: {', '.join(sorted(trainer.callback_metrics))}")
    metrics = {f"best_{cfg.monitor}": best.best, "train_time_s": train_time, "optimizer_steps": trainer.global_step}
    metrics.update({f"best_{key}": value for key, value in best.at_best.items() if key != cfg.monitor})
    metrics.update(memory.metrics())
    return TrainResult(best.best, best.best_step, trainer.global_step, precision, metrics=metrics, at_best=best.at_best)
