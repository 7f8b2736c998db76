"""Opening a fresh Optuna storage retries when another creator raced it (sweep/search/storage.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("message", ["UNIQUE constraint failed: alembic_version.version_num", 'relation "studies" already exists'])
def test_a_schema_race_is_retried_and_other_errors_are_not(tmp_path, monkeypatch, message):
    import optuna

    from sweep.search import storage

    real, calls = optuna.storages.RDBStorage, []

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError(f"(sqlite3.IntegrityError) {message}")
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    assert storage.open_storage(url) is not None and len(calls) == 2

    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda url, **kwargs: (_ for _ in ()).throw(RuntimeError("disk I/O error")))
    with pytest.raises(RuntimeError, match="disk I/O error"):
        storage.open_storage(url)
