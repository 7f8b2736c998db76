"""GPU readiness (issue 24, item 4): the GPU path of sweep checked in one process, in minutes, on a CUDA machine.

    python -m tests.benchmarks.gpu_checks [--quick] [--out tests/benchmarks/RESULTS.md]

Everything else in tests/benchmarks/ runs where the test suite runs, on CPUs; this is the one command that
exercises what only a GPU can: Lightning on ``trainer.accelerator=gpu``, bf16 autocast on CUDA, the frozen-prefix
store in GPU memory and DDP over NCCL. Each check is a Figure of the suite (tests/benchmarks/suite.py): what
was measured, the goal it is held to, whether it met it, and how.

1. ``device``: the GPUs (name, memory, count, compute capability), CUDA, torch and NCCL versions, whether bf16 is
   native (compute capability 8.0 or more), and what ``trainer.precision=auto`` resolves to on it.
2. ``matmul``: the ceiling this device reaches, a large square matmul (8,192; quick 4,096) in bf16 and in fp32
   with TF32 off, timed between ``torch.cuda.synchronize()`` calls, best of repeats; beside the nominal dense
   peak of the device (NOMINAL_PEAKS, from the vendors' datasheets; a device not in it is measured only).
3. ``fine-tune``: a real ``python -m sweep.run`` job: MiniLM-L6 fully fine-tuned on Rotten Tomatoes (all training
   rows, max length 128, batch 32, 5 epochs: sized for about a minute on an H100; quick: 256 rows, 1 epoch), with
   ``trainer.accelerator=gpu trainer.precision=auto``. From its MLflow run: the precision it resolved to (goal
   bf16-mixed) and the achieved rate, (estimate.train_flops + estimate.eval_flops) / train_time_s, the FLOPs the
   job itself counts (sweep/pipeline/cost.py, as tests/benchmarks/perf_hardware.py reads them on the CPU), as a
   share of the measured bf16 ceiling and of the nominal peak (MFU). Those FLOPs are 6 x matmul parameters x real
   tokens: padding, attention's own T^2 and the optimizer are not counted, so the MFU is a lower bound; and expect
   it small: a 22M-parameter model in batches of 32 short rows gives the tensor cores small matrices.
4. ``frozen_prefix``: ``memory_budget`` of the GPU (sweep/models/frozen_prefix.py: an eighth of the device's own
   memory, at most 2 GiB) against that rule, then a ``strategy=partial`` job with the prefix cache, built and
   trained in this process through the job's own ``build`` and ``train`` on the GPU, so that the store can be
   read afterwards: its kept outputs must be on the GPU, within the budget, and served in the second epoch.
5. ``ddp``: the backend Lightning picks for a CUDA device (sweep sets none: DDPStrategy chooses by device), and
   with two GPUs or more a ``trainer.devices=2 trainer.strategy=ddp`` job that must finish with both ranks
   (``world_size`` 2 in its run) and NCCL in its output (``NCCL_DEBUG=INFO``). With one GPU it is skipped, said why.

Without CUDA it stops at once with one line and exit code 2. Exit code 1: a check did not meet its goal (the
table says which; a check that raised is such a row, and the others still run). It is not one of the suite's
benchmarks (suite.discover reads ``perf_*`` only) and changes nothing in sweep/: the CPU path pays nothing for it.
``--out FILE`` appends a dated section to FILE (RESULTS.md keeps every earlier one); without it, it prints only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, machine, table
from tests.benchmarks.sweep_jobs import make_store, model_folder, newest_run, shared_cache

ROOT = Path(__file__).resolve().parents[2]
MODEL = "minilm_l6"
COMMAND = "python -m tests.benchmarks.gpu_checks"


# ---- pure helpers (unit-tested on the CPU: tests/test_gpu_checks.py) --------------------------------------------


@dataclass(frozen=True)
class Peak:
    device: str  # the device as the table names it
    bf16: float  # TFLOP/s, dense bf16 on the tensor cores (the datasheets' "with sparsity" figures are twice this)
    fp32: float  # TFLOP/s, fp32 without TF32 (the CUDA cores)


# nominal dense peaks from NVIDIA's datasheets; the first pattern the device's name matches wins, so the more
# specific names (PCIe, NVL) come before the family's. Names as torch reports them: "NVIDIA H100 80GB HBM3"
# (SXM), "NVIDIA H100 PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA L4", ...
NOMINAL_PEAKS: tuple[tuple[str, Peak], ...] = (
    (r"\bGH200\b", Peak("GH200", 989, 67)),
    (r"\bH100\b.*\bPCIe\b", Peak("H100 PCIe", 756, 51)),
    (r"\bH100\b.*\bNVL\b", Peak("H100 NVL", 835, 60)),
    (r"\bH100\b", Peak("H100 SXM", 989, 67)),
    (r"\bH200\b.*\bNVL\b", Peak("H200 NVL", 835, 60)),
    (r"\bH200\b", Peak("H200 SXM", 989, 67)),
    (r"\bA100\b", Peak("A100", 312, 19.5)),
    (r"\bL40S\b", Peak("L40S", 362, 91.6)),
    (r"\bL40\b", Peak("L40", 181, 90.5)),
    (r"\bL4\b", Peak("L4", 121, 30.3)),
    (r"\bA10\b", Peak("A10", 125, 31.2)),
)


def nominal_peak(device_name: str) -> Peak | None:
    """The nominal dense peak of a device by its name; None for a device the table does not know."""
    for pattern, peak in NOMINAL_PEAKS:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            return peak
    return None


def achieved_tflops(metrics: dict[str, float]) -> float:
    """A job's achieved rate from its MLflow metrics: the FLOPs it counted for its fit over the fit's seconds."""
    return (metrics["estimate.train_flops"] + metrics["estimate.eval_flops"]) / metrics["train_time_s"] / 1e12


def mfu(achieved: float, peak: float) -> float:
    """Model FLOPs utilization, in percent of ``peak`` (both in the same unit)."""
    return 100 * achieved / peak


def refusal(torch_version: str) -> str:
    return f"no CUDA device: torch {torch_version} reports torch.cuda.is_available() False; run this on a GPU machine"


def append_section(path: Path, lines: list[str]) -> None:
    """Add ``lines`` at the end of ``path``, a blank line after what is there: earlier sections stay as they were."""
    before = path.read_text() if path.exists() else ""
    gap = "" if not before else ("\n" if before.endswith("\n") else "\n\n")
    with path.open("a") as out:
        out.write(gap + "\n".join(lines) + "\n")


@dataclass
class Fact(Figure):
    """A figure whose measured cell is text (a device name, a precision, "skipped") rather than a number."""

    text: str = ""

    def cell(self) -> str:
        return self.text


def fact(benchmark: str, what: str, text: str, goal: str = "", met: bool | None = None, detail: str = "") -> Fact:
    return Fact(benchmark, what, 0.0, "", goal, met, detail, text)


def cell_text(text: str, limit: int = 400) -> str:
    """One table cell: no line breaks or pipes (they would end the row), at most ``limit`` characters."""
    return " ".join(text.replace("|", "/").split())[:limit]


# ---- the jobs ------------------------------------------------------------------------------------------------


def job(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[int, str, float]:
    """``python -m sweep.run args`` in ``cwd``, as a user runs it: exit code, stdout and stderr together, seconds.

    Unlike common.cli a failure or a hang is returned, not an exit: one failed check must not lose the others'
    figures. The job runs in a session of its own, so that a timeout stops its DDP follower ranks with it."""
    import signal
    import subprocess

    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)  # the job's own store under cwd/outputs, which make_store created
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "sweep.run", *args], cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # ended in the meantime
            pass
        output, _ = process.communicate()
        output += f"\n(stopped after {timeout:.0f} s)"
    took = time.perf_counter() - start
    print(f"  sweep.run {' '.join(args)}: rc {process.returncode}, {took:.0f}s", flush=True)
    return process.returncode, output, took


def the_run(cwd: Path):
    """The run the job under ``cwd`` recorded, or None where it recorded none."""
    try:
        return newest_run(cwd)
    except ValueError:  # max() of no runs
        return None


def job_failed(benchmark: str, what: str, rc: int, output: str, run) -> Fact | None:
    """A row for a job that did not finish (its exit code, its state, the end of its output); None if it did."""
    state = run.data.tags.get("state") if run is not None else "no run recorded"
    if rc == 0 and state == "finished":
        return None
    print(output[-4000:], flush=True)
    tail = " ".join(output.strip().splitlines()[-3:]) if output.strip() else ""
    return fact(benchmark, what, "failed", "finished", False, cell_text(f"exit code {rc}, run state {state}; {tail}"))


# ---- the checks ----------------------------------------------------------------------------------------------


def nccl_version() -> str:
    import torch

    try:
        found = torch.cuda.nccl.version()
    except Exception:  # a build without NCCL
        return "none"
    return ".".join(str(part) for part in found) if isinstance(found, tuple) else str(found)


def device_checks() -> list[Figure]:
    import torch

    from sweep.runtime.hardware import resolve_precision

    count = torch.cuda.device_count()
    props = torch.cuda.get_device_properties(0)
    names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
    native = props.major >= 8  # Ampere and later: bf16 tensor cores. Before, torch emulates bf16 (slower than fp32)
    emulated = torch.cuda.is_bf16_supported()  # what sweep/runtime/hardware.py asks: True where it can emulate too
    auto = resolve_precision("auto", "gpu")
    wanted = "bf16-mixed" if native else "32-true"
    capability = f"compute capability {props.major}.{props.minor}"
    return [
        fact("device", "GPU", props.name, detail=f"{count} CUDA device(s): {', '.join(names)}; {capability}"),
        Figure("device", "GPU memory (device 0)", props.total_memory / 2**30, "GiB",
               detail=f"{props.total_memory:,} bytes; {props.multi_processor_count} SMs"),
        fact("device", "CUDA devices", str(count), detail="trainer.devices=2 trainer.strategy=ddp needs 2 or more"),
        fact("device", "CUDA, torch, NCCL", f"CUDA {torch.version.cuda}, torch {torch.__version__}",
             detail=f"cuDNN {torch.backends.cudnn.version()}; NCCL {nccl_version()}"),
        fact("device", "bf16 native (compute capability >= 8.0)", "yes" if native else "no", "yes", native,
             f"torch.cuda.is_bf16_supported() {emulated} (it counts emulation), with including_emulation=False {native}"),
        fact("device", "trainer.precision=auto on this GPU", auto, wanted, auto == wanted,
             "resolve_precision('auto', 'gpu') (sweep/runtime/hardware.py): bf16-mixed where bf16 is native, 32-true elsewhere"),
    ]  # fmt: skip


def matmul_tflops(dtype_name: str, size: int, seconds: float, device: str = "cuda") -> float:
    """Best rate of ``size x size`` matmuls in ``dtype`` over about ``seconds``, in TFLOP/s. BATCH matmuls between two
    synchronizations, so that the wait for the device is not timed per matmul; the first batches warm up (clocks, cuBLAS)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    best, spent, batches = float("inf"), 0.0, 0
    while batches < WARM_UP + 1 or spent < seconds:
        start = time.perf_counter()
        for _ in range(BATCH):
            torch.matmul(a, b, out=out)
        if device == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        if batches >= WARM_UP:
            best, spent = min(best, took / BATCH), spent + took
        batches += 1
    return 2 * size**3 / best / 1e12


