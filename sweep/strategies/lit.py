"""Locked-image tuning (LiT, Zhai et al. 2022): a dual encoder's image tower stays as pre-trained (locked), its text
tower and both projections train. The same as ``strategy=full model.tuned_towers=[text]``; a strategy of its own so
that a grid (``-m strategy=full,lit,feature``) and the report compare it by name."""

from sweep.strategies.base import STRATEGIES
from sweep.strategies.full import FullFineTuning


@STRATEGIES.register("lit")
class LockedImageTuning(FullFineTuning):
    towers = ("text",)
