"""Full fine-tuning: every parameter of the backbone and the head trains."""

from sweep.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("full")
class FullFineTuning(Strategy):
    def apply(self, model, tokenizer) -> None:
        for param in model.parameters():
            param.requires_grad_(True)
