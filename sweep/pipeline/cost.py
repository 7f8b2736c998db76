"""A job's training cost, estimated before it starts: optimizer steps, FLOPs and seconds.

Why: full fine-tuning of a 135M decoder costs tens of seconds per step on a laptop CPU; a user should
read what a job will cost in its first log line, not after an hour. The formula is the usual
"6 x parameters x tokens" (Kaplan et al. 2020) taken apart, so that frozen parameters count honestly:

    forward         2 * N_matmul * T   every parameter the forward pass multiplies with, frozen or not
    backward, acts  2 * N_above  * T   activation gradients, through the parameters from the lowest
                                       trainable one up (all of them for LoRA and prompt tuning; the
                                       unfrozen top blocks for partial freezing)
    backward, wts   2 * N_train  * T   weight gradients of the trainable matmul parameters
    validation      2 * N_matmul * T_val per validation

N_matmul leaves out embedding tables (a lookup, not a matmul); T counts token positions (rows x their
length: batches are length-bucketed, so padding adds little). Attention's own T^2 term and the optimizer
are left out (small at classification lengths). Full fine-tuning: 6 * N * T. A frozen-feature job trains
the head only, one position per row (its backbone ran once, when the features were cached).
Seconds = FLOPs / the matmul throughput of this machine, measured once per process on one linear layer of
the model's width over a step's positions, forward and backward, in the training precision. Real training
also pays for attention, norms, activations, the optimizer, data loading and (bf16 on CPU) kernels made
for every new batch shape, so the estimate is optimistic; ``estimate.measured_over_estimated`` (logged
after training) says by how much on this machine.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

log = logging.getLogger("sweep")

MEASURE_SECONDS = 0.3  # per process and shape: short beside any training, long enough to find a quiet moment


@dataclass(frozen=True)
class CostEstimate:
    steps: int  # optimizer steps
    train_positions: int  # token positions trained on, over all steps
    train_flops: float
    eval_flops: float  # the validations during fit
    flops_per_s: float  # measured matmul throughput in the training precision
    full_step_seconds: float  # one step of full fine-tuning of this model, for comparison

    @property
    def seconds(self) -> float:
        return (self.train_flops + self.eval_flops) / self.flops_per_s

    def metrics(self) -> dict[str, float]:
        return {
            "estimate.optimizer_steps": self.steps,
            "estimate.train_positions": self.train_positions,
            "estimate.train_flops": self.train_flops,
            "estimate.eval_flops": self.eval_flops,
            "estimate.matmul_gflops_per_s": self.flops_per_s / 1e9,
            "estimate.fit_seconds": self.seconds,
            "estimate.full_step_seconds": self.full_step_seconds,
        }

    def describe(self) -> str:
        return (
            f"{self.steps} steps over {self.train_positions:,} positions (tokens, or patches + CLS): "
            f"{self.train_flops:.2e} training FLOPs "
            f"+ {self.eval_flops:.2e} validation FLOPs at {self.flops_per_s / 1e9:.0f} GFLOP/s (measured layer) "
            f"= about {self.seconds:.0f} s (optimistic); full fine-tuning would take ~{self.full_step_seconds:.2f} s per step"
        )


def positions_per_row(dataset, backbone=None) -> float | None:
    """Mean positions a row puts through the model: its token count; a ViT's patches + CLS for an image;
    1 for pooled features; None when the dataset does not tell (a dataset type this does not know)."""
    split = getattr(dataset, "split", None)
    lengths = getattr(split, "lengths", None)
    if lengths is not None:
        return float(lengths.mean()) if len(lengths) else 0.0
    if hasattr(dataset, "features"):  # FeatureDataset: the head sees one pooled vector per row
        return 1.0
    config = getattr(backbone, "config", None)
    if getattr(split, "pixels", None) is not None and hasattr(config, "patch_size"):  # images (sweep/data/images.py)
        height, width = split.pixels.shape[-2:]
        return float((height // config.patch_size) * (width // config.patch_size) + 1)
    return None


def virtual_tokens(backbone) -> int:
    """Positions a PEFT prompt-learning wrapper prepends to every row (0 for anything else)."""
    from sweep.models.generator import soft_prompt_tokens

    return soft_prompt_tokens(backbone)


@functools.cache
def matmul_flops_per_second(precision: str, device: str, rows: int, width: int) -> float:
    """Measured once per process and shape: forward and backward of one ``width x width`` linear layer on
    ``rows`` positions (a training step's), under the autocast the training precision uses. The model's
    own shape, not a big square matmul: small matrices run far below peak (bf16 tiles above all)."""
    import torch

    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    layer = torch.nn.Linear(width, width, device=device)
    inputs = torch.randn(rows, width, device=device, requires_grad=True)
    best, spent, repeats = float("inf"), 0.0, 0
    while repeats < 3 or (spent < MEASURE_SECONDS and repeats < 50):  # best of many: resists a busy machine
        start = time.perf_counter()
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = layer(inputs)
        out.float().sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        best, spent, repeats = min(best, took) if repeats else best, spent + took, repeats + 1  # the first only warms up
    return 6 * rows * width * width / best


def parameter_counts(model) -> tuple[int, int, int]:
    """(matmul parameters, trainable matmul parameters, matmul parameters from the lowest trainable one up)."""
    from torch import nn

    from sweep.models.blocks import find_blocks, parameter_depths

    lookups = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    matmul = {name: p for name, p in model.named_parameters() if id(p) not in lookups}
    total = sum(p.numel() for p in matmul.values())
    trainable = sum(p.numel() for p in matmul.values() if p.requires_grad)
    try:  # where the backward pass stops: the depth of the lowest trainable parameter
        depths = {f"backbone.{name}": depth for name, depth in parameter_depths(model.backbone, find_blocks(model.backbone)).items()}
    except Exception:  # no block list: assume gradients flow through everything (full fine-tuning's cost)
        return total, trainable, total
    after = max(depths.values(), default=0) + 1  # the head runs after every backbone parameter
    lowest = min((depths.get(name, after) for name, p in model.named_parameters() if p.requires_grad), default=after)
    above = sum(p.numel() for name, p in matmul.items() if depths.get(name, after) >= lowest)
    return total, trainable, above


def estimate(built, precision: str, device: str) -> CostEstimate | None:
    """The fit's cost, or None when the loaders do not tell how many positions a row has."""
    from lightning_modules.validation import ValidationPlan

    cfg = built.job.root.trainer
    train, val = built.loaders["train"], built.loaders["val"]
    backbone = built.model.backbone
    per_row, per_val_row = positions_per_row(train.dataset, backbone), positions_per_row(val.dataset, backbone)
    if per_row is None or per_val_row is None:
        return None
    plan = ValidationPlan.for_budget(len(train), cfg.max_epochs, cfg.max_steps, cfg.val_check_interval)
    rows_per_step = len(train.dataset) / max(len(train), 1)
    if not built.strategy.frozen_features:  # prompt tuning: its virtual tokens go through every block too
        per_row, per_val_row = per_row + virtual_tokens(built.model.backbone), per_val_row + virtual_tokens(built.model.backbone)
    positions = plan.total_steps * rows_per_step * per_row
    total, trainable, above = parameter_counts(built.model)
    full_step = 6 * total * rows_per_step * per_row  # every matmul parameter trains, gradients through all
    if built.strategy.frozen_features:  # the head alone trains and validates, on pooled features
        total = above = trainable
    train_flops = 2 * (total + above + trainable) * positions
    eval_flops = 2 * total * plan.count * len(val.dataset) * per_val_row
    step_rows = max(64, round(rows_per_step * per_row / 64) * 64)  # rounded: one measurement serves similar jobs
    width = getattr(getattr(built.model.backbone, "config", None), "hidden_size", None) or built.model.head.in_features
    rate = matmul_flops_per_second(precision, device, step_rows, width)
    return CostEstimate(plan.total_steps, round(positions), train_flops, eval_flops, rate, full_step / rate)


def log_estimate(built, precision: str, accelerator: str) -> CostEstimate | None:
    """Estimate and log one INFO line; never fails the job (an estimate is advice, not a check)."""
    from sweep.runtime.hardware import device_type

    if not built.job.root.trainer.fit:
        return None
    if built.head == "dual":  # two towers: the estimate reads one backbone's positions and depths
        log.info("cost estimate skipped: not made for dual encoders")
        return None
    try:
        result = estimate(built, precision, device_type(accelerator))
    except Exception:
        log.warning("cost estimate skipped", exc_info=True)
        return None
    if result is None:
        log.info("cost estimate skipped: the training data does not say how many positions a row has")
    else:
        log.info("estimate: %s", result.describe())
    return result