BATCH, WARM_UP = 10, 3  # matmuls per synchronization; batches before any is timed


def ceiling_checks(settings: Settings, ceilings: dict[str, float], device: str = "cuda") -> list[Figure]:
    """The measured ceilings go into ``ceilings`` (bf16, fp32) for the fine-tuning check."""
    import torch

    size, seconds = (4096, 0.5) if settings.quick else (8192, 2.0)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    peak = nominal_peak(name)
    previous = torch.get_float32_matmul_precision()
    ceilings["bf16"] = matmul_tflops("bfloat16", size, seconds, device)
    torch.set_float32_matmul_precision("highest")  # fp32 as fp32: TF32 off (torch's default, set in case it was changed)
    try:
        ceilings["fp32"] = matmul_tflops("float32", size, seconds, device)
    finally:
        torch.set_float32_matmul_precision(previous)
    if device == "cuda":
        torch.cuda.empty_cache()  # the matrices' memory back to the driver: the jobs run in processes of their own
    figures = []
    for dtype, measured in ceilings.items():
        label = "bf16" if dtype == "bf16" else "fp32 (TF32 off)"
        nominal = getattr(peak, dtype) if peak else None
        known = f"nominal dense peak {nominal:g} TFLOP/s ({peak.device})" if peak else f"{name} is not in NOMINAL_PEAKS: measured only"
        figures.append(Figure("matmul", f"{label} matmul ceiling ({size}x{size}, torch)", measured, "TFLOP/s",
                              detail=f"best of repeats over {seconds:g} s, synchronized; {known}"))  # fmt: skip
        if nominal:
            figures.append(Figure("matmul", f"{label} ceiling, share of the nominal peak", mfu(measured, nominal), "%",
                                  detail=f"{measured:.0f} of {nominal:g} TFLOP/s"))  # fmt: skip
    return figures


