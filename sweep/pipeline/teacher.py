"""The teacher of knowledge distillation: loaded once, run once per split, its logits cached on disk.

``distill.teacher`` takes:
- ``runs:/<run_id>/model``: a model this project trained and kept (sweep/tracking/saved_models.py);
- a zoo name (``minilm_l6``, a file in conf/model/): the best finished run of that model on this task
  that kept its model, found in the tracking store: "distil from the best L6 I trained";
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.config.errors import ConfigError
from sweep.zoo.fingerprints import folder_fingerprint

log = logging.getLogger(__name__)
KEY = "distill.teacher"


@dataclass
class Teacher:
    source: str  # the resolved teacher: a runs:/ URI for a model name
    forward: Callable  # (input_ids, attention_mask) -> logits
    tokenizer: object
    label_names: list[str]
    fingerprint: str  # identifies its weights: part of the logits cache key
    pad_id: int | None = None  # default: the tokenizer's (or 0)
    batches_run: int = 0  # forward passes so far (logged: 0 once every split is cached)

    @functools.cached_property
    def tokenizer_id(self) -> str:
        """Its tokenizer's fingerprint (a serialisation of the whole vocabulary): computed once, not per split."""
        from sweep.data.tokens import tokenizer_fingerprint

        return tokenizer_fingerprint(self.tokenizer)


def load_teacher(root, cache_dir: Path, tracking_uri: str | None = None) -> Teacher:
    """The teacher ``root.distill.teacher`` names (``root``: the job's RootConfig). ``tracking_uri``: the
    store a run or model name is found in; default: the job's own, as for its runs."""
    from sweep.config.groups import CONF
    from sweep.tracking.store import tracking_uri as job_tracking_uri

    source = root.distill.teacher
    uri = tracking_uri or job_tracking_uri(root.tracking.uri, root.paths.output_dir)
    if source.startswith("runs:/"):
        return _saved_teacher(source, uri, cache_dir)
    if (CONF / "model" / f"{source}.yaml").exists():
        run_uri = best_kept_run(source, root.task.name, root.trainer.monitor, root.trainer.mode, uri)
        return _saved_teacher(run_uri, uri, cache_dir, named=source)
    return _hugging_face_teacher(source)


def best_kept_run(model_name: str, task_name: str, monitor: str, mode: str, tracking_uri: str) -> str:
    """``runs:/`` URI of the best finished run of ``model_name`` on ``task_name`` that kept its model,
    by the best value of ``monitor`` (the student's own trainer.monitor and mode)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    query = f"tags.model = '{model_name}' and tags.task = '{task_name}' and tags.state = 'finished' and tags.`model.kept` = 'true'"
    runs = client.search_runs(experiments, query, max_results=1000) if experiments else []
    scored = [run for run in runs if f"best_{monitor}" in run.data.metrics]
    if not scored:
        raise ConfigError(
            KEY,
            f"no finished run of model {model_name} on task {task_name} kept its model and watched {monitor}; train one first "
            f"(python -m sweep.run model={model_name} task={task_name}) or pass runs:/<run_id>/model",
            model_name,
        )
    sign = 1.0 if mode == "max" else -1.0
    best = max(scored, key=lambda run: (sign * run.data.metrics[f"best_{monitor}"], -run.info.start_time))  # a tie: the earliest
    log.info(
        "teacher %s: run %s (%s), best %s=%.4f",
        model_name,
        best.info.run_id,
        best.info.run_name,
        monitor,
        best.data.metrics[f"best_{monitor}"],
    )
    return f"runs:/{best.info.run_id}/model"


def _saved_teacher(source: str, tracking_uri: str, cache_dir: Path, named: str | None = None) -> Teacher:
    """``named``: the model name the run was found by (errors name it, as the user wrote it)."""
    import torch

    from sweep.tracking.saved_models import load_saved_classifier

    try:
        model, tokenizer, metadata = load_saved_classifier(source, tracking_uri, cache_dir)
    except ConfigError as error:  # it names model.source; here the run is the teacher
        raise ConfigError(KEY, error.message, named or source) from None
    model.eval()

    @torch.no_grad()
    def forward(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask)

    return Teacher(source, forward, tokenizer, list(metadata["label_names"]), fingerprint=source)


def _hugging_face_teacher(source: str) -> Teacher:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ConfigError(
            KEY, f"not a runs:/ URI, a model in conf/model/ or a loadable model ({str(error).splitlines()[0]})", source
        ) from None
    if not any(name.endswith("ForSequenceClassification") for name in (config.architectures or [])):
        raise ConfigError(KEY, f"has no trained classification head (architectures: {config.architectures}); fine-tune it first", source)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True).eval()
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
