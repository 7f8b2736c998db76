"""Config schemas: one dataclass per config group, checked before any model is loaded.

Hydra composes plain YAML (conf/); ``validate`` merges it into these dataclasses, so a wrong type,
an unknown key or a value out of range fails with the key's full name in about a second.
A strategy's own keys are validated by the schema its registry entry declares (sweep/strategies/);
names that a feature's registry knows (families, task kinds, strategies, augmenters, schedulers) are
checked by ``validate`` (sweep/pipeline/validate.py). Only the standard library and omegaconf are imported here.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sweep.config.errors import ConfigError, require

POOLINGS = ("mean", "cls", "last")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")  # auto: sweep/runtime/hardware.py
DIRECTIONS = ("maximize", "minimize")
SAMPLINGS = ("proportional", "temperature")  # how a multi-task epoch draws rows across sub-tasks
SAVE_MODEL = ("auto", "always", "never")  # sweep/tracking/kept_models.py
TOWERS = ("vision", "text")  # a dual encoder's (model.family=dual_encoder)
MODALITIES = ("text", "image", "image_text")  # what a task's rows are (task.modality) and what a model family reads
TRAINER_STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")  # Lightning's names; DDP: sweep/distributed/ranks.py


def one_of(key: str, value: Any, allowed: tuple) -> None:
    require(value in allowed, key, value, f"must be one of {', '.join(map(str, allowed))}")


@dataclass
class ModelConfig:
    name: str = MISSING
    # "asset:<name>" (a packaged checkpoint, see sweep/zoo/assets.py), "random:<model_type>"
    # (randomly initialised from config_overrides, for tests), a Hugging Face hub id or a local folder.
    source: str = MISSING
    tokenizer: Optional[str] = None  # same forms as source; default: the source's own tokenizer
    family: str = "encoder"
    pooling: Optional[str] = None  # default: the family's (mean for encoders, last token for decoders)
    dropout: float = 0.1  # before the classification head
    config_overrides: Dict[str, Any] = field(default_factory=dict)  # passed to the HF config
    # dropout on the attention probabilities, whatever the model type calls it (sweep/zoo/loader.py); null: the
    # checkpoint's. 0 lets PyTorch's fused attention kernel run on CPU (dropout sends it to the slow math path)
    attention_dropout: Optional[float] = None
    # family dual_encoder (conf/model/dual_encoder.yaml, sweep/models/dual_encoder.py): its two towers, each a
    # conf/model name or a kept run (runs:/<id>/model), projected to projection_dim and compared by cosine x exp(scale)
    vision: Optional[str] = None
    text: Optional[str] = None
    projection_dim: int = 128
    temperature: float = 0.07  # the learnable temperature's start (CLIP's)
    # the towers the strategy fine-tunes; the others stay frozen (the projections always train): [text] with
    # strategy=full is locked-image tuning (LiT), [] is strategy=feature
    tuned_towers: List[str] = field(default_factory=lambda: ["vision", "text"])
    lr_scale: Dict[str, float] = field(default_factory=lambda: {"vision": 1.0, "text": 1.0})  # each tower's lr: optim.lr x this
    # strategy=partial: each tower's own depth (its blocks frozen from the bottom); null: strategy.freeze_depth
    tower_freeze_depth: Dict[str, Optional[int]] = field(default_factory=lambda: {"vision": None, "text": None})

    def __post_init__(self) -> None:
        for tower in self.tuned_towers:
            one_of("model.tuned_towers", tower, TOWERS)
        for tower, scale in self.lr_scale.items():
            one_of("model.lr_scale", tower, TOWERS)
            require(scale > 0, f"model.lr_scale.{tower}", scale, "must be > 0")
        for tower, depth in self.tower_freeze_depth.items():
            one_of("model.tower_freeze_depth", tower, TOWERS)
            require(depth is None or depth >= 0, f"model.tower_freeze_depth.{tower}", depth, "must be >= 0 (or null)")
        require(self.projection_dim >= 1, "model.projection_dim", self.projection_dim, "must be >= 1")
        require(0.0 < self.temperature <= 1.0, "model.temperature", self.temperature, "must be in (0, 1]")
        if self.pooling is not None:
            one_of("model.pooling", self.pooling, POOLINGS)
        require(0.0 <= self.dropout < 1.0, "model.dropout", self.dropout, "must be in [0, 1)")
        if self.attention_dropout is not None:
            require(0.0 <= self.attention_dropout < 1.0, "model.attention_dropout", self.attention_dropout, "must be in [0, 1), or null")
            kept = "a kept model (runs:/) is built from its own saved config: set it when training the model it came from"
            require(not self.source.startswith("runs:/"), "model.attention_dropout", self.attention_dropout, kept)


CHAT_TEMPLATES = ("auto", "always", "never")  # causal_lm: wrap prompts in the tokenizer's chat template


@dataclass
class GenerateConfig:
    """How generation tasks (seq2seq, causal_lm) generate at validation and test (lightning_modules/generation.py)."""

    max_new_tokens: int = 32
    num_beams: int = 1  # 1: greedy; more: beam search
    length_penalty: float = 1.0  # beam search: > 1 favours longer outputs, < 1 shorter
    # rows generated at each validation of a fit (a fixed subset: the first rows of the split, so the best
    # validation is chosen among scores of the same rows); the test and trainer.fit=false: every row; null: every row
    val_rows: Optional[int] = 64
    examples: int = 8  # (source, reference, prediction) rows logged per evaluation as generations/*.json
    chat_template: str = "auto"  # causal_lm: auto = the tokenizer's chat template where it has one

    def __post_init__(self) -> None:
        require(1 <= self.max_new_tokens <= 4096, "task.generate.max_new_tokens", self.max_new_tokens, "must be in [1, 4096]")
        require(1 <= self.num_beams <= 64, "task.generate.num_beams", self.num_beams, "must be in [1, 64]")
        require(
            self.length_penalty > -10 and self.length_penalty < 10,
            "task.generate.length_penalty",
            self.length_penalty,
            "must be in (-10, 10)",
        )
        require(self.val_rows is None or self.val_rows >= 1, "task.generate.val_rows", self.val_rows, "must be >= 1 (or null: every row)")
        require(self.examples >= 0, "task.generate.examples", self.examples, "must be >= 0")
        one_of("task.generate.chat_template", self.chat_template, CHAT_TEMPLATES)


@dataclass
class TaskConfig:
    name: str = MISSING
    # loader: rotten_tomatoes | csv | vader_movie_ratings | debian_tags (sweep/data/sources.py) | conll | tweet_ner
    # (word-tagged sentences: sweep/data/word_sources.py) | fashion_mnist | mnist | digits (sweep/data/image_sources.py)
    # | multi (sweep/data/multitask.py); the one list: sweep/data/kinds.py
    kind: str = MISSING
    modality: str = "text"  # what a row is: text or image; the model's family must read it (sweep/models/families.py)
    # what is predicted, and so the head, loss, metrics and monitor (sweep/task_types/): classification | multilabel
    # | regression | token_classification
    type: str = "classification"
    label_separator: str = "|"  # multilabel: the labels of a row in its label column, e.g. "grain|wheat"
    tag_column: int = -1  # token files in CoNLL style (task=conll): the column holding the tag; -1 the last
    text_pair_column: Optional[str] = None  # a second text per row (entailment, paraphrase, similarity), encoded as a pair
    loss: Optional[str] = None  # the type's loss; null: its default (regression: mse | huber)
    huber_delta: float = 1.0  # regression with loss=huber, in standard deviations of the training target
    tasks: Optional[List[str]] = None  # kind=multi: the sub-tasks, names of conf/task/ files
    # kind=multi: proportional (every row once per epoch) or temperature (sub-task t drawn with
    # probability proportional to n_t ** (1 / sampling_temperature): small sub-tasks seen more often)
    sampling: str = "proportional"
    sampling_temperature: float = 2.0
    labels: Optional[List[str]] = None  # label names in id order; default: the sorted names found
    label_map: Optional[Dict[str, str]] = None  # raw label value -> label name; unmapped rows are dropped
    path: Optional[str] = None  # csv/jsonl file for kind=csv
    encoding: str = "utf-8"  # of that file's text (Python's codec names: latin-1, cp1252, utf-16, ...)
    text_column: str = "text"
    label_column: str = "label"
    # generation (sweep/task_types/generation.py): seq2seq reads source -> target, causal_lm prompt -> response
    source_column: str = "source"
    target_column: str = "target"
    prompt_column: str = "prompt"
    response_column: str = "response"
    max_target_length: int = 64  # tokens of a target or response kept for training and as the reference
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    group_column: Optional[str] = None  # rows sharing a group never straddle two splits
    split_column: Optional[str] = None  # a column holding train/val/test, if the file has splits
    train_size: Optional[int] = None  # rows; null = all rows left after val and test
    val_size: Optional[int] = None  # rows; null = holdout_fraction of the data
    test_size: Optional[int] = None
    holdout_fraction: float = 0.1
    # image_text (sweep/data/image_text_sources.py): k whole classes held out for val and k others for test, so that
    # zero-shot accuracy there means transfer to unseen classes; null: the rows are split like any task's
    heldout_classes: Optional[int] = None
    zeroshot_prompt: str = "a picture of {label}."  # image_text: each class name as the text zero-shot compares images with
    max_length: int = 64
    split_seed: int = 0  # fixed apart from `seed`: the same split for every run of a sweep

    def __post_init__(self) -> None:
        for key in ("train_size", "val_size", "test_size"):
            value = getattr(self, key)
            require(value is None or value >= 0, f"task.{key}", value, "must be >= 0 (or null)")
        require(self.val_size != 0, "task.val_size", 0, "must be > 0: validation drives early stopping")
        require(self.train_size != 0, "task.train_size", 0, "must be > 0")
        require(0.0 < self.holdout_fraction < 0.5, "task.holdout_fraction", self.holdout_fraction, "must be in (0, 0.5)")
        require(
            self.heldout_classes is None or self.heldout_classes >= 1,
            "task.heldout_classes",
            self.heldout_classes,
            "must be >= 1 (or null)",
        )
        require(
            "{label}" in self.zeroshot_prompt,
            "task.zeroshot_prompt",
            self.zeroshot_prompt,
            "must contain {label}, e.g. 'a picture of {label}.'",
        )
        require(8 <= self.max_length <= 8192, "task.max_length", self.max_length, "must be in [8, 8192]")
        require(1 <= self.max_target_length <= 8192, "task.max_target_length", self.max_target_length, "must be in [1, 8192]")
        if self.labels is not None:
            require(len(set(self.labels)) >= 2, "task.labels", self.labels, "needs at least two distinct labels")
        one_of("task.modality", self.modality, MODALITIES)
        try:  # an unknown name, or a codec that does not turn bytes into text (base64, rot13)
            text = getattr(codecs.lookup(self.encoding), "_is_text_encoding", True)
        except LookupError:
            text = False
        require(text, "task.encoding", self.encoding, "unknown text encoding; e.g. utf-8, latin-1, cp1252, utf-16")
        one_of("task.sampling", self.sampling, SAMPLINGS)
        require(len(self.label_separator) >= 1, "task.label_separator", self.label_separator, "must not be empty")
        require(self.huber_delta > 0, "task.huber_delta", self.huber_delta, "must be > 0")
        require(self.sampling_temperature >= 1.0, "task.sampling_temperature", self.sampling_temperature, "must be >= 1 (1 = proportional)")
        if self.kind == "multi":
            require(
                self.tasks is not None and len(self.tasks) >= 2,
                "task.tasks",
                self.tasks,
                "multi-task training needs at least two sub-tasks",
            )


@dataclass
class OptimConfig:
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # of the total optimizer steps
    scheduler: str = "linear"  # decay after warmup
    layer_decay: float = 1.0  # layer-wise lr decay (sweep/pipeline/optim.py): each level down gets layer_decay x; 1.0 = off
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        require(self.lr > 0, "optim.lr", self.lr, "must be > 0")
        require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, "must be >= 0")
        require(0.0 <= self.warmup_ratio < 1.0, "optim.warmup_ratio", self.warmup_ratio, "must be in [0, 1)")
        require(0.0 < self.layer_decay <= 1.0, "optim.layer_decay", self.layer_decay, "must be in (0, 1]")
        require(self.batch_size >= 1, "optim.batch_size", self.batch_size, "must be >= 1")
        require(self.eval_batch_size >= 1, "optim.eval_batch_size", self.eval_batch_size, "must be >= 1")


@dataclass
class TrainerConfig:
    max_epochs: int = 1
    max_steps: int = -1  # -1: no step limit (max_epochs decides)
    val_check_interval: float = 1.0  # fraction of an epoch between validations (pruning acts there)
    early_stopping_patience: Optional[int] = 3  # validations without improvement; null = off
    monitor: str = "auto"  # auto: the task type's (val/acc, val/rmse, val/f1, ...); sweep/task_types/
    mode: str = "auto"  # auto: the monitored metric's own direction (max for accuracy, min for rmse and loss)
    precision: str = "auto"  # bf16-mixed where the CPU or GPU computes bf16 natively, else 32-true
    accelerator: str = "auto"
    devices: Any = "auto"
    # auto: DDP when there are several devices. Spawned ranks (ddp_spawn, ddp_fork) cannot hand back the trained
    # model, nor be followed by sweep/pipeline/follower.py; ddp starts them as followers of rank 0 (sweep/distributed/launcher.py)
    strategy: str = "auto"
    num_nodes: int = 1  # DDP across nodes (SLURM: --nodes): every node runs trainer.devices processes
    gradient_clip_val: Optional[float] = 1.0  # max gradient norm; null or 0 = no clipping
    log_every_n_steps: int = 10
    restore_best: bool = True  # test with the weights of the best validation, not the last ones
    fit: bool = True  # false: evaluate only (validate once, then test), e.g. a kept model (model.source=runs:/<id>/model)

    def __post_init__(self) -> None:
        require(self.max_epochs >= 1, "trainer.max_epochs", self.max_epochs, "must be >= 1")
        require(self.max_steps == -1 or self.max_steps >= 1, "trainer.max_steps", self.max_steps, "must be -1 or >= 1")
        require(0.0 < self.val_check_interval <= 1.0, "trainer.val_check_interval", self.val_check_interval, "must be in (0, 1]")
        p = self.early_stopping_patience
        require(p is None or p >= 1, "trainer.early_stopping_patience", p, "must be >= 1 or null")
        one_of("trainer.mode", self.mode, ("auto", "max", "min"))
        one_of("trainer.precision", self.precision, PRECISIONS)
        one_of("trainer.strategy", self.strategy, TRAINER_STRATEGIES)
        require(self.num_nodes >= 1, "trainer.num_nodes", self.num_nodes, "must be >= 1")
        clip = self.gradient_clip_val
        require(clip is None or clip >= 0, "trainer.gradient_clip_val", clip, "must be >= 0 (or null: no clipping)")
        require(self.log_every_n_steps >= 1, "trainer.log_every_n_steps", self.log_every_n_steps, "must be >= 1")


@dataclass
class DistillConfig:
    """Knowledge distillation (sweep/pipeline/teacher.py); composes with every strategy. No teacher: off."""

    teacher: Optional[str] = None  # runs:/<run_id>/model, a model name from conf/model/, a folder or a hub id
    alpha: float = 0.5  # weight of the true labels' cross-entropy; 1 - alpha goes to the teacher's soft labels
    temperature: float = 2.0  # softens both distributions in the soft term

    def __post_init__(self) -> None:
        require(0.0 <= self.alpha <= 1.0, "distill.alpha", self.alpha, "must be in [0, 1]")
        require(self.temperature > 0, "distill.temperature", self.temperature, "must be > 0")
        if self.teacher is not None:
            require(bool(self.teacher.strip()), "distill.teacher", self.teacher, "must not be empty (null: no teacher)")


@dataclass
class AugmentConfig:
    """The `augment` group: augmentation of the training split; none: off. tokens: text (sweep/data/token_augment.py);
    images: random shifts and crops (sweep/data/image_augment.py)."""

    name: str = "none"  # none | tokens | images
    p_mask: float = 0.0  # each content token replaced by the tokenizer's mask token
    p_delete: float = 0.0  # each content token dropped (a row keeps at least one)
    p_swap: float = 0.0  # each content token swapped with the next one
    p_insert: float = 0.0  # a token of the training vocabulary inserted before each content token
    max_shift: float = 0.0  # images: each image moved by up to this fraction of its side, in x and y
    min_crop: float = 1.0  # images: a random square crop of side in [min_crop, 1] of the image, resized back

    def __post_init__(self) -> None:
        for key in ("p_mask", "p_delete", "p_swap", "p_insert"):
            value = getattr(self, key)
            require(0.0 <= value <= 1.0, f"augment.{key}", value, "must be in [0, 1]")
        require(0.0 <= self.max_shift <= 0.5, "augment.max_shift", self.max_shift, "must be in [0, 0.5]")
        require(0.25 <= self.min_crop <= 1.0, "augment.min_crop", self.min_crop, "must be in [0.25, 1]")


@dataclass
class TrackingConfig:
    uri: Optional[str] = None  # default: $MLFLOW_TRACKING_URI, else sqlite under paths.output_dir
    experiment: str = "sweep"
    run_name: Optional[str] = None
    # keep the trained model as the run's `model` artifact: auto = single runs, grid jobs and a search's best trial
    save_model: str = "auto"

    def __post_init__(self) -> None:
        require(bool(self.experiment.strip()), "tracking.experiment", self.experiment, "must not be empty")
        one_of("tracking.save_model", self.save_model, SAVE_MODEL)


@dataclass
class PathsConfig:
    output_dir: str = "outputs"  # embedded stores and run folders, relative to where you run
    cache_dir: str = "outputs/cache"  # converted checkpoints, token and feature caches


# search.constraints: name -> the run metric it bounds (a job logs it; sweep/pipeline/job.py finished_outcome)
SEARCH_CONSTRAINTS = {"trainable_share": "params_trainable_share", "train_s": "train_time_s", "peak_memory_mb": "peak_memory_mb"}
SEARCH_CONSTRAINTS_TAG = "search.constraints"  # on a search's parent run: its limits (JSON), the report's default limits


@dataclass
class SearchConfig:
    """The `search` group (an Optuna search); checked before any storage or tracking store is touched."""

    study_name: Optional[str] = None  # null: derived from the command, so re-running it resumes
    storage: Optional[str] = None  # null: sqlite under paths.output_dir/optuna/; journal:<file>; postgresql://...
    n_trials: int = 12  # budget for the whole study, counted in the storage, shared by all workers
    n_jobs: int = 1  # trials in flight in this process (>1 needs a process launcher: joblib, submitit)
    sampler: str = "tpe"
    pruner: str = "median"
    seed: Optional[int] = 0
    # null: the job's trainer.monitor and its direction (the task type's default: val/acc, val/rmse, ...)
    metrics: Optional[List[str]] = None
    directions: Optional[List[str]] = None
    max_failure_rate: float = 0.5  # stop when more of the finished trials than this failed
    sampler_options: Dict[str, Any] = field(default_factory=dict)  # passed to the Optuna sampler
    pruner_options: Dict[str, Any] = field(default_factory=dict)  # passed to the Optuna pruner
    prune_within: List[str] = field(default_factory=list)  # params that group trials: the pruner compares within a group
    heartbeat_interval: int = 30  # seconds between a running trial's heartbeats
    grace_period: int = 600  # a trial of another host without a heartbeat for this long is dead
    space: Dict[str, Any] = field(default_factory=dict)  # key -> {low, high, log, step} or {choices}
    strategy_spaces: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # strategy -> its own space
    # against the winner's curse (sweep/search/confirm.py): once the budget is spent, re-run the top `confirm_top`
    # complete trials (of each group of `confirm_within` params, if any) with `confirm` new seeds each; 0: off
    confirm: int = 0
    confirm_top: int = 3
    confirm_within: List[str] = field(default_factory=list)
    # study-level stops (sweep/search/stopping.py), each seen by every worker of the study; null: off
    patience: Optional[int] = None  # stop after this many complete trials without an improvement above min_delta
    min_delta: float = 0.0
    timeout: Optional[float] = None  # seconds of wall clock since the study started (a resumed study keeps its clock)
    target: Optional[float] = None  # stop once the best value of the first metric reaches this, in its direction
    # name -> limit (SEARCH_CONSTRAINTS): a trial above a limit is infeasible, never the best while a feasible one exists
    constraints: Dict[str, float] = field(default_factory=dict)
    # the best configurations of earlier work as the first trials (sweep/search/warm_start.py): a study name,
    # <storage URL>::<study>, or mlflow:<experiment>; null: a cold start
    warm_start: Optional[str] = None
    warm_start_top: int = 3
    # no configuration trained twice (sweep/tracking/reuse.py): a job whose configuration, data and code match a
    # finished run is answered from it; also in grids and single runs (conf/config.yaml). reuse_counts: in a
    # search, a reused trial uses the budget (default: it does not, up to n_trials of them)
    reuse: bool = False
    reuse_counts: bool = False

    def __post_init__(self) -> None:
        require(self.n_trials >= 1, "search.n_trials", self.n_trials, "must be >= 1")
        require(self.warm_start_top >= 1, "search.warm_start_top", self.warm_start_top, "must be >= 1 (configurations enqueued)")
        require(self.confirm >= 0, "search.confirm", self.confirm, "must be >= 0 (new seeds per confirmed trial; 0: no confirmation)")
        require(self.confirm_top >= 1, "search.confirm_top", self.confirm_top, "must be >= 1 (how many of the best trials are confirmed)")
        require(self.n_jobs >= 1, "search.n_jobs", self.n_jobs, "must be >= 1")
        require(0.0 < self.max_failure_rate <= 1.0, "search.max_failure_rate", self.max_failure_rate, "must be in (0, 1]")
        require(self.heartbeat_interval >= 1, "search.heartbeat_interval", self.heartbeat_interval, "must be >= 1")
        require(
            self.grace_period > self.heartbeat_interval, "search.grace_period", self.grace_period, "must exceed search.heartbeat_interval"
        )
        if self.metrics is not None:  # null: filled from the job's monitor by sweep/pipeline/validate.py
            require(len(self.metrics) >= 1, "search.metrics", self.metrics, "needs at least one metric")
            require(len(set(self.metrics)) == len(self.metrics), "search.metrics", list(self.metrics), "must not repeat a metric")
        for direction in self.directions or []:
            require(direction in DIRECTIONS, "search.directions", list(self.directions), f"each must be one of {', '.join(DIRECTIONS)}")
        metrics = list(self.metrics or [])
        if self.directions is not None and len(self.directions) != len(metrics):
            message = f"{len(self.directions)} direction(s) for {len(metrics)} metric(s) {metrics}: give one per metric"
            raise ConfigError("search.directions", message, list(self.directions))
        if self.study_name is not None:
            require(bool(self.study_name.strip()), "search.study_name", self.study_name, "must not be empty")
        if self.patience is not None:
            require(self.patience >= 1, "search.patience", self.patience, "must be >= 1 (complete trials without improvement), or null")
        require(math.isfinite(self.min_delta) and self.min_delta >= 0, "search.min_delta", self.min_delta, "must be >= 0")
        if self.timeout is not None:
            require(math.isfinite(self.timeout) and self.timeout > 0, "search.timeout", self.timeout, "must be > 0 (seconds), or null")
        if self.target is not None:
            require(math.isfinite(self.target), "search.target", self.target, "must be a finite number, or null")
        allowed = ", ".join(SEARCH_CONSTRAINTS)
        for name, limit in self.constraints.items():
            key = f"search.constraints.{name}"
            require(name in SEARCH_CONSTRAINTS, key, limit, f"unknown constraint; allowed: {allowed}")
            upper = 1.0 if name == "trainable_share" else math.inf
            bound = "in (0, 1] (a fraction)" if upper == 1.0 else "> 0"
            require(limit is not None and math.isfinite(limit) and 0 < limit <= upper, key, limit, f"must be {bound}")

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics or []) > 1


@dataclass
class TrialConfig:
    """How a job finds the Optuna trial it runs: set by the optuna sweeper, never by hand."""

    study_name: str = MISSING  # the storage comes from the job's own `search` config
    trial_id: int = MISSING
    number: Optional[int] = None  # the trial's number in its study (run names and tags)


@dataclass
class RootConfig:
    seed: int = 42
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    strategy: Dict[str, Any] = field(default_factory=dict)  # validated by the chosen strategy's schema
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: Optional[Dict[str, Any]] = None  # the sweeper's settings; jobs ignore them
    nightly: Optional[Dict[str, Any]] = None  # experiment=nightly's matrix (sweep/nightly/matrix.py); jobs ignore it
    trial: Optional[TrialConfig] = None


@dataclass
class JobConfig:
    """The validated config of one job: typed groups plus the chosen strategy's own dataclass."""

    root: RootConfig
    strategy: Any  # an instance of the strategy's config dataclass
    teacher: Optional[str] = None  # distill.teacher where the strategy trains under it (see Strategy.teacher_use)


def typed(schema: type, cfg: Any, prefix: str = "") -> Any:
    """Merge ``cfg`` into ``schema`` and build the dataclass, turning OmegaConf errors into ConfigErrors."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = prefix + (getattr(e, "full_key", None) or "")
        raise ConfigError(key or "config", str(getattr(e, "msg", e)).splitlines()[0]) from None


def job_container(cfg: DictConfig) -> dict:
    """The resolved config without Hydra's own node (which only resolves inside a job)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), resolve=True)


JOB_SEARCH_KEYS = ("reuse", "reuse_counts")  # the `search` keys every job has (conf/config.yaml); any other makes a search


def is_search(tree: Any) -> bool:
    """Whether a ``search`` node is a search's (search=optuna), not only the keys every job has."""
    return tree is not None and any(key not in JOB_SEARCH_KEYS for key in tree)


def search_config(tree: dict | None) -> SearchConfig:
    """The ``search`` node of a job's config, typed and checked."""
    return typed(SearchConfig, tree or {}, prefix="search.")
