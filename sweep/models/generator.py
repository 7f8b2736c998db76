"""A whole language model, its own head included, for the generation task types (head kind ``generate``).

The backbone is ``AutoModelForSeq2SeqLM`` (encoder-decoders) or ``AutoModelForCausalLM`` (decoders), kept under
``.backbone`` like a classifier's, so that the strategies (freezing, PEFT's LoRA and prompt tuning), the optimizer's
layer depths and the kept-model files treat it as they treat every other model. ``forward`` gives the logits
over the positions its labels are aligned with: the target's (encoder-decoder) or the input's own (decoder,
PEFT's soft prompt cut off). ``generate`` writes text from the prompt or source alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.is_encoder_decoder = bool(getattr(backbone.config, "is_encoder_decoder", False))
        # what PEFT must wrap it as, so that its generate() feeds a soft prompt as training did
        self.peft_task_type = "SEQ_2_SEQ_LM" if self.is_encoder_decoder else "CAUSAL_LM"

    def forward(self, input_ids=None, attention_mask=None, labels=None) -> torch.Tensor:
        if self.is_encoder_decoder:  # teacher forcing: the decoder reads the target shifted right by one
            decoder_input_ids = shift_right(labels, self.backbone.config)
            return self.backbone(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids).logits
        logits = self.backbone(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits[:, logits.size(1) - input_ids.size(1) :]  # prompt tuning prepends virtual tokens

    def aligned(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced (logits, labels) with logits[:, t] predicting labels[:, t] (a decoder's position t
        predicts token t + 1); labels -100 where nothing is learnt."""
        if self.is_encoder_decoder:
            return self(batch["input_ids"], batch["attention_mask"], batch["labels"]), batch["labels"]
        logits = self(batch["input_ids"], batch["attention_mask"])
        return logits[:, :-1], batch["labels"][:, 1:]

    @torch.no_grad()
    def generate(self, input_ids, attention_mask, **options) -> torch.Tensor:
        """The generated ids only (a decoder's output without the prompt it was given)."""
        if not self.is_encoder_decoder and soft_prompt_tokens(self.backbone):
            return self._generate_after_soft_prompt(input_ids, attention_mask, **options)
        out = self.backbone.generate(input_ids=input_ids, attention_mask=attention_mask, **options)
        # an encoder-decoder's output starts with its decoder start token, a decoder's with the prompt: neither was generated
        return out[:, 1:] if self.is_encoder_decoder else out[:, input_ids.size(1) :]

    def _generate_after_soft_prompt(self, input_ids, attention_mask, **options) -> torch.Tensor:
        """A prompt-tuned decoder: the soft prompt's embeddings, then the rows' (left-padded) ones, generated from
        by the base model, as training read them: virtual tokens at positions 0..V-1, the prompt after them.

        Why not PEFT's own generate: with peft 0.21.2 and transformers 5 it puts the virtual tokens in again at
        every decoding step (GPT-2's position ids grow by V + 1 per token, and overflow), so a prompt-tuned
        decoder would generate from a garbled context."""
        peft = self.backbone
        base = peft.get_base_model()
        embeds = base.get_input_embeddings()(input_ids)
        prompt = peft.get_prompt(input_ids.size(0)).to(embeds.dtype)
        mask = torch.cat([attention_mask.new_ones(input_ids.size(0), prompt.size(1)), attention_mask], 1)
        # from embeddings alone, generate returns the new tokens only
        return base.generate(inputs_embeds=torch.cat([prompt, embeds], 1), attention_mask=mask, **options)


def soft_prompt_tokens(backbone: nn.Module) -> int:
    """Virtual tokens a PEFT prompt-learning wrapper puts before every row (0 for anything else). Prefix tuning puts
    none: its virtual tokens are keys and values inside every attention layer, not input positions."""
    configs = getattr(backbone, "peft_config", None) or {}
    return sum(
        getattr(config, "num_virtual_tokens", None) or 0
        for config in configs.values()
        if getattr(config, "is_prompt_learning", False) and getattr(config.peft_type, "value", None) != "PREFIX_TUNING"
    )


def shift_right(labels: torch.Tensor, config) -> torch.Tensor:
    """The decoder's inputs for ``labels``: the start token, then the labels but the last, -100 read as padding
    (what T5's and BART's own ``_shift_right``/``shift_tokens_right`` do, for any encoder-decoder)."""
    start = config.decoder_start_token_id if config.decoder_start_token_id is not None else config.pad_token_id
    shifted = labels.new_full(labels.shape, start)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, config.pad_token_id)


def fit_tokenizer(backbone: nn.Module, tokenizer, eos_id: int) -> None:
    """The language model's special ids as its tokenizer has them: the pad token (a decoder's is often its eos),
    the end of a text (``eos_id``), and an encoder-decoder's decoder start (its pad, as T5's); a vocabulary smaller
    than the tokenizer's grown."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if backbone.get_input_embeddings().num_embeddings < len(tokenizer):
        backbone.resize_token_embeddings(len(tokenizer))
    for config in (backbone.config, getattr(backbone, "generation_config", None)):
        if config is None:
            continue
        config.pad_token_id = pad
        config.eos_token_id = eos_id
        if getattr(backbone.config, "is_encoder_decoder", False) and getattr(config, "decoder_start_token_id", None) is None:
            config.decoder_start_token_id = pad


def check_positions(backbone: nn.Module, encoded: dict, task) -> None:
    """A decoder with learnt positions (GPT-2: ``n_positions``) reads prompt, response and what it generates as
    one sequence: the longest must fit, or its position embedding fails mid-training with an index error."""
    from sweep.config.errors import ConfigError

    config = backbone.config
    limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if limit is None or getattr(config, "is_encoder_decoder", False):  # T5's relative positions have no limit
        return
    virtual = soft_prompt_tokens(backbone)  # prompt tuning puts its virtual tokens before every row
    longest = virtual + max((int(split.lengths.max()) for split in encoded.values() if len(split)), default=0)
    # generating: a prompt (the labels' leading -100 run) and the new tokens
    prompts = (int(np.argmax(split.row_labels(i) != -100)) for split in encoded.values() for i in range(len(split)))
    needed = max(longest, virtual + max(prompts, default=0) + task.generate.max_new_tokens)
    if needed > limit:
        soft = f" ({virtual} of them a soft prompt)" if virtual else ""
        raise ConfigError(
            "task.max_length",
            f"a prompt and its response take up to {longest} positions here{soft}, {needed} while generating "
            f"(task.generate.max_new_tokens={task.generate.max_new_tokens}); the model reads at most {limit} positions: "
            "lower task.max_length, task.max_target_length or task.generate.max_new_tokens",
            task.max_length,
        )
