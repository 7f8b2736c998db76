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


class ImageText(TaskType):
    name = "image_text"
    metrics = {"loss": "min", "i2t_r1": "max", "i2t_r5": "max", "t2i_r1": "max", "t2i_r5": "max", "zeroshot_acc": "max"}
    monitor = "val/zeroshot_acc"
    shown = ("test/zeroshot_acc", "test/i2t_r1", "test/i2t_r5", "test/t2i_r1", "test/t2i_r5")
    head = "dual"
    select_targets = ("classes", "targets")  # each tower's features against the rows' classes (sweep/select/pairs.py)
    refuses_augment = "an image and its text are augmented as a pair, which no augmenter does yet: use augment=none"
    # the strategies a dual encoder cannot run are its family's refusals (sweep/models/families.py)

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
        from lightning_modules.image_text import Contrastive, ContrastiveDistillation

        if distill is not None:  # a teacher dual encoder's similarity matrix (sweep/pipeline/dual_teacher.py)
            return ContrastiveDistillation(len(label_names), distill.alpha, distill.temperature)
        return Contrastive(len(label_names))
