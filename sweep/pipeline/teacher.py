"""The teacher of knowledge distillation: loaded once, run once per split, its logits cached on disk.

Its part of a job, in build's order (sweep/pipeline/build.py), all in one visit (``teach``): load the teacher
from its source as resolved (sweep/pipeline/sources.py: a model name is already the ``runs:/`` URI of its
best kept run), put its label columns in the task's order, and compute or read back its logits of every split.
``distill.teacher``, as resolved:
- ``runs:/<run_id>/model``: a model this project trained and kept (sweep/tracking/saved_models.py);
- a local folder or a hub id holding a Hugging Face sequence-classification model (``id2label`` names
  its labels).

The teacher has its own tokenizer (teacher and student may differ in vocabulary): texts are tokenized
for it through the same token cache. Its logits are keyed by the teacher's fingerprint and the token
split's key, so every epoch, job and trial after the first reads them back instead of running it.
Columns are put in the student task's label order; a teacher whose label set differs is refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sweep.config.errors import ConfigError
from sweep.pipeline.sources import TEACHER_KEY as KEY
from sweep.pipeline.sources import Sources
from sweep.zoo.fingerprints import folder_fingerprint

log = logging.getLogger(__name__)


@dataclass
class Teacher:
    source: str  # the resolved teacher: a runs:/ URI for a model name
    forward: Callable  # (input_ids, attention_mask) -> logits
    tokenizer: object
    label_names: list[str]
    fingerprint: str  # identifies its weights: part of the logits cache key
    pad_id: int | None = None  # default: the tokenizer's (or 0)
    batches_run: int = 0  # forward passes so far (logged: 0 once every split is cached)
    fitted: dict = field(default_factory=dict)  # a kept teacher's fitted target metadata (its regression scale)

    @functools.cached_property
    def tokenizer_id(self) -> str:
        """Its tokenizer's fingerprint (a serialisation of the whole vocabulary): computed once, not per split."""
        from sweep.data.tokens import tokenizer_fingerprint

        return tokenizer_fingerprint(self.tokenizer)


@dataclass
class Taught:
    """What the student gets of its teacher: the training split's logits (a per-row extra of its batches; token
    classification: one [words, tags] array per sentence, by word index), the teacher's accuracy on val and test
    (for comparison; per word for token classification), and the seconds and cache hits it took."""

    train_logits: np.ndarray
    metrics: dict[str, float]
    timings: dict[str, float]


def teach(sources: Sources, splits, max_length: int, batch_size: int, cache_dir: Path, task_type) -> Taught:
    """The teacher's whole part, in one visit: load it, check its labels against the task's, and its logits of
    every split, from its cache after the first job. ``task_type`` (sweep/task_types/): a pooled head's outputs are
    a row's logits (a regression teacher's, back on the raw scale), a per-token head's each word's. Raises
    ConfigError (``distill.teacher``) for a bad teacher."""
    head = task_type.head
    start = time.perf_counter()
    teacher = load_teacher(sources, cache_dir, head)
    columns = label_order(teacher, splits.label_names) if task_type.has_label_names else [0]
    timings = {"load_teacher_s": time.perf_counter() - start}
    start, hits, metrics, train_logits = time.perf_counter(), 0, {}, None
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        if head == "tokens":
            from sweep.pipeline.word_teacher import teacher_word_logits, word_accuracy

            logits, hit = teacher_word_logits(teacher, part.inputs, part.labels, columns, max_length, batch_size, cache_dir)
            score = ("acc", word_accuracy(logits, part.labels)) if len(part) else None
        else:
            logits, hit = teacher_logits(teacher, part.inputs, part.labels, columns, max_length, batch_size, cache_dir)
            logits = task_type.teacher_outputs(logits, teacher.fitted)
            score = task_type.teacher_score(logits, part.labels) if len(part) else None
        hits += hit
        if name == "train":
            train_logits = logits
        elif score is not None:
            metrics[f"teacher_{name}_{score[0]}"] = score[1]
    timings.update(teacher_s=time.perf_counter() - start, teacher_cache_hits=hits, teacher_forward_batches=teacher.batches_run)
    return Taught(train_logits, metrics, timings)


# a Hugging Face teacher by the head the task needs: (its architectures' suffix, the auto class that loads it)
HF_HEADS = {
    "pooled": ("ForSequenceClassification", "AutoModelForSequenceClassification"),
    "tokens": ("ForTokenClassification", "AutoModelForTokenClassification"),
}


