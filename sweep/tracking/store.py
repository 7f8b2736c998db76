"""Which MLflow store to use, whether it answers, and the experiment inside it.

Default: a sqlite file under ``paths.output_dir`` (never the ``./mlruns`` file store, which MLflow 3
refuses). ``tracking.uri`` wins over ``$MLFLOW_TRACKING_URI``, which wins over the default.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from sweep.config.errors import ConfigError
from sweep.config.secrets import mask_secrets
from sweep.runtime.databases import check_database, sqlite_file


def tracking_uri(configured: str | None, output_dir: str) -> str:
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(Path(output_dir) / 'mlflow.db').resolve()}"


def artifact_root(uri: str, output_dir: str) -> str | None:
    """Where a new experiment keeps artifacts: beside a local sqlite store; the server decides otherwise."""
    if uri.startswith("sqlite:"):
        return (Path(output_dir) / "mlartifacts").resolve().as_uri()
    return None


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, before any job, on a store that cannot answer (MLflow itself retries for minutes)."""
    shown = mask_secrets(uri)
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = sqlite_file(uri)
        try:
            if path is not None and str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError("tracking.uri", f"cannot create the folder of the sqlite store: {e.strerror}", shown) from None
    elif scheme in ("http", "https"):
        bound_http_retries()
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
        except urllib.error.HTTPError:
            pass  # it answered: a server is there
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ConfigError("tracking.uri", f"the MLflow server does not answer ({reason})", shown) from None
    elif scheme in ("postgresql", "mysql", "mssql"):
        check_database(uri, "tracking.uri", int(timeout))
    elif scheme == "file" or "://" not in uri:
        if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true":
            raise ConfigError("tracking.uri", "MLflow 3 refuses file stores; use sqlite:///<path>.db or an http:// server", shown)


# MLflow retries a request 7 times over about 4 minutes (backoff factor 2, 120 s timeouts): a server that
# went away mid-run left a job printing urllib3 warnings for minutes before it could fail. About 30 s of
# retries (1+2+4+8+16 s) still ride out a server restart; the user's own settings win.
HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def bound_http_retries() -> None:
    """For this process and the jobs it starts (joblib workers, SLURM jobs inherit the environment)."""
    for key, value in HTTP_RETRIES.items():
        os.environ.setdefault(key, value)


def client_and_experiment(uri: str, experiment: str, output_dir: str, cache_dir: str | None = None):
    """An MlflowClient and the experiment id, creating the experiment (and a fresh store) if needed,
    marked as model training (sweep/tracking/ui.py). With ``cache_dir``, a fresh local sqlite store is a copy
    of an empty one made once (sweep/tracking/fresh_store.py) rather than migrated again."""
    import sqlite3

    from mlflow.tracking import MlflowClient

    from sweep.runtime.locks import file_lock
    from sweep.tracking.fresh_store import seed_store
    from sweep.tracking.ui import EXPERIMENT_TAGS, mark_training

    # several processes creating one fresh sqlite store at once crash ("table ... already exists"):
    # the first creates it under a lock, the others wait and find it made
    store = sqlite_file(uri)
    with file_lock(store):
        if store is not None and cache_dir is not None and str(store) != ":memory:":
            try:
                seed_store(store, cache_dir)
            except (OSError, sqlite3.Error):  # a cache it cannot write, say: MLflow makes the store itself, as before
                pass  # (the copy lands whole by a rename, or not at all)
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # creates the tables of a fresh store
    found = client.get_experiment_by_name(experiment)
    if found is None:
        try:
            return client, client.create_experiment(experiment, artifact_location=artifact_root(uri, output_dir), tags=EXPERIMENT_TAGS)
        except Exception:  # created meanwhile by another process
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise
    mark_training(client, found)  # one made before we marked ours, or by someone else
    return client, found.experiment_id


def ui_hint(uri: str, experiment_id: str | None = None) -> str:
    """How to look at the runs; with the experiment, a link to its runs list as model training in our view."""
    from sweep.tracking.ui import runs_link

    if uri.startswith(("http://", "https://")):
        return f"Compare the runs in the MLflow UI: {mask_secrets(runs_link(uri, experiment_id) if experiment_id else uri)}"
    hint = f"Compare the runs in the MLflow UI:\n  mlflow ui --backend-store-uri {mask_secrets(uri)}"
    return hint + (f"\n  then open {runs_link('http://127.0.0.1:5000', experiment_id)}" if experiment_id else "")
