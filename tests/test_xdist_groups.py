"""make test runs every test in one pytest-xdist session with ``--dist loadgroup``: the cluster's tests are one
``xdist_group`` and must run on one worker (one cluster on fixed ports). Regression: with pytest 9.2 the group's
mark silently stopped grouping (pytest-xdist#1386), so three workers each brought the same cluster up and all but
one failed on its ports."""

from __future__ import annotations

import os
import subprocess
import sys

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("cluster")


@pytest.mark.parametrize("i", range(6))
def test_where(i):
    with open(os.environ["WHERE_FILE"], "a") as where:
        where.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_loadgroup_runs_a_group_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_free.py").write_text("import pytest\n\n\n@pytest.mark.parametrize('i', range(6))\ndef test_free(i):\n    pass\n")
    where = tmp_path / "where.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "3", "--dist", "loadgroup", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env={**os.environ, "WHERE_FILE": str(where)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = where.read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, workers
