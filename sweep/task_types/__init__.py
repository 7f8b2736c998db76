"""Task types (``task.type``), one file each; this list is the registry (sweep/task_types/base.py: the interface)."""

from sweep.config.registry import Registry
from sweep.task_types.base import TaskType
from sweep.task_types.causal_lm import CausalLM
from sweep.task_types.classification import Classification
from sweep.task_types.image_text import ImageText
from sweep.task_types.multilabel import MultiLabel
from sweep.task_types.regression import Regression
from sweep.task_types.seq2seq import Seq2Seq
from sweep.task_types.token_classification import TokenClassification

TASK_TYPES: Registry[TaskType] = Registry(
    "task.type",
    {
        "classification": Classification(),
        "multilabel": MultiLabel(),
        "regression": Regression(),
        "token_classification": TokenClassification(),
        "seq2seq": Seq2Seq(),
        "causal_lm": CausalLM(),
        "image_text": ImageText(),
    },
)

__all__ = ["TASK_TYPES", "TaskType"]
