"""Instruction tuning of decoders: a prompt in, a response out, the loss on the response alone.

Prompt and response are joined as the tokenizer's chat template lays out one user turn and the assistant's
answer (``task.generate.chat_template``: auto uses it where the tokenizer has one), else by a separator; the
prompt's tokens are masked from the loss (sweep/data/generation_tokens.py). Metrics: the response's
teacher-forced ``loss`` and ``perplexity``, and of the generated response against the reference ROUGE-L
(and ROUGE-1/2) and ``exact_match`` (after trimming whitespace). Decoders only: an encoder-decoder is a
seq2seq model (task.type=seq2seq reads the same pairs).
"""

from __future__ import annotations

from sweep.config.errors import ConfigError
from sweep.task_types.generation import COST_METRICS, GenerationType


class CausalLM(GenerationType):
    name = "causal_lm"
    metrics = {"loss": "min", "perplexity": "min", "rouge1": "max", "rouge2": "max", "rougeL": "max", "exact_match": "max", **COST_METRICS}
    monitor = "val/rougeL"
    shown = ("test/rougeL", "test/exact_match", "test/perplexity")
    columns = ("prompt_column", "response_column")
    decoder_prompt = "chat"  # the chat template where the tokenizer has one (task.generate.chat_template)
    families = ("decoder",)
    examples = ("smollm2_135m",)
    refuses_augment = "the prompt and the response are one token sequence: augmenting it would rewrite the response too"

    def check_model(self, family: str, model_name: str) -> None:
        super().check_model(family, model_name)
        if family != "decoder":
            raise ConfigError(
                "model",
                f"model {model_name} (family {family}) is not a decoder: instruction tuning (task.type=causal_lm) trains a "
                "decoder; for an encoder-decoder use task.type=seq2seq on the same pairs",
                model_name,
            )

    def objective(self, label_names, fitted, task, distill=None, task_names=None):
        from lightning_modules.generation import TextGeneration

        return TextGeneration(("rouge", "exact_match"), distill=distill, task_names=task_names)
