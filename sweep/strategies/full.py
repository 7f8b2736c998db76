"""Full fine-tuning: every parameter of the backbone and the head trains, on the labels alone.

It never trains under a teacher: full fine-tuning under a teacher is ``strategy=distill``, so that
``-m strategy=full,distill distill.teacher=...`` compares the student alone with the distilled one.
"""

from sweep.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("full")
class FullFineTuning(Strategy):
    teacher_use = "never"

    def apply(self, model, tokenizer) -> None:
        for param in model.parameters():
            param.requires_grad_(True)
