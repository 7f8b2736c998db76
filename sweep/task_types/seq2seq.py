"""Sequence to sequence: summarisation, translation, headline writing; a source text in, a target text out.

Encoder-decoders read the source and decode the target; decoders read both joined by a separator, with the
loss on the target only (sweep/data/generation_tokens.py). Metrics of the generated text against the
reference: ROUGE-1/2/L F-measure (summarisation), SacreBLEU and chrF (translation), through torchmetrics; the
teacher-forced ``loss`` and its ``perplexity``; and what generating cost (sweep/task_types/generation.py).
"""

from __future__ import annotations

from sweep.task_types.generation import COST_METRICS, GenerationType


class Seq2Seq(GenerationType):
    name = "seq2seq"
    metrics = {
        "loss": "min",
        "perplexity": "min",
        "rouge1": "max",
        "rouge2": "max",
        "rougeL": "max",
        "bleu": "max",
        "chrf": "max",
        **COST_METRICS,
    }
    monitor = "val/rougeL"
    shown = ("test/rougeL", "test/rouge1", "test/bleu", "test/chrf", "test/perplexity")
    columns = ("source_column", "target_column")
    decoder_prompt = "separator"  # a decoder reads "source <sep> target"

    def augment_refusal(self, family: str) -> str | None:
        # augmentation edits the model's input ids: an encoder-decoder's are the source alone
        if family == "decoder":
            return "a decoder reads source and target as one token sequence: augmenting it would rewrite the target too"
        return None

    def objective(self, label_names, fitted, task, distill=None, task_names=None):
        from lightning_modules.generation import TextGeneration

        return TextGeneration(("rouge", "bleu", "chrf"), distill=distill, task_names=task_names)
