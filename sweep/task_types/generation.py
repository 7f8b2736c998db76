"""What the generation types (seq2seq, causal_lm) share: a text in, a text out, judged by what is generated.

A row is a source (or prompt) and a target (or response) text. The model is the whole language model
(``AutoModelForSeq2SeqLM`` for encoder-decoders, ``AutoModelForCausalLM`` for decoders: the ``generate`` head,
sweep/models/generator.py); a decoder reads source and target joined, with the loss on the target tokens only
(sweep/data/generation_tokens.py). Loss is teacher-forced cross-entropy on every validation (what early
stopping and the pruner can watch cheaply); validation and test also generate and score the text
(lightning_modules/generation.py): a fixed subset of rows at a fit's validations, all rows at test
(``task.generate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sweep.config.errors import ConfigError
from sweep.task_types.base import TaskType

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig

# what the cost of generating is logged as, per validation and test (lower is cheaper)
COST_METRICS = {"generate_s": "min", "generated_tokens": "min", "generated_rows": "min", "tokens_per_s": "max"}
GENERATING_FAMILIES = ("encoder_decoder", "decoder")
GENERATION_TYPES = ("seq2seq", "causal_lm")  # a text in, a text out: task=multi trains such sub-tasks as one of them


class GenerationType(TaskType):
    head = "generate"
    has_label_names = False
    select_targets: ClassVar[tuple[str, ...]] = ()  # sweep.select scores frozen features against classes or numbers
    refuses = {
        "feature": "a frozen backbone under a new head cannot write text: the language-model head is the model's own "
        "(strategy=prompt or lora train a few parameters of a frozen model)",
    }

    families: ClassVar[tuple[str, ...]] = GENERATING_FAMILIES  # the families this type can train (said when refusing one)
    examples: ClassVar[tuple[str, ...]] = ("smollm2_135m", "t5_small_scratch")

    def check_model(self, family: str, model_name: str) -> None:
        if family not in GENERATING_FAMILIES:
            raise ConfigError(
                "model",
                f"model {model_name} (family {family}) cannot generate text: task.type={self.name} needs family "
                f"{' or '.join(self.families)} (e.g. model={', '.join(self.examples)})",
                model_name,
            )

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        target_key = self.columns[1]
        targets = frame["label"].astype(str).str.strip()
        empty = np.flatnonzero(targets.str.len().to_numpy() == 0)
        if len(empty):
            raise ConfigError(
                f"task.{target_key}",
                f"{len(empty)} of {len(frame)} rows have an empty target (first: row {empty[0] + 1}); drop them or fill them in",
                getattr(task, target_key),
            )
        return [], frame.assign(label=targets)

    def targets(self, labels, label_names) -> np.ndarray:
        out = np.empty(len(labels), dtype=object)
        out[:] = list(labels)
        return out

    def outputs(self, label_names) -> int:
        return 0

    def teacher_score(self, outputs, labels):
        raise NotImplementedError
