"""Benchmark: what attention dropout costs on CPU, in time and in accuracy (issue 24, item 1). Not a test.

    python -m tests.benchmarks.bench_attention_dropout --out /tmp/bench_attn [--seeds 3]

Full fine-tuning of MiniLM-L6 on Rotten Tomatoes at `make run`'s budget (2,000 / 500 / 500 rows, 1 epoch, max_length
128, batch 32) with the checkpoint's attention dropout (0.1) and with ``model.attention_dropout=0``, each over
--seeds seeds, as one grid: train seconds per epoch, best val/acc and test/acc, mean ± sd. And the kernel's own
ratio: one BERT attention call's forward+backward at those shapes, with dropout 0.1 and 0, which is the part the
setting changes (PyTorch's fused CPU attention takes no dropout; a dropout sends it to the math path).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tests.benchmarks.common import cli, cpu, runs


def kernel(repeats: int = 30) -> dict[float, float]:
    import torch
    import torch.nn.functional as F  # noqa: N812

    torch.manual_seed(0)
    shape = (32, 12, 128, 32)  # batch 32, 12 heads, 128 tokens, 32 dims: MiniLM-L6's attention
    timings = {}
    for dropout in (0.1, 0.0):
        q, k, v = (torch.randn(shape, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        for step in range(repeats + 5):
            if step == 5:
                start = time.perf_counter()
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
            out.sum().backward()
        timings[dropout] = (time.perf_counter() - start) / repeats * 1000
    return timings


def spread(metrics: list[dict], key: str, digits: int = 4) -> str:
    values = [m[key] for m in metrics]
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    seeds = ",".join(str(seed) for seed in range(args.seeds))
    cli("sweep.run", "-m", "strategy=full", "model.attention_dropout=null,0.0", f"seed={seeds}", "tracking.save_model=never", cwd=out)
    groups: dict[str, list] = {}
    for run in runs(out):
        if run.data.tags.get("state") == "finished" and "model" in run.data.tags:
            groups.setdefault(run.data.params.get("model.attention_dropout", "None"), []).append(run.data.metrics)
    print(f"\nMiniLM-L6 x Rotten Tomatoes, full fine-tuning, 1 epoch of 2,000 rows, bf16 autocast where the CPU has it; {cpu()}")
    print("| attention dropout | runs | train s / epoch | best val/acc | test/acc |")
    print("|---|---|---|---|---|")
    for setting, metrics in sorted(groups.items()):
        label = "0.1 (checkpoint's)" if setting == "None" else setting
        cells = [spread(metrics, "train_time_s", 1), spread(metrics, "best_val/acc"), spread(metrics, "test/acc")]
        print(f"| {label} | {len(metrics)} | {' | '.join(cells)} |")
    timings = kernel()
    print(f"SDPA forward+backward, bf16, (32, 12, 128, 32): dropout 0.1 {timings[0.1]:.1f} ms, dropout 0 {timings[0.0]:.1f} ms "
          f"({timings[0.1] / timings[0.0]:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
