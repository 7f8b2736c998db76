"""A composed config, checked whole: the typed groups (sweep/config/schema.py), then every name that a
feature's catalogue knows (strategies, model families, task kinds, augmenters, schedulers), then the
combinations (a family that reads the task's rows and can run the strategy, a teacher where one is needed),
and last the output folder, the one check that touches the disk (sweep/config/paths.py).

The one file of sweep.config that imports features: their catalogues, which are light by rule (no torch,
no transformers at import), so a bad name still fails in about a second, before anything is loaded.
"""

from __future__ import annotations

from omegaconf import DictConfig

from lightning_modules.schedule import SCHEDULERS
from sweep.config.errors import require
from sweep.config.paths import check_output_dir
from sweep.config.schema import JobConfig, ModelConfig, RootConfig, TaskConfig, job_container, one_of, typed
from sweep.data.augment import check_augment
from sweep.data.kinds import TASK_KINDS
from sweep.models.families import FAMILIES, check_family
from sweep.strategies import STRATEGIES


def validate(cfg: DictConfig) -> JobConfig:
    """Check a composed config completely; raises ConfigError naming the first bad key."""
    plain = job_container(cfg)
    root: RootConfig = typed(RootConfig, plain)
    name = root.strategy.get("name")
    require(name is not None, "strategy.name", None, f"must be set; known: {', '.join(STRATEGIES.names())}")
    strategy_cls = STRATEGIES.get(name)
    strategy = typed(strategy_cls.config_class, root.strategy, prefix="strategy.")
    FAMILIES.get(root.model.family)  # an unknown family lists the known ones
    one_of("optim.scheduler", root.optim.scheduler, tuple(SCHEDULERS))
    check_modality(root.model, root.task, name)
    check_augment(root.augment, name, strategy_cls.frozen_features, root.task.modality)
    teacher = root.distill.teacher if strategy_cls.teacher_use != "never" else None
    if strategy_cls.teacher_use == "required":
        hint = "runs:/<run_id>/model or a model name"
        require(teacher is not None, "distill.teacher", None, f"strategy={name} needs a teacher: {hint}")
    if teacher is not None:
        require(root.task.kind != "multi", "distill.teacher", teacher, "distillation of multi-task training is not supported")
        require(root.task.modality == "text", "distill.teacher", teacher, "distillation is supported on text tasks only")
    check_output_dir(root.paths.output_dir)
    return JobConfig(root=root, strategy=strategy, teacher=teacher)


def check_modality(model: ModelConfig, task: TaskConfig, strategy: str) -> None:
    """The model reads what the task's rows are (text or images), the task's kind yields them, and the
    model's family can run the strategy: each a one-line error at compose time, before anything loads."""
    if task.kind != "multi":  # a stack of other tasks, each checked when it is composed
        kind = TASK_KINDS.get(task.kind)
        require(kind.modality == task.modality, "task.modality", task.modality, f"task.kind={task.kind} yields {kind.modality} rows")
    if not model.source.startswith("runs:/"):  # a kept model's family is its own: checked when it loads (sweep/tracking/saved_models.py)
        check_family(model.family, model.name, task, strategy, STRATEGIES.names())
