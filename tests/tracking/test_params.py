"""Params and secrets: the flattened config never carries a password."""

from sweep.tracking.params import flatten
from sweep.tracking.store import mask_secrets, tracking_uri


def test_flatten_masks_passwords_in_urls():
    params = flatten({"search": {"storage": "postgresql+psycopg2://sweep:s3cret@db:5432/optuna"}, "optim": {"lr": 1e-4}, "labels": ["a", "b"]})
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
