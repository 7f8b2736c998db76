"""A teacher of token classification: its logits per word, computed once per (teacher, split) and cached.

Teacher and student may tokenize differently (another vocabulary splits words into other pieces): what they
share is the words. So the teacher's logits are read at each word's first piece of *its* tokenization
(sweep/data/word_tokens.py) and kept by word index, and the student takes them at the words it has a first
piece of (``for_student_words``): per-word distillation, exact whatever the two tokenizers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def teacher_word_logits(
    teacher, sentences: list[list[str]], tags: np.ndarray, columns: list[int], max_words: int, batch_size: int, cache_dir: Path
) -> tuple[np.ndarray, bool]:
    """Per sentence, the teacher's logits of its words (``[words, tags]`` float32, by word index up to the last
    word the teacher has a piece of; zeros for a word without one), columns in the student's tag order; returns
    (an object array of those, whether they came from the cache)."""
    from sweep.data.atomic import atomic_write
    from sweep.data.word_tokens import tokenize_words

    split, _, _ = tokenize_words(sentences, tags, teacher.tokenizer, max_words, cache_dir, teacher.tokenizer_id)
    key = hashlib.sha256(f"words|{teacher.fingerprint}|{split.key}".encode()).hexdigest()[:24]
    path = cache_dir / "teacher_logits" / f"{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            flat, offsets = stored["flat"], stored["offsets"]
        hit = True
    else:
        flat, offsets = _run(teacher, split, batch_size)
        atomic_write(path, lambda handle: np.savez(handle, flat=flat, offsets=offsets))
        hit = False
    rows = np.empty(len(offsets) - 1, dtype=object)
    rows[:] = [flat[offsets[i] : offsets[i + 1]][:, columns] for i in range(len(offsets) - 1)]
    return rows, hit


def _run(teacher, split, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence's word logits, end to end (``flat``), with row offsets: length-sorted batches, rows put back."""
    import torch

    from sweep.data.loaders import eval_loader

    pad_id = next((i for i in (teacher.pad_id, teacher.tokenizer.pad_token_id) if i is not None), 0)
    loader = eval_loader(split, batch_size, pad_id)
    per_row: list[np.ndarray] = [np.zeros((0, len(teacher.label_names)), np.float32)] * len(split)
    order = iter(list(loader.sampler))
    with torch.no_grad():
        for batch in loader:
            teacher.batches_run += 1
            logits = teacher.forward(batch["input_ids"], batch["attention_mask"]).float()
            for position in range(logits.size(0)):
                row = next(order)
                words = split.token_words[split.offsets[row] : split.offsets[row + 1]]
                where = np.flatnonzero(words >= 0)
                out = np.zeros((int(words.max()) + 1 if len(where) else 0, logits.size(-1)), np.float32)
                out[words[where]] = logits[position, where].numpy()
                per_row[row] = out
    lengths = np.fromiter((len(row) for row in per_row), np.int64, len(per_row))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate(per_row) if per_row else np.zeros((0, len(teacher.label_names)), np.float32)
    return flat, offsets


def for_student_words(teacher_rows: np.ndarray, encoded) -> dict[str, np.ndarray]:
    """The batch extras of token distillation: per sentence, the teacher's logits at the words the student has a
    first piece of, in the student's order (``teacher_logits``), and how many of them lead without a gap in the
    teacher's coverage (``teacher_words``: lightning_modules/token_labels.py distils those)."""
    logits, counts = np.empty(len(teacher_rows), dtype=object), np.zeros(len(teacher_rows), np.int64)
    for row, teacher_row in enumerate(teacher_rows):
        words = encoded.row_words(row)
        covered = words < len(teacher_row)
        lead = int(np.argmin(covered)) if not covered.all() else len(words)
        logits[row] = teacher_row[words[:lead]]
        counts[row] = lead
    return {"teacher_logits": logits, "teacher_words": counts}


def word_accuracy(rows: np.ndarray, tags: np.ndarray) -> float:
    """The teacher's share of words tagged right, over the words it has a piece of."""
    right = total = 0
    for logits, gold in zip(rows, tags):
        n = min(len(logits), len(gold))
        right += int(np.sum(logits[:n].argmax(1) == np.asarray(gold)[:n]))
        total += n
    return right / total if total else float("nan")
