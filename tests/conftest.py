"""Shared test helpers: compose configs like the CLI does, and run the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# small real data: a few batches, so a job on a real checkpoint takes seconds
TINY_DATA = ["task.train_size=64", "task.val_size=32", "task.test_size=32"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything the tests load is packaged or built locally
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# make test runs three test workers on 2 cores: each worker, and every CLI process it starts, gets its share of the
# cores (as a user running two jobs side by side would set), since torch otherwise takes every core in each of
# them and the oversubscribed OpenMP threads spin (measured: 35 CLI tests, 153 s -> 137 s)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the session: the MiniLM-L3 conversion and token caches are made once."""
    return Path(os.environ.get("SWEEP_TEST_CACHE") or tmp_path_factory.mktemp("cache"))


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


@pytest.fixture
def job_config(cache_dir, tmp_path):
    """A validated JobConfig for the given overrides, writing only under tmp_path."""
    from sweep.pipeline.validate import validate

    def make(*overrides: str):
        return validate(compose(f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", *overrides))

    return make


def run_cli(*args: str, cwd: Path, cache: Path | None = None, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m sweep.run ARGS`` in ``cwd``, as a user would type it."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    extra = [f"paths.cache_dir={cache}"] if cache is not None else []
    return subprocess.run(
        [sys.executable, "-m", "sweep.run", *args, *extra], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def save_classifier(folder: Path, labels: list[str], cache_dir: Path) -> Path:
    """A tiny Hugging Face sequence classifier with its tokenizer: a teacher as the hub would give one."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from sweep.zoo.loader import resolve_source

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_source("asset:minilm_l6", "model.tokenizer", cache_dir))
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def restored_tracking_uri():
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


# A test that trains in-process leaves MLFLOW_TRACKING_URI set: Lightning's MLFlowLogger calls ``mlflow.set_tracking_uri``,
# which (MLflow 3) also exports it to the environment. Subprocesses of later tests (CLI runs started without run_cli)
# would then log into that test's store, not their own. Guarded per test, and per module: a module-scoped fixture
# that trains (tests/strategies/test_peft_methods.py ``kept``) is set up before, and torn down after, every test's guard.
no_leaked_tracking_uri = pytest.fixture(autouse=True)(restored_tracking_uri)
no_tracking_uri_leaked_by_a_module = pytest.fixture(autouse=True, scope="module")(restored_tracking_uri)
