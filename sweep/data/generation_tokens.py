"""Token ids of generation rows (task types seq2seq and causal_lm), cached like every tokenized split.

- An encoder-decoder reads the source (the tokenizer's own special tokens, cut at ``task.max_length``) and is
  taught the target: its pieces, cut at ``task.max_target_length`` - 1, then the end-of-sequence token. The
  targets are a ragged array (``TokenizedSplit.sequence_targets``) that the collator pads with -100.
- A decoder reads one sequence, prompt then response, and learns only the response: ``token_labels`` is -100 on
  the prompt (and its separator or chat-template turn markers), the response's ids after it, and the
  end-of-sequence token last, so that generation learns to stop. The prompt is laid out by the tokenizer's chat
  template (causal_lm, where the tokenizer has one and ``task.generate.chat_template`` allows it), else as
  ``<bos> prompt <sep>``. A row's prompt is the run of -100 labels before its first response token: that is
  what generation is given (lightning_modules/generation.py).

Why not ``tokenizer(text, text_target=...)`` or TRL's completion-only collator: the first adds the tokenizer's
own special tokens around the target (a BERT tokenizer on a T5 would start every target with [CLS]); the second
re-finds the response template in every batch, where the mask is known once, here, as the rows are built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sweep.data.atomic import atomic_write
from sweep.data.tokens import CHUNK_ROWS, TokenizedSplit, _special_tokens, cache_key

IGNORE = -100
PROMPT_MARK = "\x00PROMPT\x00"  # stands for the prompt while the chat template is laid out around it


def end_of_sequence(tokenizer) -> int:
    """The token that ends a target (and so generation): eos, else a BERT tokenizer's [SEP]."""
    for token_id in (tokenizer.eos_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id):
        if token_id is not None:
            return int(token_id)
    raise ValueError(f"the tokenizer {tokenizer.name_or_path} has no eos, sep or pad token to end a generated text with")


def uses_chat_template(tokenizer, task) -> bool:
    """causal_lm: the tokenizer's chat template lays the prompt out (``task.generate.chat_template``)."""
    from sweep.task_types import TASK_TYPES

    if TASK_TYPES.get(task.type).decoder_prompt != "chat" or task.generate.chat_template == "never":
        return False
    has = bool(getattr(tokenizer, "chat_template", None))
    if task.generate.chat_template == "always" and not has:
        from sweep.config.errors import ConfigError

        raise ConfigError(
            "task.generate.chat_template", f"the tokenizer {tokenizer.name_or_path} has no chat template; use auto or never", "always"
        )
    return has


def prompt_frame(tokenizer, chat: bool) -> tuple[list[int], list[int]]:
    """The ids before and after a prompt: the chat template's user turn and assistant header, or bos and a separator."""
    if chat:
        text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT_MARK}], tokenize=False, add_generation_prompt=True)
        before, _, after = text.partition(PROMPT_MARK)
        plain = {"add_special_tokens": False, "return_attention_mask": False, "return_token_type_ids": False}
        return tokenizer(before, **plain)["input_ids"], tokenizer(after, **plain)["input_ids"]
    prefix, _ = _special_tokens(tokenizer)
    return list(prefix), [end_of_sequence(tokenizer)]


def tokenize_generation(split, tokenizer, task, decoder: bool, cache_dir: Path | None, fingerprint: str) -> tuple[TokenizedSplit, bool]:
    """A split of (source, target) rows as model inputs and targets; returns (split, whether it came from the cache)."""
    sources, targets = list(split.inputs), [str(target) for target in split.labels]
    chat = decoder and uses_chat_template(tokenizer, task)
    layout = f"generation|{'decoder' if decoder else 'encoder_decoder'}|chat={chat}|{task.max_target_length}"
    key = cache_key(sources, f"{fingerprint}|{layout}", task.max_length, targets)
    path = cache_dir / "tokens" / f"{key}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return _from_arrays(arrays, split.labels, key, decoder), True
    rows, labels = [], []
    for start in range(0, len(sources), CHUNK_ROWS):
        part = slice(start, start + CHUNK_ROWS)
        encode = _joined if decoder else _source_and_target
        chunk_rows, chunk_labels = encode(sources[part], targets[part], tokenizer, task, chat)
        rows += chunk_rows
        labels += chunk_labels
    arrays = {"flat": _flat(rows), "offsets": _offsets(rows), "label_flat": _flat(labels), "label_offsets": _offsets(labels)}
    if path is not None:
        atomic_write(path, lambda handle: np.savez(handle, **arrays))
    return _from_arrays(arrays, split.labels, key, decoder), False


def _source_and_target(sources, targets, tokenizer, task, chat) -> tuple[list, list]:
    plain = {"add_special_tokens": False, "return_attention_mask": False, "return_token_type_ids": False}
    inputs = tokenizer(sources, truncation=True, max_length=task.max_length, return_attention_mask=False, return_token_type_ids=False)
    eos = end_of_sequence(tokenizer)
    answers = [ids[: task.max_target_length - 1] + [eos] for ids in tokenizer(targets, **plain)["input_ids"]]
    return inputs["input_ids"], answers


def _joined(sources, targets, tokenizer, task, chat) -> tuple[list, list]:
    plain = {"add_special_tokens": False, "return_attention_mask": False, "return_token_type_ids": False}
    before, after = prompt_frame(tokenizer, chat)
    eos = end_of_sequence(tokenizer)
    prompts, answers = tokenizer(sources, **plain)["input_ids"], tokenizer(targets, **plain)["input_ids"]
    rows, labels = [], []
    for prompt, answer in zip(prompts, answers):
        prompt = before + prompt[: task.max_length] + after
        answer = answer[: task.max_target_length - 1] + [eos]
        rows.append(prompt + answer)
        labels.append([IGNORE] * len(prompt) + answer)
    return rows, labels


def _flat(rows: list) -> np.ndarray:
    return np.fromiter((token for row in rows for token in row), dtype=np.int32, count=sum(len(row) for row in rows))


def _offsets(rows: list) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(row) for row in rows], dtype=np.int64)]).astype(np.int64)


def _from_arrays(arrays: dict, texts: np.ndarray, key: str, decoder: bool) -> TokenizedSplit:
    split = TokenizedSplit(arrays["flat"], arrays["offsets"], texts, key)
    if decoder:  # the labels run beside the input ids: per token, like token classification's
        split.token_labels = arrays["label_flat"]
    else:
        bounds = arrays["label_offsets"]
        targets = np.empty(len(bounds) - 1, dtype=object)
        targets[:] = [arrays["label_flat"][bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
        split.labels, split.sequence_targets = targets, True
    return split