# ---- the jobs' overrides (composed and validated on the CPU by tests/test_gpu_checks.py) --------------------------


def finetune_args(quick: bool, accelerator: str = "gpu") -> list[str]:
    """Check 3's job: one device, the precision ``auto`` picks."""
    rows = ["task.train_size=256", "task.val_size=64", "task.test_size=64", "trainer.max_epochs=1"]
    if not quick:  # the whole corpus less val and test (~12k rows, ~390 steps an epoch): sized for about a minute on an H100
        rows = ["task.train_size=null", "task.val_size=500", "task.test_size=500", "trainer.max_epochs=5"]
    return [
        f"model={MODEL}", "strategy=full", "task.max_length=128", "optim.batch_size=32", *rows,
        # every epoch runs: the same work on every run of the check, not what early stopping leaves of it
        "trainer.early_stopping_patience=null", "tracking.save_model=never",
        # one device: on a machine of several, devices=auto would make it a DDP job
        f"trainer.accelerator={accelerator}", "trainer.devices=1", "trainer.precision=auto",
    ]  # fmt: skip


PREFIX_DEPTH = 3  # half of MiniLM-L6's blocks frozen and served from the store


def partial_args(quick: bool, accelerator: str = "gpu") -> list[str]:
    """Check 4's job: two epochs, so that the second reads every training row's prefix from the store."""
    sizes = (128, 64, 64) if quick else (2000, 200, 200)
    return [
        f"model={MODEL}", "strategy=partial", f"strategy.freeze_depth={PREFIX_DEPTH}", "strategy.cache_prefix=true",
        "task.max_length=128", *(f"task.{split}_size={size}" for split, size in zip(("train", "val", "test"), sizes)),
        "trainer.max_epochs=2", "trainer.early_stopping_patience=null",
        f"trainer.accelerator={accelerator}", "trainer.devices=1", "trainer.precision=auto",
    ]  # fmt: skip


