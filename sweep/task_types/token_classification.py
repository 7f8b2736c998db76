"""Token classification: one tag per word (named entities in BIO/IOB2 tags, parts of speech, chunks).

Rows are sentences as word lists with one tag each (a task.kind with ``words=True``: CoNLL-style or JSON-lines
files). Words are split into the model's sub-word tokens with the tag on each word's first piece and -100 on the
rest (sweep/data/word_tokens.py); the head reads every token, and predictions are read back per word. Metrics:
entity-level precision, recall and F1 with seqeval's conventions for BIO tag sets, word accuracy always
(lightning_modules/token_labels.py). The default monitor is ``val/f1`` for BIO tags, ``val/acc`` otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError
from sweep.task_types.base import TaskType

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig

BIO_PREFIXES = ("B-", "I-", "E-", "S-")  # IOB2 and IOBES, as seqeval's default mode reads them


def is_bio(tags: list[str]) -> bool:
    """Entity tags (every tag O or a prefix and a type: IOB2, IOBES) rather than word classes such as POS."""
    return any(tag != "O" for tag in tags) and all(tag == "O" or tag.startswith(BIO_PREFIXES) for tag in tags)


class TokenClassification(TaskType):
    name = "token_classification"
    metrics = {"loss": "min", "f1": "max", "precision": "max", "recall": "max", "acc": "max"}
    monitor = "val/f1"
    shown = ("test/f1", "test/acc")
    head = "tokens"
    word_rows = True

    def default_monitor(self, task: TaskConfig) -> str:
        # without task.labels the tags are known only once read: BIO is assumed, and checked (check_labels)
        return "val/acc" if task.labels is not None and not is_bio(list(task.labels)) else "val/f1"

    def check_labels(self, monitor: str, tags: list[str]) -> None:
        """Entity metrics exist only for entity tags: a monitor on them with POS-style tags fails before training."""
        if not is_bio(tags) and monitor.rpartition("/")[2] in ("f1", "precision", "recall"):
            raise ConfigError(
                "trainer.monitor",
                f"{monitor} is entity-level (BIO tags); the tags {tags[:8]} are not: set trainer.monitor=val/acc "
                "(a search: search.metrics=[val/acc]), or list the tags in task.labels",
                monitor,
            )

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        found = sorted({tag for tags in frame["label"] for tag in tags})
        names = list(task.labels) if task.labels is not None else ["O", *[tag for tag in found if tag != "O"]] if "O" in found else found
        index = {name: i for i, name in enumerate(names)}
        for row, tags in enumerate(frame["label"]):
            unknown = [tag for tag in tags if tag not in index]
            if unknown:
                raise ConfigError(
                    "task.labels", f"sentence {row + 1} has tag {unknown[0]!r}, not in task.labels; tags found: {found}", names
                )
        if len(found) < 2:
            raise ConfigError("task.tag_column", f"needs at least two distinct tags, found {found}", task.tag_column)
        ids = frame["label"].map(lambda tags: np.fromiter((index[tag] for tag in tags), np.int64, len(tags)))
        return names, frame.assign(label=ids)

    def targets(self, labels, label_names) -> np.ndarray:
        """Ragged: one int64 array of tag ids per sentence (aligned to tokens when the split is tokenized)."""
        out = np.empty(len(labels), dtype=object)
        out[:] = list(labels)
        return out

    def objective(self, label_names, fitted, task, distill=None):
        from lightning_modules.token_labels import TokenClassification as TokenCrossEntropy
        from lightning_modules.token_labels import TokenDistillation

        if distill is not None:
            return TokenDistillation(list(label_names), distill.alpha, distill.temperature)
        return TokenCrossEntropy(list(label_names))
