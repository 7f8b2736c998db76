"""The config of ``python -m sweep.select`` (conf/select.yaml), checked whole before anything loads.

Each candidate becomes the config of a ``strategy=feature`` job on the same task (sweep.config.schema.validate):
the same compose-time checks (a model that reads images on a text task, a family that refuses the
strategy), the same ModelConfig, so the features are those such a job computes and caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import DictConfig, OmegaConf

from sweep.config.errors import ConfigError, require
from sweep.config.schema import JobConfig, PathsConfig, TaskConfig, TrackingConfig, job_container, typed
from sweep.task_types import TASK_TYPES

MODES = ("max", "min")
METHODS = ("scores", "halving")  # frozen-feature scores only; or short fine-tunes by successive halving (sweep/select/halving.py)


@dataclass
class SelectConfig:
    max_rows: Optional[int] = None  # sets task.train_size (the features are then a feature job's with that size)
    batch_size: int = 128
    # of the fine-tuned runs, for the weighted Kendall tau; null: best_<the task type's monitor> (best_val/acc, ...)
    metric: Optional[str] = None
    mode: Optional[str] = None  # null: that metric's direction
    method: str = "scores"
    # select.method=halving: the arms are candidates x strategies, each a sweep.run job of a short budget
    strategy: str = "lora"
    strategies: Optional[List[str]] = None  # several strategies (null: [select.strategy])
    min_steps: int = 16  # optimizer steps of round 0; round r trains min_steps x eta^r
    eta: int = 2  # keep the best 1/eta of the arms each round
    rounds: Optional[int] = None  # at most this many rounds (null: until one arm is left)

    def __post_init__(self) -> None:
        require(self.method in METHODS, "select.method", self.method, f"must be one of {', '.join(METHODS)}")
        require(self.min_steps >= 1, "select.min_steps", self.min_steps, "must be >= 1 (optimizer steps of round 0)")
        require(self.eta >= 2, "select.eta", self.eta, "must be >= 2 (keep the best 1/eta of the arms each round)")
        require(self.rounds is None or self.rounds >= 1, "select.rounds", self.rounds, "must be >= 1 (or null: until one arm is left)")
        if self.strategies is not None:
            require(len(self.strategies) >= 1, "select.strategies", list(self.strategies), "needs at least one strategy (or null)")
            unique = len(set(self.strategies)) == len(self.strategies)
            require(unique, "select.strategies", list(self.strategies), "must not repeat a strategy")
        require(self.max_rows is None or self.max_rows >= 4, "select.max_rows", self.max_rows, "must be >= 4 (or null)")
        require(self.batch_size >= 1, "select.batch_size", self.batch_size, "must be >= 1")
        if self.metric is not None:
            require(bool(self.metric.strip()), "select.metric", self.metric, "must name a metric of the fine-tuned runs")
        if self.mode is not None:
            require(self.mode in MODES, "select.mode", self.mode, f"must be one of {', '.join(MODES)}")


@dataclass
class SelectRoot:
    seed: int = 42
    paths: PathsConfig = field(default_factory=PathsConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    candidates: List[str] = field(default_factory=list)
    scores: List[str] = field(default_factory=lambda: ["logme", "hscore", "knn"])
    select: SelectConfig = field(default_factory=SelectConfig)


@dataclass
class Plan:
    root: SelectRoot
    jobs: dict[str, JobConfig]  # candidate -> its strategy=feature job, in the order given (empty: no scores asked)
    config: dict = field(default_factory=dict)  # the resolved select config, task.train_size set by select.max_rows
    arms: dict = field(default_factory=dict)  # select.method=halving: (model, strategy) -> its job's config tree (sweep/select/arms.py)


def validate_select(cfg: DictConfig) -> Plan:
    """Raises ConfigError naming the first bad key: scores, candidates, task, select.*."""
    from sweep.select.scores import SCORES

    plain = job_container(cfg)
    root: SelectRoot = typed(SelectRoot, plain)
    halving = root.select.method == "halving"
    if not (halving and not root.scores):  # halving with scores=[]: the short fine-tunes alone
        require(len(root.scores) >= 1, "scores", list(root.scores), f"needs at least one score; known: {', '.join(SCORES.names())}")
    require(len(set(root.scores)) == len(root.scores), "scores", list(root.scores), "must not repeat a score")
    for name in root.scores:
        if name not in SCORES:
            raise ConfigError("scores", f"unknown score {name}; known: {', '.join(SCORES.names())}", list(root.scores))
    require(root.task.kind != "multi", "task", root.task.name, "select scores one task at a time: choose one of its sub-tasks")
    task_type = TASK_TYPES.get(root.task.type)
    require(
        bool(task_type.select_targets) or not root.scores,
        "task",
        root.task.name,
        f"select scores frozen features against classes or numbers; task.type={task_type.name} writes text: compare the "
        "candidates fine-tuned instead (python -m sweep.run -m model=a,b trainer.max_steps=...; python -m sweep.report)",
    )
    usable = [name for name in SCORES.names() if SCORES.get(name).reads in task_type.select_targets]
    for name in root.scores:  # H-score and the probes need classes: a number or a set of labels per row has none
        reads = SCORES.get(name).reads
        why = f"{name} scores {reads}; task.type={task_type.name} has {' and '.join(task_type.select_targets)}: use {', '.join(usable)}"
        require(name in usable, "scores", list(root.scores), why)
    if root.select.metric is None:
        root.select.metric = f"best_{task_type.default_monitor(root.task)}"
    if root.select.mode is None:
        root.select.mode = task_type.direction(root.select.metric.removeprefix("best_")) or "max"
    if root.select.max_rows is not None:
        root.task.train_size = min(root.task.train_size or root.select.max_rows, root.select.max_rows)
        plain["task"]["train_size"] = root.task.train_size
    options = model_options()
    candidates = list(root.candidates)
    if not candidates:
        raise ConfigError("candidates", f"needs at least one model; choose from {', '.join(options)}", candidates)
    require(len(set(candidates)) == len(candidates), "candidates", candidates, "must not repeat a model")
    dual = task_type.head == "dual"  # image_text: candidates are tower pairs, <vision>+<text> (sweep/select/pairs.py)
    if dual:
        from sweep.select.pairs import pair_names

        require(not halving, "select.method", "halving", "image_text candidates are scored by their towers' features: use scores")
    sides = [side for name in candidates for side in (pair_names(name) if dual else (name,))]
    unknown = [name for name in sides if name not in options]
    if unknown:
        raise ConfigError("candidates", f"unknown model {', '.join(unknown)}; choose from {', '.join(options)}", candidates)
    jobs = {}
    for name in candidates if root.scores else []:
        try:
            jobs[name] = feature_job(name, plain, dual)
        except ConfigError as error:
            if dual:  # a tower that reads the wrong modality: the tower's own error names the models that fit
                raise ConfigError("candidates", f"{name}: {error}", candidates) from None
            fit = [option for option in options if _fits(option, plain)]
            raise ConfigError(
                "candidates", f"{name} has no usable pooled representation here: {error}; models that fit: {', '.join(fit)}", candidates
            ) from None
    arms = {}
    if halving:
        from sweep.select.arms import arm_configs

        arms = arm_configs(root, plain, {name: model_node(name) for name in candidates})
    return Plan(root, jobs, plain, arms)


def model_options() -> list[str]:
    """The model group's names: conf/model/ and the zoo folder of sweep.pretrain (as sweep.run sees them); not a dual
    encoder's file, whose candidates are its tower pairs (sweep/select/pairs.py)."""
    from sweep.config.groups import CONF, group_options, zoo_dir

    return [name for name in group_options("model", [CONF, zoo_dir()]) or [] if model_node(name).get("family") != "dual_encoder"]


