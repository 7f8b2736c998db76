"""Regression: a number per row (a rating, a similarity score, a price).

The head predicts the target standardised on the training split (its mean and standard deviation are fitted
here, kept with the model, and undone before any metric): learning rates and initialisations tuned for
classification then suit targets of any scale. Loss: MSE or Huber; metrics on the target's own scale: RMSE,
MAE, Pearson and Spearman (lightning_modules/regression.py). The monitor is ``val/rmse``, minimised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError
from sweep.task_types.base import TaskType

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig


class Regression(TaskType):
    name = "regression"
    metrics = {"loss": "min", "rmse": "min", "mae": "min", "pearson": "max", "spearman": "max"}
    monitor = "val/rmse"
    shown = ("test/rmse", "test/mae", "test/pearson", "test/spearman")
    losses = ("mse", "huber")
    pairs = True
    select_targets = ("targets",)  # no classes: LogME only
    has_label_names = False

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        import pandas as pd

        raw = frame["label"]
        values = pd.to_numeric(raw.astype(str).str.strip(), errors="coerce")
        bad = raw[values.isna() | ~np.isfinite(values.fillna(0.0))]
        if len(bad):
            examples = ", ".join(repr(str(value)) for value in bad.head(3))
            raise ConfigError(
                "task.label_column",
                f"{len(bad)} of {len(raw)} values are not finite numbers (e.g. {examples}); task.type=regression needs a numeric target",
                task.label_column,
            )
        if values.nunique() < 2:
            raise ConfigError("task.label_column", f"the target is constant ({values.iloc[0]}): nothing to learn", task.label_column)
        return [task.label_column], frame.assign(label=values.astype(np.float64))

    def targets(self, labels, label_names) -> np.ndarray:
        return np.asarray(labels, dtype=np.float64)

    def fit(self, train_targets: np.ndarray) -> dict:
        from lightning_modules.regression import standardise_scale

        mean, std = standardise_scale(np.asarray(train_targets, dtype=np.float64))
        return {"target_mean": float(mean), "target_std": float(std)}

    def outputs(self, label_names) -> int:
        return 1

    def objective(self, label_names, fitted, task, distill=None):
        from lightning_modules.regression import Regression as StandardisedLoss
        from lightning_modules.regression import RegressionDistillation

        scale = (fitted["target_mean"], fitted["target_std"], self.loss_name(task), task.huber_delta)
        if distill is not None:
            return RegressionDistillation(*scale, alpha=distill.alpha)
        return StandardisedLoss(*scale)

    def teacher_outputs(self, logits: np.ndarray, teacher_fitted: dict) -> np.ndarray:
        """A kept teacher's head predicts its own standardised target: back on the raw scale (a Hugging Face
        regression head predicts it already)."""
        if "target_std" in teacher_fitted:
            return logits * teacher_fitted["target_std"] + teacher_fitted["target_mean"]
        return logits

    def teacher_score(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[str, float]:
        return "rmse", float(np.sqrt(np.mean((outputs.reshape(-1) - labels) ** 2)))
