"""The GPU readiness script (tests/benchmarks/gpu_checks.py) on a machine without CUDA: its clean refusal through
the real command, its pure helpers, and the jobs it would run, composed and validated as sweep.run checks them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.benchmarks import gpu_checks
from tests.benchmarks.suite import table
from tests.conftest import ROOT


def test_without_cuda_it_refuses_in_one_line_with_exit_code_2(tmp_path):
    import torch

    # no device visible even on a GPU machine: the refusal is what runs, in the seconds torch takes to import
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    out = tmp_path / "RESULTS.md"
    command = [sys.executable, "-m", "tests.benchmarks.gpu_checks", "--quick", "--out", str(out)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.strip() == gpu_checks.refusal(torch.__version__)
    assert done.stderr.strip() == (
        f"no CUDA device: torch {torch.__version__} reports torch.cuda.is_available() False; run this on a GPU machine"
    )
    assert done.stdout == "" and not out.exists()


def test_importing_the_script_imports_no_torch():
    # its heavy imports are inside the checks: the refusal and --help cost no more than torch's own import
    code = "import sys, tests.benchmarks.gpu_checks; print(sorted(m for m in ('torch', 'transformers', 'mlflow') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name, device, bf16",
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 989),
        ("NVIDIA H100 PCIe", "H100 PCIe", 756),
        ("NVIDIA H100 NVL", "H100 NVL", 835),
        ("NVIDIA H200", "H200 SXM", 989),
        ("NVIDIA H200 NVL", "H200 NVL", 835),
        ("NVIDIA GH200 480GB", "GH200", 989),
        ("NVIDIA A100-SXM4-80GB", "A100", 312),
        ("NVIDIA A100-PCIE-40GB", "A100", 312),
        ("NVIDIA L4", "L4", 121),
        ("NVIDIA L40S", "L40S", 362),
        ("NVIDIA L40", "L40", 181),
        ("NVIDIA A10", "A10", 125),
    ],
)
def test_the_nominal_peak_is_found_by_the_device_name(name, device, bf16):
    peak = gpu_checks.nominal_peak(name)
    assert peak is not None and (peak.device, peak.bf16) == (device, bf16)
    assert 0 < peak.fp32 < peak.bf16


@pytest.mark.parametrize("name", ["Tesla T4", "Tesla V100-SXM2-16GB", "NVIDIA A10G", "NVIDIA GeForce RTX 4090", "cpu"])
def test_a_device_not_in_the_table_has_no_nominal_peak(name):
    assert gpu_checks.nominal_peak(name) is None  # measured only: no guessed peak


def test_achieved_rate_and_mfu_from_a_runs_metrics():
    metrics = {"estimate.train_flops": 9e14, "estimate.eval_flops": 1e14, "train_time_s": 50.0}
    rate = gpu_checks.achieved_tflops(metrics)
    assert rate == pytest.approx(20.0)  # 1e15 FLOPs in 50 s
    assert gpu_checks.mfu(rate, 989) == pytest.approx(100 * 20 / 989)
    assert gpu_checks.mfu(rate, 400.0) == pytest.approx(5.0)


def test_the_section_is_appended_after_what_the_file_holds(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Performance suite results\n\n| a | b |")  # no final newline
    gpu_checks.append_section(results, ["## GPU readiness (issue 24, item 4): first", "", "| x |"])
    gpu_checks.append_section(results, ["## GPU readiness (issue 24, item 4): second"])
    assert results.read_text() == (
        "# Performance suite results\n\n| a | b |\n\n## GPU readiness (issue 24, item 4): first\n\n| x |\n\n"
        "## GPU readiness (issue 24, item 4): second\n"
    )
    fresh = tmp_path / "new.md"
    gpu_checks.append_section(fresh, ["## only"])
    assert fresh.read_text() == "## only\n"


def test_a_fact_shows_its_text_and_a_cell_holds_no_pipe_or_line_break():
    rows = table([gpu_checks.fact("ddp", "trainer.devices=2 job", "skipped", "finished", None, "1 CUDA device: DDP needs 2 or more")])
    assert rows[2] == "| ddp | trainer.devices=2 job | skipped | finished |  | 1 CUDA device: DDP needs 2 or more |"
    assert gpu_checks.cell_text("a | b\nc\n\nd") == "a / b c d"


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("args", [gpu_checks.finetune_args, gpu_checks.partial_args, gpu_checks.ddp_args])
def test_the_jobs_overrides_compose_and_validate(args, quick, tmp_path):
    from sweep.pipeline.validate import validate
    from tests.conftest import compose

    job = validate(compose(f"paths.output_dir={tmp_path}", *args(quick)))
    trainer = job.root.trainer
    assert (trainer.accelerator, trainer.precision, job.root.model.name, job.root.task.max_length) == ("gpu", "auto", "minilm_l6", 128)
    assert trainer.devices == (2 if args is gpu_checks.ddp_args else 1)  # never devices=auto: several GPUs would make DDP of it
