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
from sweep.config.schema import (
    TOWERS,
    JobConfig,
    ModelConfig,
    RootConfig,
    TaskConfig,
    is_search,
    job_container,
    one_of,
    search_config,
    typed,
)
from sweep.data.augment import check_augment
from sweep.data.kinds import TASK_KINDS
from sweep.models.families import FAMILIES, check_family
from sweep.pipeline.outcome import RUN_METRICS, stage_metrics
from sweep.strategies import STRATEGIES
from sweep.task_types import TASK_TYPES

MODE_DIRECTIONS = {"max": "maximize", "min": "minimize"}  # trainer.mode -> search.directions


def validate(cfg: DictConfig) -> JobConfig:
    """Check a composed config completely; raises ConfigError naming the first bad key."""
    plain = job_container(cfg)
    root: RootConfig = typed(RootConfig, plain)
    name = root.strategy.get("name")
    require(name is not None, "strategy.name", None, f"must be set; known: {', '.join(STRATEGIES.names())}")
    if "method" in root.strategy and name not in STRATEGIES:  # strategy=peft: the name is the method's (conf/strategy/peft.yaml)
        from sweep.strategies.peft_method import METHODS

        require(False, "strategy.method", root.strategy["method"], f"unknown PEFT method; known: {', '.join(sorted(METHODS))}")
    strategy_cls = STRATEGIES.get(name)
    strategy = typed(strategy_cls.config_class, root.strategy, prefix="strategy.")
    FAMILIES.get(root.model.family)  # an unknown family lists the known ones
    one_of("optim.scheduler", root.optim.scheduler, tuple(SCHEDULERS))
    check_modality(root.model, root.task, name)
    task_type = check_task_type(root, name)
    check_augment(root.augment, name, strategy_cls.frozen_features, root.task.modality)
    check_dual_encoder(root, name, vars(strategy))
    refusal = task_type.augment_refusal(root.model.family)
    if root.augment.name != "none" and refusal:
        require(False, "augment", root.augment.name, f"task.type={task_type.name}: {refusal}; use augment=none")
    teacher = root.distill.teacher if strategy_cls.teacher_use != "never" else None
    if strategy_cls.teacher_use == "required":
        hint = "runs:/<run_id>/model or a model name"
        require(teacher is not None, "distill.teacher", None, f"strategy={name} needs a teacher: {hint}")
    if teacher is not None:
        require(
            "distill" not in task_type.refuses,
            "distill.teacher",
            teacher,
            f"task.type={task_type.name}: {task_type.refuses.get('distill')}",
        )
        require(root.task.kind != "multi", "distill.teacher", teacher, "distillation of multi-task training is not supported")
        require(
            root.task.modality in ("text", "image_text"),
            "distill.teacher",
            teacher,
            "distillation is supported on text and image-text tasks only",
        )
    check_output_dir(root.paths.output_dir)
    return JobConfig(root=root, strategy=strategy, teacher=teacher)


def check_dual_encoder(root: RootConfig, strategy: str, strategy_config) -> None:
    """A dual encoder's towers read images and text (each a known model); per-tower depths only where the strategy has a
    depth. (A strategy of two towers on one model is its family's refusal: sweep/models/families.py.)"""
    kept = root.model.source.startswith("runs:/")
    if root.model.family == "dual_encoder" and not kept:
        from sweep.pipeline.dual import tower_config

        for tower in TOWERS:
            tower_config(root, tower)
        depths = {tower: depth for tower, depth in root.model.tower_freeze_depth.items() if depth is not None}
        if depths:
            message = f"strategy={strategy} freezes no blocks by depth: per-tower depths are for strategy=partial"
            require("freeze_depth" in strategy_config, "model.tower_freeze_depth", depths, message)
        # the pair is the model a user compares (tags, the comparison table, the report): vit_small+minilm_l6
        root.model.name = f"{root.model.vision}+{root.model.text}"


