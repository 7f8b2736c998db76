"""What building a job gives the trainer (sweep/pipeline/build.py for one backbone, sweep/pipeline/dual.py for a dual
encoder): the model, its processor and strategy, the loaders, the sizes and what it timed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweep.config.schema import JobConfig
from sweep.pipeline.sources import Sources
from sweep.strategies import Strategy
from sweep.task_types import TASK_TYPES


@dataclass
class Built:
    job: JobConfig
    model: object  # SequenceClassifier
    tokenizer: object  # the processor of the model's inputs: a tokenizer, or an image processor (vision)
    strategy: Strategy
    label_names: list[str]
    loaders: dict  # train / val / test DataLoaders
    sizes: dict[str, int]
    total_params: int
    trainable_params: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent preparing, and cache hits
    task_names: list[str] | None = None  # multi-task training: the sub-tasks, in head order
    task_label_counts: list[int] | None = None
    teacher_metrics: dict[str, float] = field(default_factory=dict)  # distillation: the teacher on val and test
    sources: Sources | None = None  # the model and teacher as resolved (sweep/pipeline/sources.py)
    fitted: dict = field(default_factory=dict)  # what the task type learnt from the training split (a target's scale)
    head: str = "pooled"  # the model's head: pooled, tokens, or mixed (multi-task training across types)
    sub_task_types: list[str] | None = None  # multi-task training across types: each sub-task's
    data_digest: str = ""  # the rows it read (sweep/pipeline/fingerprint.py): part of its reuse key
    # a dual encoder (head "dual", sweep/pipeline/dual.py): each tower's processor and model config, the class prompts
    processors: dict | None = None
    tower_configs: dict | None = None
    prompts: dict | None = None

    @property
    def task_type(self):
        return TASK_TYPES.get(self.job.root.task.type)

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / max(self.total_params, 1)
