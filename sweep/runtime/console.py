"""Quiet console: no advert lines, no progress bars into log files, no third-party chatter."""

from __future__ import annotations

import logging
import os
import sys
import warnings


class MaskSecrets(logging.Filter):
    """Masks passwords in URLs in every log record (Hydra logs each job's overrides, storage URLs too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from sweep.config.secrets import mask_secrets

        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:  # the traceback's text is formatted once, here
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
        return True


def interactive() -> bool:
    return sys.stderr.isatty()


def quiet_libraries() -> None:
    """Call after importing the libraries too: Lightning and MLflow reset their loggers on import."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # we tokenize before any fork
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a kept model's download (sweep/tracking/saved_models.py)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning", "transformers", "peft", "alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # it logs the traceback of every store error it then raises (a full disk: one per write); the caller says it once
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    # Lightning's hints that do not apply here: in-memory tokenized data needs no loader workers,
    # and short runs have fewer batches than a logging interval
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory.*")
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*")  # PEFT calls it
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*is an experimental feature.*")  # Optuna's TPE group=True
    # Optuna's heartbeat, driven by our own thread because workers ask and tell (sweep/search/liveness.py)
    warnings.filterwarnings("ignore", message=r".*fail_stale_trials is experimental.*")
    warnings.filterwarnings("ignore", message=r"Heartbeat of storage is supposed to be used with Study.optimize")
    try:
        import optuna  # 0.1 s; its INFO lines ("A new study created", "Trial 3 finished") repeat ours

        optuna.logging.set_verbosity(logging.WARNING)
    except ImportError:  # pragma: no cover
        pass
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