def check_task_type(root: RootConfig, strategy: str):
    """The task type: known, reading rows its kind yields, able to run the strategy; and what follows from it:
    ``trainer.monitor``/``mode`` set to ``auto`` become the type's, and a search without ``search.metrics``
    optimises the monitor (its directions, where not given, each metric's own). Returns the type."""
    task, trainer = root.task, root.trainer
    task_type = TASK_TYPES.get(task.type)
    if task.kind != "multi":
        words = TASK_KINDS.get(task.kind).words
        if words != task_type.word_rows:
            readers = [kind for kind in TASK_KINDS.names() if TASK_KINDS.get(kind).words == task_type.word_rows and kind != "multi"]
            what = "word-tagged sentences" if words else "texts with a label"
            require(
                False,
                "task.type",
                task.type,
                f"task.kind={task.kind} yields {what}; task.type={task.type} reads kinds {', '.join(readers)}",
            )
    else:
        from sweep.task_types.generation import GENERATION_TYPES

        require(
            task.type in ("classification", *GENERATION_TYPES),
            "task.type",
            task.type,
            "task=multi takes its sub-tasks' types: leave task.type=classification, or set seq2seq or causal_lm to train "
            "generation sub-tasks as that type",
        )
        from sweep.data.multitask import sub_task_configs

        mixed = any(sub.type not in ("classification", task.type) for sub in sub_task_configs(task))
        if mixed and root.augment.name != "none":  # a class sits at position 0, which a decoder's augmentation may move
            require(False, "augment", root.augment.name, "multi-task training across task types is not augmented: use augment=none")
    task_type.check(task, strategy, STRATEGIES.names())
    if not root.model.source.startswith("runs:/"):  # a kept model's family is its own: checked as it loads
        task_type.check_model(root.model.family, root.model.name)
    resolve_monitor(root)
    unknown = f"the direction of trainer.monitor={trainer.monitor} is unknown: set max or min"
    require(trainer.mode != "auto", "trainer.mode", "auto", unknown)
    if is_search(root.search):
        search = root.search
        if search.get("metrics") is None:
            search["metrics"] = [trainer.monitor]
        if search.get("directions") is None:
            directions = [task_type.direction(metric) for metric in search["metrics"]]
            unknown = [metric for metric, direction in zip(search["metrics"], directions) if direction is None]
            logged = ", ".join((*stage_metrics(task_type.name), *RUN_METRICS))
            require(
                not unknown,
                "search.metrics",
                search["metrics"],
                f"{unknown} never logged by a job of task.type={task.type}; logged: {logged}",
            )
            search["directions"] = [MODE_DIRECTIONS[direction] for direction in directions]
    else:  # a grid's or a single run's: search.reuse and search.reuse_counts, typed like a search's
        search_config(root.search)
    return task_type


def resolve_monitor(root: RootConfig) -> None:
    """``trainer.monitor``/``mode`` set to ``auto`` become the task type's monitor and its direction (a mode whose
    direction is unknown stays ``auto``). Also for a grid whose base config is not a job of its own (its jobs
    sweep the model a generation task needs): its table and recommendation read the monitor from here."""
    task_type, trainer = TASK_TYPES.get(root.task.type), root.trainer
    if trainer.monitor == "auto":
        trainer.monitor = task_type.default_monitor(root.task)
    if trainer.mode == "auto":
        trainer.mode = task_type.direction(trainer.monitor) or "auto"


def recorded_config(cfg: DictConfig, job: JobConfig) -> dict:
    """The resolved config as a run records it (params, config.yaml): with what ``auto`` and null became."""
    config = job_container(cfg)
    config.setdefault("trainer", {}).update(monitor=job.root.trainer.monitor, mode=job.root.trainer.mode)
    if is_search(job.root.search) and isinstance(config.get("search"), dict):
        config["search"].update(metrics=job.root.search["metrics"], directions=job.root.search["directions"])
    return config


def check_modality(model: ModelConfig, task: TaskConfig, strategy: str) -> None:
    """The model reads what the task's rows are (text or images), the task's kind yields them, and the
    model's family can run the strategy: each a one-line error at compose time, before anything loads."""
    if task.kind != "multi":  # a stack of other tasks, each checked when it is composed
        kind = TASK_KINDS.get(task.kind)
        require(kind.modality == task.modality, "task.modality", task.modality, f"task.kind={task.kind} yields {kind.modality} rows")
    if not model.source.startswith("runs:/"):  # a kept model's family is its own: checked when it loads (sweep/tracking/saved_models.py)
        check_family(model.family, model.name, task, strategy, STRATEGIES.names())