def model_node(name: str) -> dict:
    from sweep.config.groups import CONF, zoo_dir

    for root in (CONF, zoo_dir()):
        path = root / "model" / f"{name}.yaml"
        if path.is_file():
            return OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    raise ConfigError("candidates", "no such model file", name)


def feature_job(name: str, plain: dict, dual: bool = False) -> JobConfig:
    """The validated config of ``python -m sweep.run model=<name> strategy=feature`` on this task (``dual``: a pair
    <vision>+<text>, as ``model=dual_encoder model.vision=<vision> model.text=<text>``)."""
    from sweep.pipeline.validate import validate
    from sweep.select.pairs import pair_node

    model = pair_node(name, model_node) if dual else model_node(name)
    if "<" in str(model.get("source", "")):  # conf/model/saved.yaml: a placeholder, no candidate by itself
        raise ConfigError("model.source", "a placeholder: name a kept model by its zoo name (pretrain.save_as)", model["source"])
    tree = {
        "seed": plain["seed"],
        "paths": plain["paths"],
        "model": model,
        "task": plain["task"],
        "tracking": plain["tracking"],
        "strategy": {"name": "feature"},
    }
    return validate(OmegaConf.create(tree))


def _fits(name: str, plain: dict) -> bool:
    try:
        feature_job(name, plain)
        return True
    except ConfigError:
        return False
