"""A new local sqlite MLflow store, copied from an empty one already made by this MLflow version.

Why: MLflow makes a sqlite store's tables by running every alembic migration of its history, 1.5 to 3 s on
these machines, in every new output folder: each first job on a laptop and each CLI test paid it. The empty,
migrated store is made once per MLflow version under ``paths.cache_dir`` and copied with sqlite's backup API
(a consistent copy whatever the journal mode), in milliseconds. The copy is the store MLflow makes, but for one
value MLflow takes from the working directory at creation: the Default experiment's artifact location, which is
written as MLflow would have written it (``<cwd>/mlruns/0``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

TEMPLATES = "mlflow-stores"  # under paths.cache_dir: <mlflow version>.db


def seed_store(store: Path, cache_dir: str | Path) -> bool:
    """Copy the empty store of this MLflow version to ``store`` if ``store`` does not exist yet; True if copied.
    The caller holds the store's lock (sweep/tracking/store.py), so two jobs never seed one store."""
    if store.exists() or Path(cache_dir).resolve().is_relative_to(store.parent.resolve()):
        # a cache inside the store's own folder (the default, outputs/cache beside outputs/mlflow.db) serves this one
        # store: a template there would save nothing and take disk space; a cache shared by several output folders
        # (paths.cache_dir set once for a project, a test session's, a benchmark's) is where copying pays
        return False
    from mlflow.version import VERSION

    template = Path(cache_dir) / TEMPLATES / f"{VERSION}.db"
    if not template.exists():
        make_template(template)
    copy_store(template, store)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (str(Path.cwd().resolve() / "mlruns" / "0"),))
    return True


def make_template(template: Path) -> None:
    """An empty store, migrated by MLflow itself, written under a temporary name and renamed into place
    (jobs of other output folders may make the same template at once: the last rename wins, all are equal)."""
    from mlflow.tracking import MlflowClient

    template.parent.mkdir(parents=True, exist_ok=True)
    making = template.with_name(f"{template.stem}.{os.getpid()}.making.db")
    making.unlink(missing_ok=True)
    MlflowClient(tracking_uri=f"sqlite:///{making}").search_experiments(max_results=1)  # creates and migrates the tables
    copy_store(making, template)  # by the backup API: complete even while MLflow's engine holds ``making`` open
    making.unlink(missing_ok=True)


def copy_store(source: Path, target: Path) -> None:
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(partial)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.replace(partial, target)
