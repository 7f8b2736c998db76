"""Image–text matching (task.type=image_text): the contrastive objective and the loop that gives it class prompts.

The dual encoder's output for a batch is ``[B, 2, D]``: each image's unit embedding times exp(logit scale), and
its text's unit embedding, so that ``images @ texts.T`` is CLIP's logit matrix. Training: the symmetric InfoNCE loss
over it (each image's own text is its class among the batch's texts, and each text's own image among the images).

Validation and test need the whole split at once (a row's recall depends on every other row), so ``update`` keeps
the embeddings and ``compute`` ranks them:
- recall@k, image->text: the image's own text among its k most similar texts; text->image alike. Rows with the very
  same text (a class-name sentence) are one text: a hit is any row whose text is the same (``batch["text_id"]``);
- zero-shot accuracy: each image given the class whose prompt (``task.zeroshot_prompt``) is most similar, among the
  classes of the split (held-out ones, with ``task.heldout_classes``), averaged per class (balanced: a constant
  guess scores 1 / classes); the prompts' embeddings are computed by the module at the start of each evaluation,
  with the weights of that moment.
Counts are divided in float64 (0.79 logs as 0.79, lightning_modules/objectives.py ``ExactCounts``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lightning_modules.classification import SequenceClassificationModule
from lightning_modules.objectives import Objective

RECALL_AT = (1, 5)
# what the dual encoder reads of a batch; a frozen tower's cached pooled output stands for its input
DUAL_INPUTS = ("input_ids", "attention_mask", "pixel_values", "vision_features", "text_features")


def info_nce(pairs: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric loss over ``pairs`` [B, 2, D] (scaled images, texts)."""
    logits = pairs[:, 0].float() @ pairs[:, 1].float().T
    targets = torch.arange(logits.size(0), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def recall_at(similarity: torch.Tensor, same: torch.Tensor, k: int) -> torch.Tensor:
    """Rows whose k most similar columns include a match (``same[i, j]``): a float64 share."""
    top = similarity.topk(min(k, similarity.size(1)), dim=1).indices
    return same.gather(1, top).any(1).double().mean()


def balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean over the classes present of each one's accuracy: held-out classes differ in size (a stamp folder of
    158 letters beside one of 5 hats), and a plain accuracy would reward always guessing the largest."""
    classes = labels.unique()
    return torch.stack([(predicted[labels == label] == label).double().mean() for label in classes]).mean()


class Contrastive(Objective):
    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.kept: dict[str, list[tuple[torch.Tensor, ...]]] = {"val": [], "test": []}
        self.class_embeddings: torch.Tensor | None = None  # [classes, D], set by the module before each evaluation

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        return info_nce(logits)

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        if stage in self.kept:
            images, texts = F.normalize(logits[:, 0].float(), dim=-1), logits[:, 1].float()
            self.kept[stage].append((images.cpu(), texts.cpu(), batch["labels"].cpu(), batch["text_id"].cpu()))

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        if not self.kept.get(stage):
            return {}
        images, texts, labels, text_ids = (torch.cat(parts) for parts in zip(*self.kept[stage]))
        similarity = images @ texts.T
        same = text_ids[:, None] == text_ids[None, :]
        out = {}
        for k in RECALL_AT:
            out[f"{stage}/i2t_r{k}"] = recall_at(similarity, same, k)
            out[f"{stage}/t2i_r{k}"] = recall_at(similarity.T, same.T, k)
        if self.class_embeddings is not None:
            scores = images @ self.class_embeddings.float().cpu().T
            present = torch.zeros(scores.size(1), dtype=torch.bool)
            present[labels.unique()] = True  # the split's own classes only: held-out ones are judged among themselves
            predicted = scores.masked_fill(~present, float("-inf")).argmax(1)
            out[f"{stage}/zeroshot_acc"] = balanced_accuracy(predicted, labels)
        return out

    def reset(self, stage: str) -> None:
        if stage in self.kept:
            self.kept[stage] = []


class ContrastiveDistillation(Contrastive):
    """Training also matches a teacher's similarity matrix: alpha x InfoNCE + (1 - alpha) x T^2 x the KL divergence
    of the student's softened image->text and text->image distributions from the teacher's (Hinton et al. 2015, per
    row of the matrix, both ways). The teacher's matrix of the batch is ``teacher_image @ teacher_text.T``: its unit
    embeddings of the batch's rows, the images already times its scale (sweep/pipeline/dual_teacher.py). Validation
    and test losses stay plain InfoNCE, comparable with runs without a teacher."""

    def __init__(self, num_classes: int, alpha: float, temperature: float):
        super().__init__(num_classes)
        self.alpha, self.temperature = alpha, temperature

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        hard = info_nce(logits)
        if stage != "train":
            return hard
        student = logits[:, 0].float() @ logits[:, 1].float().T / self.temperature
        teacher = batch["teacher_image"].float() @ batch["teacher_text"].float().T / self.temperature
        soft = sum(
            F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), reduction="batchmean", log_target=True)
            for s, t in ((student, teacher), (student.T, teacher.T))
        )
        return self.alpha * hard + (1.0 - self.alpha) * self.temperature**2 * soft / 2


class DualEncoderModule(SequenceClassificationModule):
    """The classification loop with one addition: the class prompts embedded before each evaluation."""

    def __init__(self, model, objective: Contrastive, param_groups, schedule, prompts: dict[str, torch.Tensor]):
        super().__init__(model, objective, param_groups, schedule)
        self.prompts = prompts  # the tokenized class prompts: input_ids, attention_mask [classes, length]

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(**{key: batch[key] for key in DUAL_INPUTS if key in batch})

    def embed_prompts(self) -> None:
        with torch.no_grad():
            prompts = {key: value.to(self.device) for key, value in self.prompts.items()}
            self.objective.class_embeddings = self.model.encode_text(**prompts)

    def on_validation_epoch_start(self) -> None:
        self.embed_prompts()

    def on_test_epoch_start(self) -> None:
        self.embed_prompts()
