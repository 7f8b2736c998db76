"""Feature extraction: the backbone is frozen whole; only the head trains, on features computed once."""

from sweep.strategies.base import STRATEGIES, Strategy, freeze


@STRATEGIES.register("feature")
class FeatureExtraction(Strategy):
    frozen_features = True

    def apply(self, model, tokenizer) -> None:
        freeze(model.backbone)
