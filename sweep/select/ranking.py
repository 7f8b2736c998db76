"""Score every candidate's features, rank them by the first score, and say it as a table."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from sweep.select.candidates import Features
    from sweep.select.finetuned import Finetuned

log = logging.getLogger("sweep")


@dataclass
class Scored:
    name: str
    rows: int
    dimensions: int
    cached: bool
    features_s: float
    scores: dict[str, float]
    score_s: dict[str, float] = field(default_factory=dict)

    @property
    def scoring_s(self) -> float:
        return sum(self.score_s.values())

    @property
    def total_s(self) -> float:
        return self.features_s + self.scoring_s


def score(features: Features, labels: np.ndarray, names: list[str], seed: int) -> Scored:
    from sweep.select.scores import SCORES

    values, seconds = {}, {}
    for name in names:
        start = time.perf_counter()
        try:
            values[name] = SCORES.get(name).compute(features.features, labels, seed)
        except ValueError as error:  # e.g. a class with one row: no cross-validation
            raise ConfigError("scores", f"{name} on {features.name}'s features: {error}", name) from None
        seconds[name] = time.perf_counter() - start
    rows, dimensions = features.features.shape
    scored = Scored(features.name, rows, dimensions, features.cached, features.seconds, values, seconds)
    log.info(
        "%s: %d x %d features (%s) in %.2f s; %s",
        features.name, rows, dimensions, "from the cache" if features.cached else "computed", features.seconds,
        "  ".join(f"{name}={value:.4f} ({seconds[name]:.2f} s)" for name, value in values.items()),
    )  # fmt: skip
    return scored


def ranked(results: list[Scored], primary: str) -> list[Scored]:
    """Best first by the primary score (all scores: higher is better); ties keep the given order."""
    return sorted(results, key=lambda item: -item.scores[primary])


def table(results: list[Scored], names: list[str], finetuned: dict[str, Finetuned], metric: str) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rank, item in enumerate(results, start=1):
        row = {"rank": rank, "model": item.name, **{name: item.scores[name] for name in names}}
        if finetuned:
            found = finetuned.get(item.name)
            row[f"fine-tuned {metric}"] = found.value if found else np.nan
            row["best strategy"] = found.strategy if found else ""
        row.update(
            {
                "N": item.rows,
                "D": item.dimensions,
                "features s": item.features_s,
                "scoring s": item.scoring_s,
                "total s": item.total_s,
                "from cache": "yes" if item.cached else "no",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if column.endswith(" s"):
            shown[column] = [f"{value:.2f}" for value in shown[column]]
        elif shown[column].dtype.kind == "f":
            shown[column] = [f"{value:.4f}" if value == value else "" for value in shown[column]]  # NaN: no result
    return shown.to_markdown(index=False, disable_numparse=True)
