"""Benchmark: does pre-training a ViT on Fashion-MNIST help it on MNIST and digits? Figure (a) of issue 8.

    python tests/benchmarks/bench_vision.py [--pretrain-epochs 3] [--epochs 3] [--seeds 42 1 2] [--dir DIR]

``vit_small`` (6 blocks, hidden 192, 28x28 grey in 7x7 patches) pre-trained by supervised image
classification on Fashion-MNIST (all 58,000 training images: conf/pretrain.yaml reads the whole training
split; ``python -m sweep.pretrain pretrain.objective=image_classification pretrain.save_as=vit_small_fmnist``),
then fine-tuned with every
strategy a ViT runs (full, partial, lora, feature; prompt tuning is refused for ViTs) on ``mnist``
(3,500 train / 500 val / 1,000 test) and ``digits`` (1,197 / 300 / 300, 8x8 resized to 28x28), against
the same model fine-tuned from its random initialisation on the same data, same lr and epochs; each
fine-tuning once per seed (initialisation of the head, and of the whole model from scratch; batch order).
Everything through the real CLIs; results read back from the MLflow store. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--report-only", action="store_true", help="print the table of the runs already in --dir")
    args = parser.parse_args()
    cwd = args.dir or Path(tempfile.mkdtemp(prefix="bench-vision-"))
    cwd.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu()}\nworking in {cwd}", flush=True)

    common = ["trainer.early_stopping_patience=null", f"optim.lr={args.lr}"]
    if not args.report_only:
        run_all(args, common, cwd)
    report(args, cwd)


def run_all(args, common: list[str], cwd: Path) -> None:
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
        grid.append(f"seed={','.join(map(str, args.seeds))}")
        cli("sweep.run", *grid, f"trainer.max_epochs={args.epochs}", "tracking.save_model=never", *common, cwd=cwd)


def report(args, cwd: Path) -> None:
    found = runs(cwd)
    pretrain = next(r for r in found if r.data.tags.get("sweep.kind") == "pretrain")
    metrics = pretrain.data.metrics
    summary = f"val/acc {metrics.get('best_val/acc', float('nan')):.4f}, {metrics.get('train_time_s', float('nan')):.0f} s"
    print(f"\npre-training: vit_small on fashion_mnist, {args.pretrain_epochs} epochs: {summary}\n")
    print("| task | strategy | test acc from scratch | pre-trained on Fashion-MNIST | mean difference | s/epoch (scratch / pre-trained) |")
    print("|---|---|---|---|---|---|")
    for task in ("mnist", "digits"):
        for strategy in (*STRATEGIES, "prompt"):
            if strategy == "prompt":
                print(f"| {task} | prompt | refused at compose time (PEFT prompt tuning feeds inputs_embeds; a ViT takes pixels) | | | |")
                continue
            arms = {}
            for model in ("vit_small", "vit_small_fmnist"):
                arms[model] = [
                    r
                    for r in found
                    if r.data.tags.get("model") == model and r.data.tags.get("task") == task and r.data.tags.get("strategy") == strategy
                    and r.data.tags.get("state") == "finished"
                ]  # fmt: skip
            if not all(arms.values()):
                print(f"| {task} | {strategy} | missing | missing | | |")
                continue
            accs = {model: [r.data.metrics["test/acc"] for r in jobs] for model, jobs in arms.items()}
            epoch = [statistics.mean(r.data.metrics["train_time_s"] for r in jobs) / args.epochs for jobs in arms.values()]
            gain = statistics.mean(accs["vit_small_fmnist"]) - statistics.mean(accs["vit_small"])
            print(
                f"| {task} | {strategy} | {mean_sd(accs['vit_small'])} | {mean_sd(accs['vit_small_fmnist'])} | {gain:+.4f} "
                f"| {epoch[0]:.1f} / {epoch[1]:.1f} |"
            )


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (n={len(values)})"


if __name__ == "__main__":
    main()
