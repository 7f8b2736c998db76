"""What a user meets in the MLflow UI after a grid, rendered by a real headless Chromium from a real
``mlflow server``: the link we print opens the runs list (model training, not the GenAI overview)
with the child runs as rows, their strategy tags and the val/acc column; the parent run's
description holds the comparison table. The screenshot is kept in outputs/test-artifacts/mlflow-ui.png.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY_DATA, run_cli

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.xdist_group("cluster"),  # one worker of make test brings the cluster up for all of its tests
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: installs and runs Chromium, starts an MLflow server"),
]
CHROMIUM = "/usr/bin/chromium"
ARTIFACT = ROOT / "outputs" / "test-artifacts" / "mlflow-ui.png"


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():  # Debian's package; the image may come without it
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
            subprocess.run(command, check=True, capture_output=True, env=env, timeout=900)
    return CHROMIUM


def render(chromium: str, url: str, profile: Path, *extra: str) -> str:
    """The page as Chromium's DOM after the app has loaded (a fresh profile: what a first visit shows)."""
    shutil.rmtree(profile, ignore_errors=True)
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
        "--window-size=1600,1000", *extra, url,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180).stdout


def rendered(chromium: str, url: str, profile: Path, ready: str) -> str:
    """The DOM once it shows ``ready``: a loaded machine may need a second look."""
    for _ in range(3):
        dom = render(chromium, url, profile, "--dump-dom")
        if ready in dom:
            return dom
    pytest.fail(f"{url} never showed {ready!r}; the last DOM ended with: {dom[-2000:]}")


def cells(dom: str, column: str) -> list[str]:
    """The values the runs table shows in one column (ag-grid cells carry their column id)."""
    pattern = rf'col-id="{re.escape(column)}"[^>]*>.*?class="ag-cell-value">(.*?)</span>'
    return [html.unescape(re.sub(r"<[^>]+>", "", value)).strip() for value in re.findall(pattern, dom)]


def test_the_printed_link_opens_the_runs_of_a_grid(tmp_path, cache_dir, chromium, cluster):
    """On the cluster's MLflow server (PostgreSQL backend store, artifacts served over HTTP)."""
    from mlflow.tracking import MlflowClient

    mlflow_server, name = cluster.tracking_uri, f"ui-{uuid.uuid4().hex[:8]}"
    result = run_cli(
        "-m", "strategy=full,lora", "model=tiny_bert", *TINY_DATA, f"tracking.uri={mlflow_server}", f"tracking.experiment={name}",
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(name)
    link = re.search(r"Compare the runs in the MLflow UI: (\S+)", result.stdout).group(1)
    assert link == f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning&viewStateShareKey=sweep"

    dom = rendered(chromium, link, tmp_path / "profile", "tiny_bert-lora-1")
    assert "tiny_bert-full-0" in dom and "tiny_bert-lora-1" in dom  # the children are rows, not folded in the parent
    assert {"full", "lora"} <= set(cells(dom, "tags.`strategy`"))
    assert cells(dom, "metrics.`val/acc`")[:2] and all(re.fullmatch(r"[\d.]+", v) for v in cells(dom, "metrics.`val/acc`")[:2])
    assert "Sort: best_val/acc" in re.sub(r"<[^>]+>", "", dom)  # best first
    assert "Token Usage" not in dom and "Detect Issues" not in dom  # not the GenAI overview

    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    render(chromium, link, tmp_path / "profile", f"--screenshot={ARTIFACT}")
    assert ARTIFACT.stat().st_size > 10_000
    shutil.copy(ARTIFACT, "/tmp/mlflow-ui.png")

    parent = next(r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags)
    run_page = f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}"
    page = rendered(chromium, run_page, tmp_path / "profile", "Description")
    description = re.sub(r"<[^>]+>", " ", page)
    assert "best val/acc" in description and "tiny_bert-full-0" in description and "tiny_bert-lora-1" in description
