"""Knowledge distillation as the seed article names it: full fine-tuning of the student under a teacher.

The teacher itself is an axis of its own (``distill.teacher``, sweep/pipeline/teacher.py) that every strategy but
``full`` trains under when it is set; ``strategy=distill`` insists on it, and ``full`` never uses it, so
that ``-m strategy=full,distill distill.teacher=...`` compares the student trained alone with the
student trained under the teacher, all else equal.
"""

from sweep.strategies.base import STRATEGIES
from sweep.strategies.full import FullFineTuning


@STRATEGIES.register("distill")
class Distillation(FullFineTuning):
    teacher_use = "required"
