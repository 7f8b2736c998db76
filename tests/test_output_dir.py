"""paths.output_dir that cannot take the runs (issue 18, point 6): one line naming the key and the reason,
exit 2, before any run or study is touched, from every entry point; and a disk that fills while a job
runs: the job's run ends FAILED with the reason, in one line, without a traceback.

Full and read-only disks are real: small tmpfs mounts (root only; skipped otherwise)."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.config.errors import ConfigError
from sweep.config.paths import MIN_FREE_BYTES, check_output_dir, describe_disk_full, disk_full, is_disk_full
from tests.conftest import TINY_DATA, run_cli

NOPE = "/proc/nope"  # /proc takes no new folder, whoever asks
NOPE_LINE = f"error: paths.output_dir={NOPE}: cannot create the folder: "


def mount_tmpfs(folder: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: mounts a small tmpfs")
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def disks(tmp_path):
    """``disks(name, options)``: a real tmpfs under tmp_path (``size=3m``, ``ro``), unmounted afterwards."""
    mounted = []

    def mount(name: str, options: str) -> Path:
        folder = tmp_path / name
        mount_tmpfs(folder, options)
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):  # lazily: this process may still hold a store's file open there
        subprocess.run(["umount", "--lazy", str(folder)], capture_output=True)


@pytest.fixture
def read_only(tmp_path, disks) -> Path:
    """A folder nothing can be written in: a read-only mount (as root, permissions stop nothing)."""
    if os.geteuid() == 0:
        return disks("ro", "ro,size=1m")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.fixture
def full(disks) -> Path:
    """A real disk with less than MIN_FREE_BYTES free: 256 KiB of its 512 taken by a ballast file."""
    folder = disks("full", "size=512k")
    (folder / "ballast").write_bytes(b"\0" * (256 << 10))  # half left: writable, but below the floor
    return folder


def error_of(path, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        check_output_dir(str(path), **kwargs)
    return str(caught.value)


# ------------------------------------------------------------------------------------- the check itself
def test_nothing_is_left_behind(tmp_path):
    """Bad input elsewhere must leave nothing: a missing folder is not made, the probe file is removed."""
    check_output_dir(str(tmp_path / "a" / "b"))
    check_output_dir(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_each_reason_in_one_line(tmp_path, read_only):
    (tmp_path / "file").write_text("x")
    assert error_of(NOPE).startswith(f"paths.output_dir={NOPE}: cannot create the folder: ")
    assert error_of(tmp_path / "file") == f"paths.output_dir={tmp_path / 'file'}: not a folder (a file of that name is there)"
    assert error_of(tmp_path / "file" / "sub") == (
        f"paths.output_dir={tmp_path / 'file' / 'sub'}: cannot create the folder: {tmp_path / 'file'} is not a folder"
    )
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert error_of(read_only) == f"paths.output_dir={read_only}: cannot write in it: {reason}"
    assert error_of(read_only / "sub") == f"paths.output_dir={read_only / 'sub'}: cannot create the folder: {reason}"
    assert error_of(read_only / "sub", key="report.out") == f"report.out={read_only / 'sub'}: cannot create the folder: {reason}"


def test_a_disk_below_the_floor_is_full(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=MIN_FREE_BYTES - 1))
    assert error_of(tmp_path) == f"paths.output_dir={tmp_path}: no space left on device: 1024.0 KiB free, at least 1.0 MiB needed"


def test_a_real_full_disk(full):
    assert error_of(full) == f"paths.output_dir={full}: no space left on device: 256.0 KiB free, at least 1.0 MiB needed"


def test_a_full_disk_is_known_by_its_words():
    copy = OSError(errno.ENOSPC, "No space left on device", "/tmp/staging/model.safetensors", None, "/out/mlartifacts/model.safetensors")
    assert describe_disk_full(copy, None).startswith("OSError: No space left on device: /out/mlartifacts/model.safetensors (/")
    assert describe_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"), None) == "OSError: Disk quota exceeded"
    assert describe_disk_full(OSError(errno.ENOSPC, "No space left on device"), "/proc/nope") == (
        "OSError: No space left on device (paths.output_dir=/proc/nope: 0 bytes free now)"
    )
    sqlite = RuntimeError(
        "(raised as a result of Query-invoked autoflush ...)\n(sqlite3.OperationalError) database or disk is full\n[SQL: ...]"
    )
    assert describe_disk_full(sqlite, None) == "RuntimeError: a store could not write: database or disk is full"
    wrapped = RuntimeError("recording failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert disk_full(wrapped) is wrapped.__cause__
    assert describe_disk_full(ValueError("nope"), None) is None and disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert is_disk_full("SafetensorError: Error while serializing: I/O error: No space left on device (os error 28)")
    assert not is_disk_full("ValueError: nope") and not is_disk_full(None)


# ----------------------------------------------------------------------------------- every entry point
def entry(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


ENTRY_POINTS = [
    ("sweep.run", []),
    ("sweep.run", ["-m", "strategy=full,prompt"]),
    ("sweep.run", ["-m", "search=optuna"]),
    ("sweep.nightly", []),
    ("sweep.select", ["candidates=[minilm_l3]"]),
    ("sweep.report", []),
    ("sweep.pretrain", []),
]


@pytest.mark.slow
@pytest.mark.parametrize("module, args", ENTRY_POINTS, ids=[" ".join([m, *a]) for m, a in ENTRY_POINTS])
def test_every_entry_point_says_it_in_one_line(tmp_path, module, args):
    """Regression: Hydra made its run folder first, a 57-line traceback, exit 1. The stores are elsewhere
    (as a server and a database would be): the output folder holds the run folders all the same."""
    store = tmp_path / "stores"
    stores = [f"tracking.uri=sqlite:///{store / 'mlflow.db'}"]
    if module == "sweep.nightly" or "search=optuna" in args:
        stores.append(f"search.storage=sqlite:///{store / 'optuna.db'}")
    result = entry(module, *args, f"paths.output_dir={NOPE}", *stores, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.startswith(NOPE_LINE) and len(result.stderr.strip().splitlines()) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert not store.exists() and not (tmp_path / "outputs").exists()  # no store, no study, no run folder


@pytest.mark.slow
def test_a_read_only_and_a_full_folder_stop_a_run_before_it_opens(tmp_path, read_only, full):
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    for folder, line in (
        (read_only, f"error: paths.output_dir={read_only}: cannot write in it: {reason}\n"),
        (full, f"error: paths.output_dir={full}: no space left on device: 256.0 KiB free, at least 1.0 MiB needed\n"),
    ):
        result = run_cli("-m", "strategy=full,prompt", f"paths.output_dir={folder}", cwd=tmp_path, timeout=120)
        assert (result.returncode, result.stderr) == (2, line)
    assert sorted(path.name for path in full.iterdir()) == ["ballast"]  # no store, no run folder


# --------------------------------------------------------------------------------- a disk that fills
@pytest.mark.slow
def test_a_search_whose_checkpoint_fills_the_disk_fails_its_trial_in_one_line(tmp_path, disks):
    """A real 3 MiB disk: the stores fit, the model's converted checkpoint (cached under the output folder)
    does not. Regression: each job's failure printed its whole traceback, its run's error did not say
    which folder was full, and the trial counted against the budget (every next trial would fail alike)."""
    import optuna
    from mlflow.tracking import MlflowClient

    out = disks("small", "size=3m")
    result = run_cli("-m", "search=optuna", "search.n_trials=1", "model=minilm_l3", *TINY_DATA, f"paths.output_dir={out}", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    job = next(run for run in runs if "mlflow.parentRunId" in run.data.tags)
    assert job.info.status == "FAILED"
    error = job.data.tags["error"]
    assert "No space left on device" in error and f"(paths.output_dir={out}: " in error and "\n" not in error, error
    (study,) = optuna.get_all_study_summaries(f"sqlite:///{next((out / 'optuna').glob('*.db'))}")
    (trial,) = optuna.load_study(study_name=study.study_name, storage=f"sqlite:///{next((out / 'optuna').glob('*.db'))}").trials
    assert trial.state == optuna.trial.TrialState.FAIL and "No space left on device" in trial.user_attrs["error"]
    from sweep.search.liveness import counts

    assert not counts(trial)  # not the trial's doing: its budget returns, and the search stops (the next would fail alike)
    assert "search stopped: a disk is full: " in result.stderr
    # nothing else lost: the half-written checkpoint is gone, the disk has room again
    assert not list(out.rglob("*.safetensors"))
    import shutil

    assert shutil.disk_usage(out).free > MIN_FREE_BYTES


# --------------------------------------------------------------------------- the job's own recording
def test_a_store_that_cannot_record_the_failure_does_not_hide_it(caplog):
    from sweep.pipeline.job import end_run, failure_line

    class FullStore:
        run_id = "r1"

        def finish(self, state, **tags):
            raise RuntimeError("(raised as a result of Query-invoked autoflush)\n(sqlite3.OperationalError) database or disk is full")

    error = OSError(errno.ENOSPC, "No space left on device", "/out/cache/x.npz")
    with caplog.at_level(logging.WARNING, logger="sweep"):
        end_run(FullStore(), "failed", error, "/out")  # says so, raises nothing: the job's own error goes on
    (record,) = caplog.records
    assert record.getMessage() == (
        "run r1: could not be ended as failed (RuntimeError: a store could not write: database or disk is full); the next start ends it"
    )
    assert failure_line(error).startswith("OSError: No space left on device: /out/cache/x.npz")


def test_a_log_file_on_a_full_disk_is_said_once(disks, capfd):
    from sweep.pipeline.job import quiet_log_files

    out = disks("tiny", "size=64k")
    handler = logging.FileHandler(out / "run.log")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        quiet_log_files()
        logger = logging.getLogger("sweep.test_output_dir")
        for _ in range(200):  # 64 KiB of log lines and more
            logger.warning("x" * 1000)
        assert handler not in root.handlers
    finally:
        root.removeHandler(handler)
        try:
            handler.close()
        except OSError:  # what it still holds cannot be written either
            pass
    err = capfd.readouterr().err
    assert "--- Logging error ---" not in err and "Traceback" not in err
    assert err.count(f"warning: the log file {out / 'run.log'} cannot be written (No space left on device)") == 1
