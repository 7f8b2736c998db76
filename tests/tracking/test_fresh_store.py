"""A fresh sqlite store is a copy of an empty one made once per MLflow version (sweep/tracking/fresh_store.py)."""

from __future__ import annotations

import sqlite3

from sweep.tracking.fresh_store import TEMPLATES, seed_store
from sweep.tracking.store import client_and_experiment


def tables(path) -> dict[str, list[str]]:
    """Each table's and index's definition as a sorted list of its lines: MLflow's own migrations write a table's
    constraints in no fixed order (two stores it makes in one process can differ so)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'")
        return {name: sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()) for name, sql in rows}


def test_a_seeded_store_is_the_store_mlflow_makes(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    made = tmp_path / "made.db"
    MlflowClient(tracking_uri=f"sqlite:///{made}").search_experiments(max_results=1)
    seeded = tmp_path / "out" / "mlflow.db"
    seeded.parent.mkdir()
    assert seed_store(seeded, tmp_path / "cache")
    assert tables(seeded) == tables(made)
    with sqlite3.connect(made) as a, sqlite3.connect(seeded) as b:
        query = "SELECT version_num FROM alembic_version"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        query = "SELECT experiment_id, name, artifact_location, lifecycle_stage FROM experiments"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()  # the Default experiment's location too

    client, experiment = client_and_experiment(f"sqlite:///{seeded}", "sweep", str(seeded.parent), str(tmp_path / "cache"))
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val/acc", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"val/acc": 0.5}


def test_the_template_is_made_once_and_a_store_with_runs_is_never_replaced(tmp_path):
    cache = tmp_path / "cache"
    first = tmp_path / "a" / "mlflow.db"
    client, experiment = client_and_experiment(f"sqlite:///{first}", "sweep", str(first.parent), str(cache))
    run = client.create_run(experiment).info.run_id
    (template,) = (cache / TEMPLATES).iterdir()
    made_at = template.stat().st_mtime_ns

    second = tmp_path / "b" / "mlflow.db"
    client_and_experiment(f"sqlite:///{second}", "sweep", str(second.parent), str(cache))
    assert template.stat().st_mtime_ns == made_at  # copied, not made again
    assert not seed_store(first, cache)  # the store that exists keeps its runs
    client_again, _ = client_and_experiment(f"sqlite:///{first}", "sweep", str(first.parent), str(cache))
    assert client_again.get_run(run).info.run_id == run
    assert [p.name for p in first.parent.iterdir() if "partial" in p.name or "making" in p.name] == []


def test_a_cache_it_cannot_write_leaves_mlflow_to_make_the_store(tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder would be")  # mkdir under it fails, as on a read-only cache
    store = tmp_path / "out" / "mlflow.db"
    client, experiment = client_and_experiment(f"sqlite:///{store}", "sweep", str(store.parent), str(cache))
    assert client.get_experiment(experiment).name == "sweep"


def test_a_cache_inside_the_output_folder_makes_no_template(tmp_path):
    """The default layout (outputs/cache beside outputs/mlflow.db): one store per cache, so a template would only
    take disk space (a 3 MiB disk filled before the checkpoint the disk-full test writes)."""
    out = tmp_path / "outputs"
    client_and_experiment(f"sqlite:///{out / 'mlflow.db'}", "sweep", str(out), str(out / "cache"))
    assert (out / "mlflow.db").exists() and not (out / "cache" / TEMPLATES).exists()
