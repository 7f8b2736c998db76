"""What this machine offers, read from it, never assumed: the CPU's name and flags, the training device,
and the precision ``trainer.precision=auto`` resolves to.

bf16 autocast pays where the hardware multiplies bf16 natively (x86 avx512_bf16 or AMX tiles, a GPU with
bf16 support): about 1.5x faster epochs at the same accuracy (tests/benchmarks/bench_precision.py).
Elsewhere bf16 is emulated and slower than fp32, so ``auto`` stays at 32-true there.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where the system does not tell."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@functools.cache
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_type(accelerator: str) -> str:
    """Where Lightning will train for ``trainer.accelerator``: cuda, mps or cpu."""
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "cuda"
    if accelerator in ("auto", "gpu", "mps") and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16-mixed where the device computes bf16 natively, 32-true elsewhere."""
    if precision != "auto":
        return precision
    import torch

    device = device_type(accelerator)
    if device == "cuda":
        # emulated bf16 (V100, T4: torch counts it as supported by default) is slower than fp32: native only
        return "bf16-mixed" if torch.cuda.is_bf16_supported(including_emulation=False) else "32-true"
    if device == "cpu" and any(flag in cpu_flags() for flag in BF16_CPU_FLAGS):
        return "bf16-mixed"
    return "32-true"


def describe() -> str:
    """One line for benchmark reports: CPU model, its bf16 flags, cores and torch threads."""
    import os

    import torch

    bf16 = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()] or ["no bf16 flags"]
    gpu = f"; GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{cpu_name()} ({', '.join(bf16)}), {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads{gpu}"
    )
