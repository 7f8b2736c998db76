"""Frozen work done once (issue 10, item 3): the feature cache, and partial fine-tuning's frozen prefix cache.

- ``feature_cache``: an epoch of the `feature` strategy on its cached pooled features (the head alone)
  against the same epoch recomputing the frozen backbone's forward, goal >= 10x faster.
- ``partial_prefix``: epoch time of `partial` on MiniLM-L6 for every freeze_depth 0..6, with the frozen
  prefix cache (after the epoch that fills it) and without; the cost should fall with the frozen share.

Both through the job's own build (sweep.pipeline.build: the product's loaders, model and strategy), a plain
training loop (fused AdamW, as the job's), in bf16 autocast where the CPU has it (trainer.precision=auto).
"""

from __future__ import annotations

import contextlib
import time

from tests.benchmarks.suite import Figure, Settings, benchmark, interleaved, same_work

TOKENS = ("input_ids", "attention_mask")


def _job(settings: Settings, *overrides: str):
    from sweep.pipeline.build import build
    from sweep.pipeline.validate import validate
    from tests.benchmarks.bench_data_path import compose

    rows = ["task.train_size=96", "task.val_size=32"] if settings.quick else ["task.train_size=1000"]
    return build(validate(compose(*rows, "task.test_size=0", f"paths.cache_dir={settings.work / 'cache'}", *overrides)))


def _autocast():
    import torch

    from sweep.runtime.hardware import resolve_precision

    bf16 = resolve_precision("auto", "cpu").startswith("bf16")  # what trainer.precision=auto picks here
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def _epoch(model, loader, inputs: tuple[str, ...]) -> tuple[float, int]:
    """Seconds and optimizer steps of one training epoch over ``loader``."""
    import torch

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5, fused=True)
    steps, start = 0, time.perf_counter()
    for batch in loader:
        with _autocast():
            logits = model(**{name: batch[name] for name in inputs})
        torch.nn.functional.cross_entropy(logits.float(), batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad()
        steps += 1
    return time.perf_counter() - start, steps


def _compare(a, a_inputs, b, b_inputs, repeats: int) -> tuple[float, float, float]:
    """Epochs of built jobs ``a`` and ``b`` interleaved: medians and the ratio b / a; the same steps checked."""
    steps = {}

    def epoch_of(built, inputs, side):
        def run() -> float:
            seconds, steps[side] = _epoch(built.model, built.loaders["train"], inputs)
            return seconds

        return run

    measured = interleaved(epoch_of(a, a_inputs, "a"), epoch_of(b, b_inputs, "b"), repeats)
    same_work("optimizer steps", steps["a"], steps["b"])
    same_work("training rows", a.sizes["train"], b.sizes["train"])
    return measured


@benchmark("feature_cache")
def feature_cache(settings: Settings) -> list[Figure]:
    cached = _job(settings, "model=minilm_l6", "strategy=feature")  # features computed (or read) at build
    again = _job(settings, "model=minilm_l6", "strategy=feature")
    recomputed = _job(settings, "model=minilm_l6", "strategy=full")  # the token loaders of the same rows
    for param in recomputed.model.backbone.parameters():
        param.requires_grad_(False)  # the feature strategy's model, but its backbone runs every step
    fast, slow, speedup = _compare(again, ("features",), recomputed, TOKENS, settings.repeats)
    steps = len(again.loaders["train"])
    return [
        Figure("feature_cache", "features computed once, then read (first job's build)", cached.timings["features_s"], "s",
               detail=f"cache hits {int(cached.timings['feature_cache_hits'])} of 3 splits; next job: {again.timings['features_s']:.3f} s"),
        Figure("feature_cache", "feature epoch: recomputed backbone / cached features", speedup, "x", ">= 10x", speedup >= 10,
               f"MiniLM-L6, {again.sizes['train']} rows, {steps} steps: {slow:.2f} s vs {fast:.3f} s"),
    ]  # fmt: skip


@benchmark("partial_prefix")
def partial_prefix(settings: Settings) -> list[Figure]:
    from sweep.models import frozen_prefix

    depths = [3] if settings.quick else list(range(7))
    figures, baseline = [], None
    for depth in depths:
        frozen_prefix.STORES.clear()
        cached = _job(settings, "model=minilm_l6", "strategy=partial", f"strategy.freeze_depth={depth}")
        plain = _job(settings, "model=minilm_l6", "strategy=partial", f"strategy.freeze_depth={depth}", "strategy.cache_prefix=false")
        same_work("trainable parameters", cached.trainable_params, plain.trainable_params)
        first, _ = _epoch(cached.model, cached.loaders["train"], TOKENS)  # fills the cache
        fast, slow, ratio = _compare(cached, TOKENS, plain, TOKENS, settings.repeats)
        baseline = baseline or slow
        share = (6 - depth) / 6
        figures.append(
            Figure("partial_prefix", f"freeze_depth={depth}: epoch with the prefix cache", fast, "s",
                   detail=f"uncached {slow:.2f} s ({ratio:.2f}x the cached), the epoch that fills it {first:.2f} s; "
                          f"cached = {fast / baseline:.2f} of depth 0's uncached epoch; blocks that train: {share:.2f}")
        )  # fmt: skip
    return figures
