"""What the CLI-driven benchmark scripts share: the CPU named as every figure must name it, the real CLIs
in a subprocess, and the runs of the MLflow store they wrote. Not a test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cpu() -> str:
    """This machine's CPU, core count and bf16 flags (sweep/runtime/hardware.py reads them the same way)."""
    sys.path.insert(0, str(ROOT))
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags, cpu_name

    flags = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()]
    return f"{cpu_name()}, {os.cpu_count()} cores, {', '.join(flags) or 'no avx512_bf16/amx'}"


def cli(module: str, *args: str, cwd: Path, allowed: tuple[int, ...] = (0,)) -> str:
    """``python -m module args`` in ``cwd``, as a user types it; exits the benchmark on another exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True)
    print(f"  {module} {' '.join(args)}: rc {done.returncode}, {time.perf_counter() - start:.0f}s", flush=True)
    if done.returncode not in allowed:
        sys.exit(f"failed:\n{done.stderr[-3000:]}")
    return done.stdout


def runs(cwd: Path) -> list:
    """Every run of the ``sweep`` experiment in the embedded store under ``cwd/outputs``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name("sweep").experiment_id], max_results=1000)
