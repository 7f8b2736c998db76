"""A dual encoder's teacher (task.type=image_text, ``strategy=distill distill.teacher=...``): a larger kept dual
encoder whose similarity matrix the student learns to match, batch by batch.

A batch's teacher matrix depends on which rows the batch drew, so no per-row logits can be cached as a classifier
teacher's are (sweep/pipeline/teacher.py). What is per row is the teacher's unit embeddings of each image and each
text: computed once here, over the training split, with the teacher's own image processor and tokenizer, they ride
in the student's batches (``teacher_image``, ``teacher_text``), with the teacher's logit scale, and the objective
rebuilds the teacher's matrix of any batch in one product (lightning_modules/image_text.py
``ContrastiveDistillation``). The teacher's recall@1 on val and test is logged beside the student's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sweep.config.errors import ConfigError

KEY = "distill.teacher"


def teach_dual(sources, splits, max_length: int, batch_size: int, cache_dir: Path):
    """(extras of the training split, the teacher's scores, timings); ConfigError for a teacher that is not a kept
    dual encoder."""
    import torch

    from lightning_modules.image_text import recall_at
    from sweep.data.image_text_pairs import encode_pairs, pair_loader
    from sweep.data.pipelines import pad_id
    from sweep.tracking.saved_dual import load_dual

    start = time.perf_counter()
    if not str(sources.teacher).startswith("runs:/"):
        raise ConfigError(KEY, "a dual encoder's teacher is a kept dual encoder: runs:/<run_id>/model, or a pair name whose run kept it",
                          sources.teacher)  # fmt: skip
    teacher, processors, _ = load_dual(sources.teacher, sources.tracking_uri, cache_dir)
    timings = {"load_teacher_s": time.perf_counter() - start}
    start = time.perf_counter()
    embedded, metrics = {}, {}
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        if not len(part):
            continue
        pairs, _ = encode_pairs(part, processors["vision"], processors["text"], max_length, cache_dir)
        images, texts = [], []
        with torch.no_grad():
            for batch in pair_loader(pairs, pad_id(processors["text"]), batch_size):
                images.append(teacher.encode_image(batch["pixel_values"]))
                texts.append(teacher.encode_text(batch["input_ids"], batch["attention_mask"]))
        images, texts = torch.cat(images), torch.cat(texts)
        embedded[name] = (images, texts)
        if name != "train":
            same = torch.as_tensor(pairs.text_ids)[:, None] == torch.as_tensor(pairs.text_ids)[None, :]
            metrics[f"teacher_{name}_i2t_r1"] = float(recall_at(images @ texts.T, same, 1))
    timings["teacher_s"] = time.perf_counter() - start
    images, texts = embedded["train"]
    scale = float(teacher.logit_scale.detach().clamp(max=np.log(100.0)).exp())
    extras = {"teacher_image": images.numpy() * scale, "teacher_text": texts.numpy()}  # images x scale: the teacher's logits
    return extras, metrics, timings
