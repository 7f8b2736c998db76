"""Preprocessing belongs to the model family: each modality's pipeline from a task's split to batches.

``PIPELINES.get(FAMILIES.get(model.family).modality)``: text is tokenized by the model's tokenizer
(cached token ids, length-grouped dynamic padding: sweep/data/tokens.py, loaders.py); images go through
the model's image processor (sweep/data/images.py). Everything after the batches (the model, the
strategies, the objective, the trainer) is the same for both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from sweep.config.registry import Registry
from sweep.task_types import TASK_TYPES

log = logging.getLogger("sweep")


class InputPipeline:
    """One modality: its processor (tokenizer, image processor), encoded splits and their loaders."""

    modality: str

    def __init__(self, family: str | None = None):
        self.family = family  # the model family it prepares rows for (a decoder reads generation rows joined)

    def load_processor(self, model, cache_dir: Path) -> Any:
        raise NotImplementedError

    def saved_processor(self, folder: Path) -> Any:
        """The processor a kept or pre-trained model was saved with (``processor.save_pretrained``)."""
        raise NotImplementedError

    def fingerprint(self, processor) -> str:
        """Identifies everything about the processor that decides the model inputs (cache keys)."""
        raise NotImplementedError

    def encode(self, split, processor, task, cache_dir: Path | None, fingerprint: str) -> tuple[Any, bool]:
        """A split's rows as model-ready rows; returns (encoded split, whether it came from a cache)."""
        raise NotImplementedError

    def backbone_options(self, processor) -> dict:
        """What building a random backbone needs to know from the processor (a tokenizer's vocabulary)."""
        return {}

    def train_loader(self, encoded, processor, batch_size: int, seed: int, extras=None, weights=None, augmenter=None):
        raise NotImplementedError

    def eval_loader(self, encoded, processor, batch_size: int, extras=None):
        raise NotImplementedError

    def in_row_order(self, encoded, processor, batch_size: int, compute: Callable[[dict], torch.Tensor]) -> torch.Tensor:
        """``compute(batch)`` over every row, concatenated in row order (features, teacher logits)."""
        raise NotImplementedError


PIPELINES: Registry[InputPipeline] = Registry("modality")


@PIPELINES.register("text")
class TextPipeline(InputPipeline):
    modality = "text"

    def load_processor(self, model, cache_dir):
        from sweep.zoo.loader import load_tokenizer

        return load_tokenizer(model, cache_dir)

    def saved_processor(self, folder):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)

    def fingerprint(self, processor) -> str:
        from sweep.data.tokens import tokenizer_fingerprint

        return tokenizer_fingerprint(processor)

    def encode(self, split, processor, task, cache_dir, fingerprint):
        from sweep.data.tokens import tokenize

        task_type = TASK_TYPES.get(task.type)
        if task_type.head == "generate":
            from sweep.data.generation_tokens import tokenize_generation
            from sweep.models.families import FAMILIES

            decoder = FAMILIES.get(self.family).generates == "AutoModelForCausalLM"
            return tokenize_generation(split, processor, task, decoder, cache_dir, fingerprint)
        if task_type.word_rows:
            from sweep.data.word_tokens import TOKENS_PER_WORD, tokenize_words

            encoded, hit, cut = tokenize_words(split.inputs, split.labels, processor, task.max_length, cache_dir, fingerprint)
            if cut.words:  # never silently: these words have no position, so no tag to learn or score
                log.warning(
                    "task.max_length=%d words (and %d sub-word pieces): %d of %d sentences cut, %d words lost (not trained or scored)",
                    task.max_length, TOKENS_PER_WORD * task.max_length, cut.sentences, len(split), cut.words,
                )  # fmt: skip
            return encoded, hit
        return tokenize(split.inputs, split.labels, processor, task.max_length, cache_dir, fingerprint, split.pairs)

    def backbone_options(self, processor) -> dict:
        return {"vocab_size": len(processor)}

    def train_loader(self, encoded, processor, batch_size, seed, extras=None, weights=None, augmenter=None):
        from sweep.data.loaders import train_loader

        return train_loader(encoded, batch_size, pad_id(processor), seed, extras, weights, augmenter)

    def eval_loader(self, encoded, processor, batch_size, extras=None):
        from sweep.data.loaders import eval_loader

        return eval_loader(encoded, batch_size, pad_id(processor), extras)

    def in_row_order(self, encoded, processor, batch_size, compute):
        from sweep.data.loaders import in_row_order

        return in_row_order(encoded, batch_size, pad_id(processor), compute)


@PIPELINES.register("image")
class ImagePipeline(InputPipeline):
    modality = "image"

    def load_processor(self, model, cache_dir):
        from sweep.zoo.loader import load_image_processor

        return load_image_processor(model, cache_dir)

    def saved_processor(self, folder):
        from transformers import AutoImageProcessor

        return AutoImageProcessor.from_pretrained(folder)

    def fingerprint(self, processor) -> str:
        from sweep.data.images import processor_fingerprint

        return processor_fingerprint(processor)

    def encode(self, split, processor, task, cache_dir, fingerprint):
        from sweep.data.images import image_split

        return image_split(np.asarray(split.inputs), split.labels, processor), False  # ~0.1 s for 10k images: no disk cache

    def train_loader(self, encoded, processor, batch_size, seed, extras=None, weights=None, augmenter=None):
        from sweep.data.images import image_loader

        return image_loader(encoded, batch_size, extras, seed=seed, weights=weights, augmenter=augmenter)

    def eval_loader(self, encoded, processor, batch_size, extras=None):
        from sweep.data.images import image_loader

        return image_loader(encoded, batch_size, extras)

    def in_row_order(self, encoded, processor, batch_size, compute):
        with torch.no_grad():
            return torch.cat([compute(batch).float() for batch in self.eval_loader(encoded, processor, batch_size)])


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def pipeline_for(family: str) -> InputPipeline:
    from sweep.models.families import FAMILIES

    return PIPELINES.get(FAMILIES.get(family).modality)(family)
