"""Does ``torch.compile`` (inductor, CPU) pay for fine-tuning here? Issue 24, item 1's lever, measured before adopting it.

    python -m tests.benchmarks.bench_compile [--length 128] [--steps 6]

One full fine-tuning step of MiniLM-L6 (AutoModelForSequenceClassification, batch 32, bf16 autocast where the
CPU multiplies bf16, fused AdamW) at a fixed sequence length, eager against ``torch.compile``d, with the
checkpoint's attention dropout (0.1) and with none (SDPA's fused path): the median step after one warm-up
step, the compile's seconds (the first compiled step, less an eager step), and the matmul ceiling of this
CPU beside it. A fixed length is the compiler's best case: real batches vary in length, so a compiled job
would also recompile or run dynamic shapes. Not a test: nothing asserts a number.
"""

from __future__ import annotations

import argparse
import statistics
import time


def ceiling(dtype) -> float:
    import torch

    a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification

    from sweep.runtime.console import quiet_libraries
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags, describe
    from sweep.zoo.loader import resolve_source
    from tests.benchmarks.common import ROOT

    quiet_libraries()
    bf16 = any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)
    dtype = torch.bfloat16 if bf16 else torch.float32
    path = resolve_source("asset:minilm_l6", "model.source", ROOT / "outputs" / "cache")
    torch.manual_seed(0)
    batch, length = 32, args.length
    ids = torch.randint(1000, 20000, (batch, length))
    mask = torch.ones(batch, length, dtype=torch.long)
    labels = torch.randint(0, 2, (batch,))

    def model(dropout: float):
        made = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, attention_probs_dropout_prob=dropout)
        return made.train()

    def stepper(net):
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5, fused=True)

        def step() -> float:
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype, enabled=bf16):
                loss = net(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return time.perf_counter() - start

        return step

    def median_step(step) -> float:
        return statistics.median(step() for _ in range(args.steps))

    matmuls = sum(p.numel() for name, p in model(0.1).named_parameters() if "embeddings" not in name and p.dim() == 2)
    flops = 6 * matmuls * batch * length
    peak = ceiling(dtype)
    print(describe())
    print(f"MiniLM-L6, batch {batch} x length {length}, {'bf16 autocast' if bf16 else 'fp32'}; {dtype} matmul ceiling {peak:.0f} GFLOP/s")
    print("| attention dropout | eager step ms (share of ceiling) | compiled step ms (share) | compiled / eager | compile s |")
    print("|---|---|---|---|---|")
    for dropout in (0.1, 0.0):
        eager = stepper(model(dropout))
        first_eager = eager()
        eager_s = median_step(eager)
        net = model(dropout)
        net.compile()  # in place: the state dict keeps its keys (a kept model reloads as an eager one)
        compiled = stepper(net)
        compile_s = compiled() - first_eager
        compiled_s = median_step(compiled)
        share = 100 * flops / eager_s / 1e9 / peak, 100 * flops / compiled_s / 1e9 / peak
        print(f"| {dropout} | {eager_s * 1000:.0f} ({share[0]:.1f} %) | {compiled_s * 1000:.0f} ({share[1]:.1f} %) | "
              f"{compiled_s / eager_s:.2f}x | {compile_s:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