def load_teacher(sources: Sources, cache_dir: Path, head: str = "pooled") -> Teacher:
    """The teacher ``sources.teacher`` names, as resolved: a kept run (read from ``sources.tracking_uri``),
    or a folder or hub id; its head must be the task's (a row's logits, or each token's)."""
    if sources.kept_teacher:
        return _saved_teacher(sources.teacher, sources.tracking_uri, cache_dir, named=sources.teacher_name, head=head)
    return _hugging_face_teacher(sources.teacher, head)


def _saved_teacher(source: str, tracking_uri: str, cache_dir: Path, named: str | None = None, head: str = "pooled") -> Teacher:
    """``named``: the model name the run was found by (errors name it, as the user wrote it)."""
    import torch

    from sweep.tracking.saved_models import load_saved_classifier

    try:
        model, tokenizer, metadata = load_saved_classifier(source, tracking_uri, cache_dir)
    except ConfigError as error:  # it names model.source; here the run is the teacher
        raise ConfigError(KEY, error.message, named or source) from None
    saved_head = metadata.get("head", "pooled")
    if saved_head != head:
        what = {"pooled": "one prediction per row", "tokens": "one per token"}
        raise ConfigError(
            KEY, f"the teacher makes {what[saved_head]} ({metadata.get('task_type', 'classification')}); the task needs {what[head]}",
            named or source,
        )  # fmt: skip
    model.eval()

    @torch.no_grad()
    def forward(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask)

    return Teacher(source, forward, tokenizer, list(metadata["label_names"]), fingerprint=source, fitted=dict(metadata.get("fitted") or {}))


def _hugging_face_teacher(source: str, head: str = "pooled") -> Teacher:
    import torch
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ConfigError(
            KEY, f"not a runs:/ URI, a model in conf/model/ or a loadable model ({str(error).splitlines()[0]})", source
        ) from None
    suffix, auto_class = HF_HEADS[head]
    if not any(name.endswith(suffix) for name in (config.architectures or [])):
        raise ConfigError(KEY, f"has no trained *{suffix} head (architectures: {config.architectures}); fine-tune it first", source)
    try:
        model = getattr(transformers, auto_class).from_pretrained(source, use_safetensors=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:  # e.g. weights only as pickled .bin, which we never load
        raise ConfigError(KEY, f"cannot load it: {str(error).splitlines()[0]}", source) from None
    # a decoder's classification head reads each row's last token where config.pad_token_id starts: pad with it
    pad_id = config.pad_token_id if config.pad_token_id is not None else tokenizer.pad_token_id
    if pad_id is None:
        raise ConfigError(KEY, "neither its config nor its tokenizer has a pad token: it cannot classify a padded batch", source)

    @torch.no_grad()
    def forward(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask).logits

    labels = [config.id2label[i] for i in range(config.num_labels)]
    return Teacher(source, forward, tokenizer, labels, folder_fingerprint(source), pad_id=pad_id)


def label_order(teacher: Teacher, student_labels: list[str]) -> list[int]:
    """For each student label, the teacher's column; refuses a teacher with another label set."""
    if sorted(teacher.label_names) != sorted(student_labels):
        raise ConfigError(KEY, f"the teacher's labels {teacher.label_names} differ from the task's {student_labels}", teacher.source)
    return [teacher.label_names.index(name) for name in student_labels]


def teacher_logits(
    teacher: Teacher, texts: list[str], labels: np.ndarray, columns: list[int], max_length: int, batch_size: int, cache_dir: Path
) -> tuple[np.ndarray, bool]:
    """The teacher's logits for ``texts`` (float32, rows in order, columns in the student's label order);
    returns (logits, whether they came from the cache)."""
    from sweep.data.atomic import atomic_write
    from sweep.data.tokens import tokenize

    split, _ = tokenize(texts, labels, teacher.tokenizer, max_length, cache_dir, teacher.tokenizer_id)
    key = hashlib.sha256(f"{teacher.fingerprint}|{split.key}".encode()).hexdigest()[:24]
    path = cache_dir / "teacher_logits" / f"{key}.npy"
    if path.exists():
        return np.load(path)[:, columns], True
    logits = _run(teacher, split, batch_size)
    atomic_write(path, lambda handle: np.save(handle, logits))
    return logits[:, columns], False


def _run(teacher: Teacher, split, batch_size: int) -> np.ndarray:
    from sweep.data.loaders import in_row_order

    if not len(split):
        return np.zeros((0, len(teacher.label_names)), np.float32)
    pad_id = next((i for i in (teacher.pad_id, teacher.tokenizer.pad_token_id) if i is not None), 0)

    def forward(batch):
        teacher.batches_run += 1
        return teacher.forward(batch["input_ids"], batch["attention_mask"])

    return in_row_order(split, batch_size, pad_id, forward).numpy()
