"""The ``pretrain`` node of conf/pretrain.yaml and the validated config of one pre-training job.

Shares the groups of sweep.run (model, task, optim, trainer, tracking) and their dataclasses
(sweep/config/schema.py); only the ``pretrain`` node is new. Checked before any model loads or run opens:
an objective the model's family cannot train fails here, naming the key and the allowed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from omegaconf import DictConfig

from sweep.config.errors import ConfigError, require
from sweep.config.groups import CONF
from sweep.config.schema import (
    AugmentConfig,
    ModelConfig,
    OptimConfig,
    PathsConfig,
    TaskConfig,
    TrackingConfig,
    TrainerConfig,
    job_container,
    typed,
)
from sweep.data.augment import check_augment
from sweep.models.families import check_reads

ZOO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a file name Hydra can choose: model=<name>
MONITORS = ("val/loss", "val/perplexity", "val/acc")


@dataclass
class PretrainConfig:
    # mlm (encoder) | clm (decoder) | span (encoder_decoder): sweep/pretrain/objectives.py
    # | image_classification (vision: supervised, on an image task's labels): sweep/pretrain/image_objectives.py
    objective: str = "mlm"
    mask_probability: float = 0.15  # mlm: share of tokens chosen for prediction
    noise_density: float = 0.15  # span: share of tokens corrupted
    mean_span_length: float = 3.0  # span: mean length of a corrupted span
    save_as: Optional[str] = None  # a zoo name: afterwards `python -m sweep.run model=<save_as>`

    def __post_init__(self) -> None:
        require(0.0 < self.mask_probability < 1.0, "pretrain.mask_probability", self.mask_probability, "must be in (0, 1)")
        require(0.0 < self.noise_density < 1.0, "pretrain.noise_density", self.noise_density, "must be in (0, 1)")
        require(self.mean_span_length >= 1.0, "pretrain.mean_span_length", self.mean_span_length, "must be >= 1")
        if self.save_as is not None:
            require(bool(ZOO_NAME.match(self.save_as)), "pretrain.save_as", self.save_as, "must be a plain name: letters, digits, _ . -")
            shipped = (CONF / "model" / f"{self.save_as}.yaml").exists()
            require(not shipped, "pretrain.save_as", self.save_as, "is a model of conf/model/ already: choose another name")


@dataclass
class PretrainRoot:
    seed: int = 42
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def validate_pretrain(cfg: DictConfig) -> PretrainRoot:
    """Check a composed conf/pretrain.yaml completely; raises ConfigError naming the first bad key."""
    from sweep.pretrain.objectives import OBJECTIVES, objectives_of

    root: PretrainRoot = typed(PretrainRoot, job_container(cfg))
    objective = OBJECTIVES.get(root.pretrain.objective)  # unknown: lists the known ones
    family = root.model.family
    if family not in objective.families:
        allowed = ", ".join(objectives_of(family)) or "none"
        raise ConfigError(
            "pretrain.objective", f"model.family={family} (model {root.model.name}) supports: {allowed}", root.pretrain.objective
        )
    check_reads(family, root.model.name, root.task)  # a vision model on a text task, or the reverse
    check_augment(root.augment, root.pretrain.objective, False, root.task.modality)
    if objective.modality == "text":  # masking and span corruption are the text objectives' own noise
        require(
            root.augment.name == "none",
            "augment",
            root.augment.name,
            f"pretrain.objective={root.pretrain.objective} corrupts its text itself: use augment=none",
        )
    if root.model.source.startswith("runs:/"):  # a kept classifier's backbone: not wired yet (docs/pretraining.md)
        raise ConfigError("model.source", "pre-training starts from asset:, random:, a folder or a hub id", root.model.source)
    require(root.trainer.monitor in MONITORS, "trainer.monitor", root.trainer.monitor, f"must be one of {', '.join(MONITORS)}")
    if root.trainer.mode == "auto":  # as sweep.run's: the monitored metric's own direction
        root.trainer.mode = "max" if root.trainer.monitor == "val/acc" else "min"
    require(root.optim.layer_decay == 1.0, "optim.layer_decay", root.optim.layer_decay, "must be 1.0 in pre-training (every layer learns)")
    require(root.trainer.fit, "trainer.fit", root.trainer.fit, "pre-training trains: must be true")
    return root
