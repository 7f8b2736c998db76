"""Benchmark: does pre-training a ViT on Fashion-MNIST help it on MNIST and digits? Figure (a) of issue 8.

    python tests/benchmarks/bench_vision.py [--pretrain-epochs 3] [--epochs 3] [--dir DIR]

``vit_small`` (6 blocks, hidden 192, 28x28 grey in 7x7 patches) pre-trained by supervised image
classification on Fashion-MNIST (10,000 training images; ``python -m sweep.pretrain
pretrain.objective=image_classification pretrain.save_as=vit_small_fmnist``), then fine-tuned with every
strategy a ViT runs (full, partial, lora, feature; prompt tuning is refused for ViTs) on ``mnist``
(3,500 train / 500 val / 1,000 test) and ``digits`` (1,197 / 300 / 300, 8x8 resized to 28x28), against
the same model fine-tuned from its random initialisation on the same data, same lr and epochs.
Everything through the real CLIs; results read back from the MLflow store. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli, cpu, runs  # noqa: E402  (a script beside its helpers)

STRATEGIES = ("full", "partial", "lora", "feature")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", default="1e-3")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    cwd = args.dir or Path(tempfile.mkdtemp(prefix="bench-vision-"))
    cwd.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu()}\nworking in {cwd}", flush=True)

    common = ["trainer.early_stopping_patience=null", f"optim.lr={args.lr}"]
    cli(
        "sweep.pretrain",
        "model=vit_small",
        "task=fashion_mnist",
        "pretrain.objective=image_classification",
        "pretrain.save_as=vit_small_fmnist",
        f"trainer.max_epochs={args.pretrain_epochs}",
        "trainer.monitor=val/acc",
        "trainer.mode=max",
        *common,
        cwd=cwd,
    )
    for task in ("mnist", "digits"):
        grid = ["-m", "model=vit_small,vit_small_fmnist", f"strategy={','.join(STRATEGIES)}", f"task={task}"]
        cli("sweep.run", *grid, f"trainer.max_epochs={args.epochs}", "tracking.save_model=never", *common, cwd=cwd)

    found = runs(cwd)
    pretrain = next(r for r in found if r.data.tags.get("sweep.kind") == "pretrain")
    metrics = pretrain.data.metrics
    summary = f"val/acc {metrics.get('best_val/acc', float('nan')):.4f}, {metrics.get('train_time_s', float('nan')):.0f} s"
    print(f"\npre-training: vit_small on fashion_mnist, {args.pretrain_epochs} epochs: {summary}\n")
    print(
        "| task | strategy | from scratch: test acc | pre-trained on Fashion-MNIST: test acc | difference | s/epoch scratch / pre-trained |"
    )
    print("|---|---|---|---|---|---|")
    for task in ("mnist", "digits"):
        for strategy in (*STRATEGIES, "prompt"):
            if strategy == "prompt":
                print(f"| {task} | prompt | refused at compose time (PEFT prompt tuning feeds inputs_embeds; a ViT takes pixels) | | | |")
                continue
            pick = {
                r.data.tags["model"]: r
                for r in found
                if r.data.tags.get("task") == task and r.data.tags.get("strategy") == strategy and r.data.tags.get("state") == "finished"
            }
            scratch, pre = pick.get("vit_small"), pick.get("vit_small_fmnist")
            if scratch is None or pre is None:
                print(f"| {task} | {strategy} | missing | missing | | |")
                continue
            a, b = scratch.data.metrics["test/acc"], pre.data.metrics["test/acc"]
            epoch = [r.data.metrics["train_time_s"] / args.epochs for r in (scratch, pre)]
            print(f"| {task} | {strategy} | {a:.4f} | {b:.4f} | {b - a:+.4f} | {epoch[0]:.1f} / {epoch[1]:.1f} |")


if __name__ == "__main__":
    main()