def ddp_args(quick: bool, accelerator: str = "gpu") -> list[str]:
    """Check 5's job: two ranks, one epoch (2,000 / 500 / 500 rows, the task's defaults; quick 256 / 64 / 64)."""
    rows = ["task.train_size=256", "task.val_size=64", "task.test_size=64"] if quick else []
    return [
        f"model={MODEL}", "strategy=full", "task.max_length=128", *rows, "trainer.max_epochs=1", "tracking.save_model=never",
        f"trainer.accelerator={accelerator}", "trainer.devices=2", "trainer.strategy=ddp", "trainer.precision=auto",
    ]  # fmt: skip


# ---- the checks, continued -----------------------------------------------------------------------------------


def finetune_checks(settings: Settings, cache: Path, ceilings: dict[str, float], accelerator: str = "gpu") -> list[Figure]:
    import torch

    cwd = settings.work / "finetune"
    cwd.mkdir()
    make_store(cwd)
    rc, output, took = job(
        cwd, *finetune_args(settings.quick, accelerator), f"paths.cache_dir={cache}", timeout=600 if settings.quick else 900
    )
    run = the_run(cwd)
    what = f"{MODEL} full fine-tuning, trainer.accelerator={accelerator} trainer.precision=auto"
    failed = job_failed("fine-tune", what, rc, output, run)
    if failed is not None:
        return [failed]
    m, precision = run.data.metrics, run.data.tags.get("precision", "not recorded")
    rate = achieved_tflops(m)
    work = f"{m['estimate.train_positions']:,.0f} real tokens, {m['data_train_rows']:,.0f} rows, {m['optimizer_steps']:,.0f} steps"
    layer = m.get("estimate.matmul_gflops_per_s", float("nan")) / 1e3  # what the job's cost estimate measured
    figures = [
        fact("fine-tune", f"{what}: resolved precision", precision, "bf16-mixed", precision == "bf16-mixed",
             f"the run's precision tag; job wall {took:.0f} s"),
        Figure("fine-tune", "achieved (model FLOPs / train_time_s)", rate, "TFLOP/s",
               detail=f"{m['estimate.train_flops']:.3g} training + {m['estimate.eval_flops']:.3g} validation FLOPs "
                      f"({work}) in {m['train_time_s']:.1f} s; peak CUDA memory {m.get('peak_cuda_memory_mb', float('nan')):,.0f} MB; "
                      f"the cost estimate's measured layer: {layer:.1f} TFLOP/s"),
    ]  # fmt: skip
    if "bf16" in ceilings:
        figures.append(Figure("fine-tune", "MFU against the measured bf16 ceiling", mfu(rate, ceilings["bf16"]), "%",
                              detail=f"{rate:.3g} of {ceilings['bf16']:.0f} TFLOP/s"))  # fmt: skip
    peak = nominal_peak(torch.cuda.get_device_name(0)) if accelerator == "gpu" else None
    if peak is not None:
        figures.append(Figure("fine-tune", f"MFU against the nominal bf16 peak ({peak.device})", mfu(rate, peak.bf16), "%",
                              detail=f"{rate:.3g} of {peak.bf16:g} TFLOP/s"))  # fmt: skip
    return figures


