"""The cluster configs pick our SLURM launcher (hydra_plugins/sweep_slurm/: a cancelled job is one failed row of a
grid, not its end), also from the repository's root. Regression: ours was stored under Hydra's own name, submitit_slurm,
and won only when Hydra's plugin scan ran it after Hydra's config module; from the repository's root, first on
sys.path under ``python -m``, Hydra's launcher won, and a cancelled job ended the whole grid with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

OURS = "hydra_plugins.sweep_slurm.SlurmLauncher"


@pytest.mark.parametrize("cluster", ["local_slurm", "slurm_template"])
def test_the_cluster_configs_launch_through_our_launcher_from_the_repository_root(cluster):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the checkout's hydra_plugins first on the path, as `python -m` puts it
    shown = subprocess.run(
        [sys.executable, "-m", "sweep.run", f"cluster={cluster}", "--cfg", "hydra", "--package", "hydra.launcher"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert yaml.safe_load(shown.stdout)["_target_"] == OURS  # the printed package: hydra.launcher
