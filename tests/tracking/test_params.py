"""Params and secrets: the flattened config never carries a password."""

import logging

from sweep.config.secrets import mask_secrets
from sweep.runtime.console import MaskSecrets
from sweep.tracking.params import flatten, masked
from sweep.tracking.store import tracking_uri


def test_flatten_masks_passwords_in_urls():
    params = flatten(
        {"search": {"storage": "postgresql+psycopg2://sweep:s3cret@db:5432/optuna"}, "optim": {"lr": 1e-4}, "labels": ["a", "b"]}
    )
    assert params == {"search.storage": "postgresql+psycopg2://sweep:***@db:5432/optuna", "optim.lr": "0.0001", "labels": "['a', 'b']"}


def test_mask_leaves_urls_without_password_alone():
    assert mask_secrets("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert mask_secrets("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_tracking_uri_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None, str(tmp_path)) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking_uri(None, str(tmp_path)) == "http://env:5000"
    assert tracking_uri("http://cli:5000", str(tmp_path)) == "http://cli:5000"


def test_config_artifact_is_masked_too():
    tree = {"tracking": {"uri": "postgresql://u:pw@db/mlflow"}, "labels": ["a", "http://x:y@h"], "n": 3}
    assert masked(tree) == {"tracking": {"uri": "postgresql://u:***@db/mlflow"}, "labels": ["a", "http://x:***@h"], "n": 3}


def test_log_filter_masks_messages_and_tracebacks():
    try:
        raise ConnectionError("cannot reach postgresql://sweep:hunter2@db/optuna")
    except ConnectionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "storage %s failed", ("postgresql://a:hunter2@b/c",), None)
        import sys

        record.exc_info = sys.exc_info()
    MaskSecrets().filter(record)
    text = logging.Formatter().format(record)
    assert "hunter2" not in text and "postgresql://a:***@b/c" in text and "sweep:***@db" in text
