"""Benchmark: does pre-training on a task's own texts help its fine-tuning? Figures (b) and (c) of issue 8.

    python tests/benchmarks/bench_pretrain.py [--seeds 0 1] [--t5-epochs 3] [--mlm-epochs 1] [--dir DIR]

(b) ``t5_small_scratch`` (a random 4+2-block T5, d_model 128) pre-trained with span corruption on the
    Rotten Tomatoes training texts (labels ignored; 11.7k rows, the val/test rows never seen), then
    fine-tuned (strategy full) on rotten_tomatoes, against the same model fine-tuned from scratch.
(c) ``minilm_l6`` after domain-adaptive MLM on the same texts, against minilm_l6 as packaged, both
    fine-tuned with the default job (strategy full, 1 epoch of 2,000 rows).
Everything through the real CLIs (sweep.pretrain with pretrain.save_as, then one sweep.run grid per
figure over model x seed), results read back from the MLflow store. About 15 minutes on 2 cores.
Not a test: nothing here asserts an accuracy or a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli, cpu, runs  # noqa: E402  (a script beside its helpers)


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def figure(cwd: Path, label: str, pretrain: list[str], name: str, baseline: str, finetune: list[str], seeds: list[int]) -> list[str]:
    print(f"{label}:", flush=True)
    cli("sweep.pretrain", *pretrain, f"pretrain.save_as={name}", f"tracking.run_name=bench-{name}", cwd=cwd)
    cli("sweep.run", "-m", f"model={baseline},{name}", f"seed={','.join(map(str, seeds))}", *finetune, cwd=cwd)
    found = runs(cwd)
    pre = next(r for r in found if r.data.tags.get("mlflow.runName") == f"bench-{name}")
    m = pre.data.metrics
    rows = [
        f"| {label} | pre-training: {' '.join(pretrain)} | val loss {m['best_val/loss']:.3f}, token acc {m['best_val/acc']:.3f} | "
        f"{int(m['optimizer_steps'])} steps | {m['train_time_s']:.0f} s |"
    ]
    for model, arm in ((baseline, "from scratch" if "scratch" in baseline else "as packaged"), (name, "pre-trained, then fine-tuned")):
        tags = [r.data.tags for r in found]
        jobs = [r for r, t in zip(found, tags) if t.get("model") == model and t.get("state") == "finished" and "sweep.kind" not in t]
        test = [r.data.metrics["test/acc"] for r in jobs]
        val = [r.data.metrics["best_val/acc"] for r in jobs]
        secs = statistics.mean(r.data.metrics["train_time_s"] for r in jobs)
        rows.append(f"| {label} | {model}: {arm} | test acc {mean_sd(test)} (val {mean_sd(val)}, n={len(jobs)}) | "
                    f"{' '.join(finetune)} | {secs:.0f} s |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--t5-epochs", type=int, default=3)
    parser.add_argument("--mlm-epochs", type=int, default=1)
    parser.add_argument("--mlm-train-size", type=int, default=None, help="rows of the training split MLM reads (default: all 11,738)")
    parser.add_argument("--t5-finetune-epochs", type=int, default=5)
    parser.add_argument("--mlm-lr", type=float, default=1e-4)
    parser.add_argument("--only", choices=["b", "c"], default=None)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a fresh temporary one)")
    args = parser.parse_args()
    cwd = args.dir or Path(tempfile.mkdtemp(prefix="sweep-bench-pretrain-"))
    cwd.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = []
    if args.only in (None, "b"):
        pretrain = ["model=t5_small_scratch", "pretrain.objective=span", f"trainer.max_epochs={args.t5_epochs}", "optim.lr=1e-3"]
        finetune = [f"trainer.max_epochs={args.t5_finetune_epochs}", "optim.lr=3e-4"]
        rows += figure(cwd, "(b) T5 span", pretrain, "bench_t5_span", "t5_small_scratch", finetune, args.seeds)
    if args.only in (None, "c"):
        pretrain = ["model=minilm_l6", "pretrain.objective=mlm", f"trainer.max_epochs={args.mlm_epochs}", f"optim.lr={args.mlm_lr}"]
        if args.mlm_train_size:  # a prefix of the split: the first 2,000 are the rows fine-tuning uses (task-adaptive)
            pretrain.append(f"task.train_size={args.mlm_train_size}")
        rows += figure(cwd, "(c) MiniLM-L6 MLM", pretrain, "bench_minilm_mlm", "minilm_l6", ["strategy=full"], args.seeds)
    print(f"\nCPU: {cpu()}; load average at the end {os.getloadavg()[0]:.1f}; Rotten Tomatoes: pre-training on the training texts "
          f"(11,738 rows unless task.train_size says otherwise), fine-tuning on 2,000 rows, "
          f"500 val / 500 test; total {time.perf_counter() - start:.0f} s; work folder {cwd}\n")  # fmt: skip
    print("| figure | arm | result | settings | train time |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
