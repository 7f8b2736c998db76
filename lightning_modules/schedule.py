"""The learning-rate schedule: linear warmup, then a decay by name. No Lightning import: the config
schema reads the names from here."""

from __future__ import annotations

from dataclasses import dataclass

# our name -> the name transformers.get_scheduler knows
SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


@dataclass
class Schedule:
    lr: float
    warmup_ratio: float
    scheduler: str  # a key of SCHEDULERS: the decay after warmup
