"""Dual encoders on image–text tasks: zero-shot accuracy on held-out classes and recall@1/5, before training and
after each strategy, and pre-trained towers against random ones on the same budget.

    python tests/benchmarks/bench_image_text.py [--task tuxpaint_captions|fashion_captions] [--seeds 0 1 2]
        [--epochs 10] [--out DIR] [--arms LABEL ...] [--report]

The vision tower is ``vit_small`` pre-trained here first (once per --out folder) by ``python -m sweep.pretrain
... pretrain.objective=image_classification``: for ``tuxpaint_captions`` (real captions) on all of Fashion-MNIST's
labels (``vit_fashion``); for ``fashion_captions`` (class-name sentences) on its 4 training classes only
(``vit_fashion4``), so that the held-out classes were seen by neither the pre-training nor the contrastive training.
The text tower is the packaged MiniLM-L6; the random pair is ``vit_small`` + ``minilm_l6_scratch`` (same shapes).
Every job is the real CLI in a subprocess, the numbers are the runs' MLflow metrics; the table is Markdown, mean ±
sd over seeds. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import cli, cpu  # noqa: E402

RANDOM = ("vit_small", "minilm_l6_scratch")
# the ViT each task's pre-trained pair uses, and the pre-training that makes it
FASHION_HELD_OUT = (2, 3, 4, 5, 6, 7)  # fashion_captions' val and test classes (split_seed 0): not pre-trained on
VISION = {
    "tuxpaint_captions": ("vit_fashion", []),
    "fashion_captions": (
        "vit_fashion4",
        [f"~task.label_map.{label}" for label in FASHION_HELD_OUT] + ["task.labels=null", "task.val_size=null", "task.test_size=2000"],
    ),
}
PRETRAINED = ("<vision>", "minilm_l6")
# (label, towers, strategy, overrides): "before" evaluates the fresh dual encoder (random projections) untrained
ARMS = [
    ("before training", PRETRAINED, "full", ["trainer.fit=false"]),
    ("feature (projections only)", PRETRAINED, "feature", ["optim.lr=3e-3"]),
    ("lit (image tower locked)", PRETRAINED, "lit", ["optim.lr=1e-4"]),
    ("lora (both towers)", PRETRAINED, "lora", ["optim.lr=1e-3"]),
    ("full", PRETRAINED, "full", ["optim.lr=1e-4"]),
    ("full, random towers", RANDOM, "full", ["optim.lr=1e-4"]),
    ("lit, random towers", RANDOM, "lit", ["optim.lr=1e-4"]),
]
COLUMNS = ["val/zeroshot_acc", "test/zeroshot_acc", "test/i2t_r1", "test/i2t_r5", "test/t2i_r1", "test/t2i_r5", "train_time_s"]


def slug(label: str) -> str:
    """An arm's run name (Hydra's override grammar takes no parentheses or commas in a value)."""
    return "".join(c if c.isalnum() else "_" for c in label)


def pretrain_vision(out: Path, name: str, overrides: list[str]) -> None:
    if (out / "zoo" / "model" / f"{name}.yaml").exists():
        return
    cli(
        "sweep.pretrain", "model=vit_small", "task=fashion_mnist", "pretrain.objective=image_classification",
        f"pretrain.save_as={name}", "trainer.max_epochs=3", "optim.lr=1e-3", "trainer.monitor=val/acc", "trainer.mode=max",
        f"paths.output_dir={out}", *overrides, cwd=out,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=sorted(VISION), default="tuxpaint_captions")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_image_text"))
    parser.add_argument("--report", action="store_true", help="only print the table of the runs already in --out")
    parser.add_argument("--arms", nargs="+", default=None, help="run only the arms whose label starts with one of these")
    args = parser.parse_args()
    out = args.out.resolve()
    if args.report:
        return report(out, args)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SWEEP_ZOO_DIR"] = str(out / "zoo")  # where pretrain.save_as writes, and model.vision=<its name> reads
    pretrain_vision(out, *VISION[args.task])
    for label, (vision, text), strategy, overrides in ARMS:
        if args.arms and not any(label.startswith(prefix) for prefix in args.arms):
            continue
        vision = VISION[args.task][0] if vision == "<vision>" else vision
        for seed in args.seeds:
            cli(
                "sweep.run", f"task={args.task}", "model=dual_encoder", f"model.vision={vision}", f"model.text={text}",
                f"strategy={strategy}", f"seed={seed}", f"trainer.max_epochs={args.epochs}", f"tracking.run_name={slug(label)}.{seed}",
                f"paths.output_dir={out}", *overrides, cwd=out,
            )  # fmt: skip
    report(out, args)


def report(out: Path, args) -> None:
    by_arm: dict[str, list[dict]] = {}
    seen = set()
    for run in runs_of(out, args.task):  # newest first: an arm and seed run twice (a re-run benchmark) counts once
        if run.data.tags.get("mlflow.runName") in seen or run.data.tags.get("state") != "finished":
            continue
        seen.add(run.data.tags.get("mlflow.runName"))
        name = run.data.tags.get("mlflow.runName", "").rpartition(".")[0]
        by_arm.setdefault(name, []).append(run.data.metrics)
    print(f"\nCPU: {cpu()}; task={args.task}, {args.epochs} epochs, batch 32, seeds {args.seeds}; zero-shot accuracy balanced")
    print("over the held-out classes of each split\n")
    print("| arm | towers | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for label, (vision, text), _, _ in ARMS:
        vision = VISION[args.task][0] if vision == "<vision>" else vision
        metrics = by_arm.get(slug(label), [])
        cells = []
        for column in COLUMNS:
            values = [m[column] for m in metrics if column in m]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}")
            else:
                cells.append(f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
        print(f"| {label} | {vision}+{text} | " + " | ".join(cells) + " |")


def runs_of(out: Path, task: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    return client.search_runs([experiment.experiment_id], max_results=5000, filter_string=f"tags.task = '{task}'")


if __name__ == "__main__":
    main()
