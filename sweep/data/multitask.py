"""Multi-task data (``task=multi task.tasks=[rotten_tomatoes,rotten_subjectivity]``): each sub-task is an
ordinary task config from ``conf/task/``, loaded and split on its own; their splits are stacked, each row
keeping its sub-task's index and its label id within that sub-task.

The multi-task config's own sizes and max length, where set, apply to every sub-task (so
``task.train_size=500`` means 500 rows of each); null keeps each sub-task's own.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import OmegaConf

from sweep.config.errors import ConfigError

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig
    from sweep.data.labelled import Splits

SHARED_KEYS = ("train_size", "val_size", "test_size")
# classification sub-tasks share one pooled head (their columns side by side); token classification ones add a
# per-token head beside it (sweep/models/multi_head.py). A multi-hot row or a number has no place in either yet.
SUB_TASK_TYPES = ("classification", "token_classification")
# generation sub-tasks (a text in, a text out) train together as the multi config's task.type (seq2seq or causal_lm)
GENERATION_TYPES = ("seq2seq", "causal_lm")


def sub_task_configs(task: TaskConfig) -> list[TaskConfig]:
    from sweep.config.groups import CONF
    from sweep.config.schema import TaskConfig, typed

    known = sorted(path.stem for path in (CONF / "task").glob("*.yaml") if path.stem != task.name)
    names = list(task.tasks or [])  # at least two: sweep/config/schema.py
    if len(set(names)) != len(names):
        raise ConfigError("task.tasks", "lists a sub-task twice", names)
    configs = []
    for name in names:
        if name not in known:
            raise ConfigError("task.tasks", f"unknown sub-task {name!r}; known: {', '.join(known)}", names)
        tree = OmegaConf.to_container(OmegaConf.load(CONF / "task" / f"{name}.yaml"), resolve=True)
        if tree.get("kind") == "multi":
            raise ConfigError("task.tasks", f"{name!r} is itself multi-task", names)
        allowed = GENERATION_TYPES if task.type in GENERATION_TYPES else SUB_TASK_TYPES
        if tree.get("type", "classification") not in allowed:  # a class or a tag per word: sweep/models/multi_head.py
            kind = tree.get("type", "classification")
            message = f"{name!r} is task.type={kind}; multi-task training stacks sub-tasks of types {', '.join(allowed)}"
            if task.type not in GENERATION_TYPES and tree.get("type") in GENERATION_TYPES:
                message += f" (generation sub-tasks: task.type={tree['type']} on the multi config)"
            raise ConfigError("task.tasks", message, names)
        if task.type in GENERATION_TYPES:  # one language model writes every sub-task's targets, as the multi config says
            tree.update(type=task.type, max_target_length=task.max_target_length, generate=dataclasses.asdict(task.generate))
        if tree.get("modality", "text") != task.modality:  # one model reads every sub-task's rows
            message = f"{name!r} has {tree.get('modality')} rows; multi-task training stacks {task.modality} tasks"
            raise ConfigError("task.tasks", message, names)
        tree.update({key: getattr(task, key) for key in SHARED_KEYS if getattr(task, key) is not None})
        tree["max_length"] = task.max_length
        configs.append(typed(TaskConfig, tree, prefix=f"task.tasks[{name}]."))
    return configs


def load_multitask(task: TaskConfig) -> Splits:
    from sweep.data.labelled import Split, Splits, load_single

    configs = sub_task_configs(task)
    parts = [load_single(config) for config in configs]  # a sub-task is never multi (checked above)
    types = [config.type for config in configs]
    # token rows beside classification ones: a head each; generation sub-tasks are one type, one language model
    mixed = set(types) != {"classification"} and not set(types) <= set(GENERATION_TYPES)
    texts = mixed or set(types) <= set(GENERATION_TYPES)  # labels of other than one id per row: an object array

    def stack(name: str) -> Split:
        pieces = [getattr(part, name) for part in parts]
        tasks = np.concatenate([np.full(len(piece), index, np.int64) for index, piece in enumerate(pieces)])
        if texts:  # a class id, a tag-id array or a target text per row
            labels = np.empty(len(tasks), dtype=object)
            labels[:] = [label for piece in pieces for label in piece.labels]
        else:
            labels = np.concatenate([piece.labels for piece in pieces])
        return Split([row for piece in pieces for row in piece.inputs], labels, tasks)

    return Splits(
        stack("train"),
        stack("val"),
        stack("test"),
        [f"{config.name}/{label}" for config, part in zip(configs, parts) for label in part.label_names],
        task_names=[config.name for config in configs],
        task_label_counts=[part.num_labels for part in parts],
        sub_task_types=types if mixed else None,
    )


def encode_mixed(split, pipeline, processor, task: TaskConfig, cache_dir, fingerprint: str):
    """The token ids of a stack of classification and token classification rows, every row's targets per token (a
    class at position 0, -100 elsewhere; tags on each word's first piece): each sub-task encoded as its own type
    (texts, or words) through the token cache, then joined. Returns (encoded split, cache hits)."""
    from sweep.data.labelled import Split
    from sweep.data.tokens import TokenizedSplit

    parts, hits = [], 0
    for index, config in enumerate(sub_task_configs(task)):
        rows = np.flatnonzero(split.tasks == index)  # stacked: one run of rows per sub-task
        part = Split([split.inputs[i] for i in rows], config_targets(split.labels[rows], config.type))
        encoded, hit = pipeline.encode(part, processor, config, cache_dir, fingerprint)
        hits += hit
        if encoded.token_labels is None:  # a classification part: its label at each row's first position
            encoded.token_labels = np.full(len(encoded.flat), -100, np.int64)
            encoded.token_labels[encoded.offsets[:-1][encoded.lengths > 0]] = part.labels[encoded.lengths > 0]
        parts.append(encoded)
    joined = TokenizedSplit.concatenate(parts, split.labels, "+".join(part.key for part in parts))
    joined.token_labels = np.concatenate([part.token_labels for part in parts]) if parts else np.zeros(0, np.int64)
    return joined, hits


def config_targets(labels: np.ndarray, type_name: str) -> np.ndarray:
    """A sub-task's rows' targets as its own type holds them: int ids, or an object array of tag-id arrays."""
    if type_name == "classification":
        return np.asarray(list(labels), dtype=np.int64)
    out = np.empty(len(labels), dtype=object)
    out[:] = list(labels)
    return out


def sampling_weights(task: TaskConfig, tasks: np.ndarray) -> np.ndarray | None:
    """Per-row draw weights of a multi-task training split; None: proportional (every row once an epoch).

    Temperature sampling (as in multilingual and T5-style mixtures): sub-task t is drawn with probability
    proportional to ``n_t ** (1 / T)``; T = 1 is proportional, a larger T evens the sub-tasks out."""
    if task.sampling == "proportional":
        return None
    counts = np.bincount(tasks).astype(np.float64)
    share = counts ** (1.0 / task.sampling_temperature)
    share /= share.sum()
    return share[tasks] / counts[tasks]
