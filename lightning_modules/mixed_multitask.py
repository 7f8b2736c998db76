"""Multi-task training across task types: classification and token classification sharing one backbone.

The model (sweep/models/multi_head.py) puts a pooled head and a per-token head side by side in one output,
``[batch, tokens, pooled columns + token columns]`` (the pooled logits repeated at every position): sub-task t owns
a column range of one of them. Every batch is per token (``batch["labels"]``: [batch, tokens]); a classification
row carries its label at position 0 and -100 elsewhere, a token row its tags on each word's first piece. Each
sub-task is scored by its own type's objective (cross-entropy with accuracy and macro-F1; per-word tags with
entity F1), on its rows and columns; metrics per sub-task (``val/<task>/f1``) and, for each metric name that
every sub-task has, their unweighted mean (``val/acc``, ``val/f1``), which early stopping and the search watch.

Why not ``MultiTask`` (objectives.py): its rows all share one label shape; here a row is a class or a tag sequence.
"""

from __future__ import annotations

import torch
from torch import nn

from lightning_modules.objectives import STAGES, Classification, Objective, per_task_formulas, seen_on_any_rank
from lightning_modules.token_labels import TokenClassification


class MixedMultiTask(Objective):
    def __init__(self, task_names: list[str], kinds: list[str], label_names: list[list[str]]):
        """``kinds[t]``: "pooled" (classification) or "tokens"; ``label_names[t]``: sub-task t's labels or tags."""
        super().__init__()
        self.task_names, self.kinds = list(task_names), list(kinds)
        pooled = sum(len(names) for names, kind in zip(label_names, kinds) if kind == "pooled")
        self.columns, offsets = [], {"pooled": 0, "tokens": pooled}
        for names, kind in zip(label_names, kinds):
            self.columns.append((offsets[kind], offsets[kind] + len(names)))
            offsets[kind] += len(names)
        self.children_ = nn.ModuleList(
            [
                Classification(len(names)) if kind == "pooled" else TokenClassification(list(names))
                for names, kind in zip(label_names, kinds)
            ]
        )
        self.seen = {stage: [False] * len(kinds) for stage in STAGES}

    def parts(self, logits: torch.Tensor, batch: dict):
        """Per sub-task with rows in the batch: (index, its objective, its logits, its batch)."""
        for index, (kind, (start, end)) in enumerate(zip(self.kinds, self.columns)):
            rows = batch["task"] == index
            if not rows.any():
                continue
            labels = batch["labels"][rows]
            if kind == "pooled":  # the pooled logits are the same at every position: read position 0
                yield index, self.children_[index], logits[rows, 0, start:end], {"labels": labels[:, 0]}
            else:
                yield index, self.children_[index], logits[rows, :, start:end], {"labels": labels}

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        """Each sub-task's own mean loss, weighted by its share of the batch's rows."""
        total = logits.new_zeros((), dtype=torch.float32)
        for _, child, part, sub in self.parts(logits, batch):
            total = total + child.loss(part, sub, stage) * sub["labels"].size(0)
        return total / batch["labels"].size(0)

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        for index, child, part, sub in self.parts(logits, batch):
            child.update(part, sub, stage)
            self.seen[stage][index] = True

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        out, per_metric = {}, {}
        seen = seen_on_any_rank(self.seen[stage])
        for index, name in enumerate(self.task_names):
            if not seen[index]:  # a short training epoch that drew no row of it
                continue
            for key, value in self.children_[index].compute(stage).items():
                metric = key.split("/", 1)[1]
                out[f"{stage}/{name}/{metric}"] = value
                per_metric.setdefault(metric, []).append(value)
        shared = {metric: values for metric, values in per_metric.items() if len(values) == sum(seen)}
        out.update({f"{stage}/{metric}": torch.stack(values).mean() for metric, values in shared.items()})
        return out

    def record_examples(self, log, ids, logits, batch, stage) -> None:
        for index, child, part, sub in self.parts(logits, batch):
            statistics = child.example_statistics(part, sub, stage)
            log.add(ids[batch["task"] == index], {f"{self.task_names[index]}/{name}": value for name, value in statistics.items()})

    def example_formulas(self) -> dict[str, list]:
        return per_task_formulas({name: child.example_formulas() for name, child in zip(self.task_names, self.children_)})

    def reset(self, stage: str) -> None:
        for child in self.children_:
            child.reset(stage)
        self.seen[stage] = [False] * len(self.kinds)
