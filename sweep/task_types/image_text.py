"""Image–text matching: a dual encoder (model.family=dual_encoder) learns one space for images and their texts.

Rows are (image, text) pairs with a class name (sweep/data/image_text_sources.py). Training: the symmetric InfoNCE
loss over each batch's similarity matrix (CLIP's). Validation and test: recall@1/5 both ways over the whole split
(image->text: is an image's own text among its k nearest texts) and zero-shot accuracy, each image classified by
its nearest class prompt (``task.zeroshot_prompt``) among the classes of that split; with ``task.heldout_classes``
those are classes never trained on (lightning_modules/image_text.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError
from sweep.task_types.base import TaskType, label_names

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig

NOT_YET = "not supported for task.type=image_text yet"


class ImageText(TaskType):
    name = "image_text"
    metrics = {"loss": "min", "i2t_r1": "max", "i2t_r5": "max", "t2i_r1": "max", "t2i_r5": "max", "zeroshot_acc": "max"}
    monitor = "val/zeroshot_acc"
    shown = ("test/zeroshot_acc", "test/i2t_r1", "test/i2t_r5", "test/t2i_r1", "test/t2i_r5")
    head = "dual"
    select_targets = ("classes", "targets")  # each tower's features against the rows' classes (sweep/select/pairs.py)
    refuses_augment = "an image and its text are augmented as a pair, which no augmenter does yet: use augment=none"
    refuses = {
        # the vision tower takes pixels, never the token embeddings a soft prompt or prefix is made of
        "prompt": "soft prompts feed token embeddings, which the vision tower does not take; use lora, partial, feature or full",
        "ptuning": "P-tuning feeds token embeddings, which the vision tower does not take; use lora, partial, feature or full",
        "prefix": "prefix tuning is built for a text model's vocabulary, which the vision tower has not; use lora or another weight method",
        "distill": f"distillation from a larger dual encoder's similarity matrix is {NOT_YET}; use full, partial, feature, lit or lora",
        "adalora": f"AdaLoRA's rank schedule follows one backbone; {NOT_YET}: use lora",
    }

    def check_model(self, family: str, model_name: str) -> None:
        if family != "dual_encoder":
            raise ConfigError(
                "model",
                f"task.type=image_text needs a dual encoder: model=dual_encoder model.vision=<vision model> model.text=<text model> "
                f"(model {model_name} is family {family})",
                model_name,
            )

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        from sweep.task_types.classification import mapped

        frame = mapped(frame.assign(label=frame["label"].astype(str)), task)
        names = label_names(sorted(frame["label"].unique()), task)
        return names, frame.assign(label=frame["label"].map({name: i for i, name in enumerate(names)}))

    def targets(self, labels, label_names) -> np.ndarray:
        return np.asarray(labels, dtype=np.int64)

    def outputs(self, label_names) -> int:
        return 0  # no head of labels: the towers' projections (model.projection_dim)

    def objective(self, label_names, fitted, task, distill=None):
        from lightning_modules.image_text import Contrastive

        return Contrastive(len(label_names))

    def teacher_score(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[str, float]:
        raise ConfigError("strategy", NOT_YET, "distill")
