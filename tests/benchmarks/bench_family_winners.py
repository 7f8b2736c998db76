"""Benchmark: which strategy wins on each model family, on its default task? Figure (d) of issue 8.

    python tests/benchmarks/bench_family_winners.py [--families encoder decoder encoder_decoder vision] [--dir DIR]

Each family's model as a user gets it, fine-tuned with every strategy the family runs (the registries say
which; distill needs a teacher and is left out), each strategy at its own defaults (conf/strategy/*.yaml
lrs), on the family's default task:

- encoder: ``minilm_l6`` (packaged) on ``rotten_tomatoes`` (2,000 / 500 / 500 rows, 1 epoch: the main job);
- decoder: ``smollm2_135m`` (packaged GGUF) on ``rotten_tomatoes``, 500 / 200 / 200 rows, 1 epoch;
- encoder_decoder: ``t5_small_scratch`` pre-trained 1 epoch with span corruption on the Rotten Tomatoes
  texts (``sweep.pretrain``: no T5 weights ship in any package), then ``rotten_tomatoes``, 3 epochs;
- vision: ``vit_small`` pre-trained 3 epochs on Fashion-MNIST (``image_classification``), then ``mnist``,
  3 epochs, lr 1e-3 for every strategy (a ViT this small starts far from any default).

Through the real CLIs; results read back from the MLflow store. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, cli, cpu, runs  # noqa: E402  (a script beside its helpers)

RT_SMALL = ["task.train_size=500", "task.val_size=200", "task.test_size=200"]
# family -> (model name in the table, sweep.pretrain arguments or None, sweep.run arguments)
FAMILIES = {
    "encoder": ("minilm_l6", None, ["model=minilm_l6", "task=rotten_tomatoes"]),
    "decoder": ("smollm2_135m", None, ["model=smollm2_135m", "task=rotten_tomatoes", *RT_SMALL]),
    "encoder_decoder": (
        "bench_t5_span",
        ["model=t5_small_scratch", "pretrain.objective=span", "trainer.max_epochs=1", "optim.lr=1e-3", "pretrain.save_as=bench_t5_span"],
        ["model=bench_t5_span", "task=rotten_tomatoes", "trainer.max_epochs=3"],
    ),
    "vision": (
        "vit_small_fmnist",
        [
            "model=vit_small",
            "task=fashion_mnist",
            "pretrain.objective=image_classification",
            "trainer.max_epochs=3",
            "optim.lr=1e-3",
            "trainer.monitor=val/acc",
            "trainer.mode=max",
            "pretrain.save_as=vit_small_fmnist",
        ],  # fmt: skip
        ["model=vit_small_fmnist", "task=mnist", "trainer.max_epochs=3", "optim.lr=1e-3"],
    ),
}


def strategies_of(family: str) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from sweep.models.families import FAMILIES as REGISTRY
    from sweep.strategies import STRATEGIES

    return [name for name in STRATEGIES.names() if name != "distill" and name not in REGISTRY.get(family).refuses]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    cwd = args.dir or Path(tempfile.mkdtemp(prefix="bench-families-"))
    cwd.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu()}; working in {cwd}", flush=True)
    for family in args.families:
        model, pretrain, finetune = FAMILIES[family]
        if pretrain is not None:
            cli("sweep.pretrain", *pretrain, cwd=cwd)
        grid = ["-m", f"strategy={','.join(strategies_of(family))}", "tracking.save_model=never", *finetune]
        cli("sweep.run", *grid, cwd=cwd, allowed=(0, 1))  # 1: a job of the grid failed; its row says so

    found = runs(cwd)
    print("\n| family | model | task | strategy: test acc (s/epoch) | winner |")
    print("|---|---|---|---|---|")
    for family in args.families:
        model = FAMILIES[family][0]
        jobs = [r for r in found if r.data.tags.get("model") == model and "sweep.kind" not in r.data.tags and "strategy" in r.data.tags]
        if not jobs:
            continue
        epochs = {r.info.run_id: float(r.data.params.get("trainer.max_epochs", 1)) for r in jobs}
        cells, best = [], None
        for run in sorted(jobs, key=lambda r: -r.data.metrics.get("test/acc", -1)):
            acc = run.data.metrics.get("test/acc")
            if acc is None:
                cells.append(f"{run.data.tags['strategy']}: {run.data.tags.get('state')}")
                continue
            best = best or run
            cells.append(f"{run.data.tags['strategy']} {acc:.3f} ({run.data.metrics['train_time_s'] / epochs[run.info.run_id]:.1f})")
        task = jobs[0].data.tags.get("task")
        print(f"| {family} | {model} | {task} | {'; '.join(cells)} | **{best.data.tags['strategy']}** |")


if __name__ == "__main__":
    main()