def frozen_prefix_checks(settings: Settings, cache: Path, accelerator: str = "gpu", device: str = "cuda") -> list[Figure]:
    import gc

    import torch

    from sweep.models import frozen_prefix
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train
    from sweep.pipeline.validate import validate
    from tests.benchmarks.bench_data_path import compose

    target = torch.device(device, 0) if device == "cuda" else torch.device(device)
    total = frozen_prefix.device_memory(target)
    budget = frozen_prefix.memory_budget(target)
    rule = min(total // 8, 2 << 30)
    own = torch.cuda.get_device_properties(0).total_memory if device == "cuda" else total
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    figures: list[Figure] = [
        Figure("frozen_prefix", f"memory_budget({target})", budget, "B", "= min(device memory / 8, 2 GiB)", budget == rule and total == own,
               f"device memory {total:,} B ({total / 2**30:.1f} GiB, the GPU's own: {total == own}), an eighth {total // 8:,} B; "
               f"host memory {host / 2**30:.0f} GiB"),
    ]  # fmt: skip

    paths = [f"paths.output_dir={settings.work / 'partial'}", f"paths.cache_dir={cache}"]  # nothing under the caller's folder
    frozen_prefix.STORES.clear()
    built = build(validate(compose(*paths, *partial_args(settings.quick, accelerator))))
    served = getattr(built.model.backbone, "_frozen_prefix", None)
    if served is None:
        return [
            *figures,
            fact("frozen_prefix", "strategy=partial: prefix cache installed", "no", "yes", False, "install() declined (logged why)"),
        ]
    start = time.perf_counter()
    result = train(built)  # Lightning on the GPU, as the job's; two epochs: the second is served from the store
    took = time.perf_counter() - start
    store = frozen_prefix.STORES
    kept = [output for outputs in store.by_key.values() for output in outputs.values()]
    kept_bytes = sum(store.sizes.values())
    where = sorted({str(output.device) for output in kept})
    on_device = bool(kept) and all(output.device.type == device for output in kept)
    train_rows = built.sizes["train"]
    test_acc = result.metrics.get("test/acc", float("nan"))
    share = f"{kept_bytes / 2**20:.1f} MiB of a {budget / 2**20:,.0f} MiB budget"
    figures += [
        fact("frozen_prefix", f"strategy=partial freeze_depth={PREFIX_DEPTH}, 2 epochs on {accelerator}", "finished", "finished", True,
             f"{result.steps} steps, {result.precision}, fit and test {took:.1f} s; test acc {test_acc:.3f}"),
        Figure("frozen_prefix", "kept outputs (bytes)", kept_bytes, "B", f"on {device}, 0 < kept <= budget",
               on_device and 0 < kept_bytes <= budget,
               f"{len(kept):,} rows kept on {', '.join(where) or 'nothing'} ({share})"),
        Figure("frozen_prefix", "rows served from the store", served.hits, "rows", f">= {train_rows} (the second epoch's)",
               served.hits >= train_rows, f"{served.misses:,} computed (first epoch, first validation, test); {train_rows} training rows"),
    ]  # fmt: skip
    del built, result, served, kept
    frozen_prefix.STORES.clear()  # and, on a GPU, the memory back to the driver: the next check's job needs it
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return figures


def ddp_checks(settings: Settings, cache: Path, devices: int, accelerator: str = "gpu") -> list[Figure]:
    import torch

    try:  # the rule Lightning's DDPStrategy applies when no backend is set (sweep sets none): by the device's type
        from lightning_fabric.utilities.distributed import _get_default_process_group_backend_for_device

        backend = _get_default_process_group_backend_for_device(torch.device("cuda", 0))
    except ImportError:  # a private name: another Lightning may have moved it
        backend = "unknown (lightning_fabric moved the rule)"
    available = torch.distributed.is_available() and torch.distributed.is_nccl_available()
    figures: list[Figure] = [
        fact("ddp", "process-group backend for a CUDA device", backend, "nccl", backend == "nccl" and available,
             f"Lightning's DDPStrategy default (trainer.strategy=ddp sets none); torch.distributed.is_nccl_available() {available}; "
             f"NCCL {nccl_version()}"),
    ]  # fmt: skip
    what = f"trainer.devices=2 trainer.strategy=ddp job on {accelerator}"
    if devices < 2:
        return [*figures, fact("ddp", what, "skipped", "finished", None, f"{devices} CUDA device: DDP needs 2 or more")]
    cwd = settings.work / "ddp"
    cwd.mkdir()
    make_store(cwd)
    # NCCL says what it sets up (INIT) when DDP's first broadcast opens its communicator: the evidence it ran
    rc, output, took = job(
        cwd,
        *ddp_args(settings.quick, accelerator),
        f"paths.cache_dir={cache}",
        env={"NCCL_DEBUG": "INFO", "NCCL_DEBUG_SUBSYS": "INIT"},
        timeout=600,
    )
    run = the_run(cwd)
    failed = job_failed("ddp", what, rc, output, run)
    if failed is not None:
        return [*figures, failed]
    m = run.data.metrics
    world = int(m.get("world_size", 0))
    said = [line.strip() for line in output.splitlines() if "NCCL INFO" in line]
    # rank 0's "NCCL version 2.x.y+cudaX.Y" line comes without the INFO prefix
    version = next((line.split("NCCL version", 1)[1].strip() for line in output.splitlines() if "NCCL version" in line), "")
    version = f"; NCCL {cell_text(version, 60)}" if version else ""
    figures += [
        fact("ddp", what, "finished", "finished, world_size 2", world == 2,
             f"world_size {world} in the run; precision {run.data.tags.get('precision')}; {m.get('optimizer_steps', 0):.0f} steps "
             f"in {m.get('train_time_s', float('nan')):.1f} s; job wall {took:.0f} s"),
        fact("ddp", "the job's collectives ran on NCCL", "nccl" if said else "no NCCL output", "nccl", bool(said),
             f"{len(said)} 'NCCL INFO' lines in the job's output under NCCL_DEBUG=INFO{version}"),
    ]  # fmt: skip
    return figures


# ---- the command ---------------------------------------------------------------------------------------------


def gpu_lines() -> list[str]:
    """The GPUs every figure was measured on, for the report beside machine()'s CPU and versions."""
    import subprocess

    import torch

    count = torch.cuda.device_count()
    props = torch.cuda.get_device_properties(0)
    try:  # the driver, where nvidia-smi is installed (torch does not say it)
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
        driver = f"; driver {smi.stdout.split()[0]}" if smi.returncode == 0 and smi.stdout.split() else ""
    except (OSError, subprocess.SubprocessError):
        driver = ""
    return [
        f"- GPU: {props.name} x {count}, {props.total_memory / 2**30:.1f} GiB each, compute capability {props.major}.{props.minor}; "
        f"CUDA {torch.version.cuda}, NCCL {nccl_version()}{driver}"
    ]


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny jobs: a smoke run of the checks (a minute or two)")
    parser.add_argument("--out", type=Path, default=None, help="append the dated section to this file (default: print only)")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():  # before anything else: a CPU machine learns it in the time torch takes to import
        print(refusal(torch.__version__), file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    devices = torch.cuda.device_count()
    began = time.perf_counter()
    figures: list[Figure] = []
    ceilings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sweep-gpu-") as scratch:
        settings = Settings(quick=args.quick, repeats=1, work=Path(scratch) / "gpu")
        settings.work.mkdir()
        cache = shared_cache(settings)  # one cache for every job: converted model, token cache
        model_folder(cache, MODEL)  # resolved before any job's clock starts
        checks = {
            "device": device_checks,
            "matmul": lambda: ceiling_checks(settings, ceilings),
            "fine-tune": lambda: finetune_checks(settings, cache, ceilings),
            "frozen_prefix": lambda: frozen_prefix_checks(settings, cache),
            "ddp": lambda: ddp_checks(settings, cache, devices),
        }
        for name, check in checks.items():
            print(f"== {name}", flush=True)
            start = time.perf_counter()
            try:
                found = check()
            except Exception as error:  # one check's failure is its row; the others still run
                import traceback

                traceback.print_exc()
                found = [fact(name, "the check raised", "error", "runs", False, cell_text(f"{type(error).__name__}: {error}"))]
            figures.extend(found)
            print("\n".join(table(found)[2:]), f"\n   ({time.perf_counter() - start:.0f} s)", flush=True)
    failed = [f for f in figures if f.met is False]
    command = COMMAND + (" --quick" if args.quick else "")
    report = [
        f"## GPU readiness (issue 24, item 4): {torch.cuda.get_device_name(0)}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Generated by `{command}` (tests/benchmarks/gpu_checks.py; the checks in {time.perf_counter() - began:.0f} s; "
        f"{len(failed)} of {sum(f.met is not None for f in figures)} goals missed):",
        "",
        *gpu_lines(),
        *machine(),
        "",
        *table(figures),
    ]
    print("\n".join(report))
    if args.out is not None:
        append_section(args.out, report)
        print(f"appended to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
