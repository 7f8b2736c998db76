"""T5's span corruption (Raffel et al., 2020, section 3.1.4) as a collator over unpadded token rows.

Why our own: transformers 5 ships no collator for it (``DataCollatorForT5MLM`` lives only in the Flax
example scripts, written for numpy batches of fixed length). This is the same noise-mask algorithm,
for rows of any length, in numpy:

    row      the  cat  sat  on  the  mat          noise mask  0 1 1 0 0 1
    inputs   the  <extra_id_0>  on  the  <extra_id_1>  </s>
    targets  <extra_id_0>  cat  sat  <extra_id_1>  mat  </s>

The decoder reads the targets shifted right behind the start token (the pad id, as in T5), so the
model never needs ``labels`` itself and the loss is computed like every other objective's.
"""

from __future__ import annotations

import numpy as np
import torch

SENTINEL = "<extra_id_{}>"
NUM_SENTINELS = 100  # as T5's tokenizer; a row of max_length 64 at noise 0.15 needs about 4


def random_spans_noise_mask(length: int, noise_density: float, mean_span_length: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask with round(length * density) noise tokens in about noise/mean_span spans,
    alternating with kept stretches, starting with a kept one (T5's ``random_spans_noise_mask``)."""
    if length < 2:
        return np.zeros(length, dtype=bool)
    num_noise = int(np.clip(round(length * noise_density), 1, length - 1))
    num_spans = max(1, min(int(round(num_noise / mean_span_length)), num_noise, length - num_noise))

    def segment(items: int) -> np.ndarray:  # items split into num_spans positive parts, in random order
        cuts = np.sort(rng.choice(np.arange(1, items), size=num_spans - 1, replace=False)) if num_spans > 1 else np.array([], int)
        return np.diff(np.concatenate([[0], cuts, [items]]))

    noise, kept = segment(num_noise), segment(length - num_noise)
    mask = np.zeros(length, dtype=bool)
    start = 0
    for keep, span in zip(kept, noise):
        mask[start + keep : start + keep + span] = True
        start += keep + span
    return mask


def corrupt(ids: np.ndarray, mask: np.ndarray, sentinels: list[int], eos_id: int) -> tuple[list[int], list[int]]:
    """(inputs, targets) of one row: each noise span becomes the next sentinel in the inputs, and the
    targets list each sentinel followed by the tokens it replaced; both end with ``eos_id``."""
    inputs, targets, span = [], [], -1
    for position, token in enumerate(ids.tolist()):
        if not mask[position]:
            inputs.append(token)
        elif position == 0 or not mask[position - 1]:  # a span starts
            span += 1
            inputs.append(sentinels[span])
            targets += [sentinels[span], token]
        else:
            targets.append(token)
    return inputs + [eos_id], targets + [eos_id]


class SpanCorruptionCollator:
    """Rows (token ids with the tokenizer's own specials) -> padded ``input_ids``, ``attention_mask``,
    ``decoder_input_ids`` and ``labels`` (-100 on padding). Leading and trailing special tokens
    ([CLS] ... [SEP] of a BERT tokenizer) are dropped first: only the text itself is corrupted."""

    def __init__(self, sentinels: list[int], eos_id: int, pad_id: int, special_ids: set[int], noise_density: float,
                 mean_span_length: float, seed: int):  # fmt: skip
        self.sentinels, self.eos_id, self.pad_id, self.special = sentinels, eos_id, pad_id, special_ids
        self.noise_density, self.mean_span_length = noise_density, mean_span_length
        self.rng = np.random.default_rng(seed)

    def body(self, ids: np.ndarray) -> np.ndarray:
        start, end = 0, len(ids)
        while start < end and int(ids[start]) in self.special:
            start += 1
        while end > start and int(ids[end - 1]) in self.special:
            end -= 1
        return ids[start:end]

    def __call__(self, rows: list) -> dict:
        pairs = []
        for row in rows:
            ids = self.body(row[0] if isinstance(row, tuple) else row)
            mask = random_spans_noise_mask(len(ids), self.noise_density, self.mean_span_length, self.rng)
            pairs.append(corrupt(ids, mask, self.sentinels, self.eos_id))
        inputs, attention = pad([p[0] for p in pairs], self.pad_id)
        labels, _ = pad([p[1] for p in pairs], -100)
        decoder = torch.cat([torch.full((len(rows), 1), self.pad_id), labels[:, :-1]], 1)  # T5's shift right
        decoder = decoder.masked_fill(decoder == -100, self.pad_id)
        return {"input_ids": inputs, "attention_mask": attention, "decoder_input_ids": decoder, "labels": labels}


def pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(row) for row in rows)
    out = torch.full((len(rows), longest), value, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return out, mask
