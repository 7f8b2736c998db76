"""Token classification (NER, chunking, POS tagging): one tag per word, scored on the word's first piece.

The collator labels the first sub-word piece of each word and puts -100 everywhere else (special tokens,
padding, later pieces), so the labelled positions of a row, in order, are its words. Entity tag sets
(BIO/IOB2, IOBES) are scored as seqeval scores them, entity by entity; other tag sets (POS) by word accuracy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from seqeval.metrics.sequence_labeling import get_entities
from torchmetrics import Metric

from lightning_modules.objectives import Objective, by_stage

IGNORE = -100
# the prefixes seqeval's default (conlleval) mode reads; BILOU's L-/U- it reads only in strict mode, so a
# BILOU tag set is scored by accuracy alone
ENTITY_PREFIXES = ("B-", "I-", "E-", "S-")
COUNTS = ("words", "correct", "gold", "predicted", "matched")


class WordCounts(Metric):
    """Words, correct words, and (entity tag sets) gold, predicted and matching entities: int64 sum states.

    seqeval's micro scores are functions of these three entity counts alone, so summing them over batches
    and DDP ranks gives its score over the whole set exactly, without keeping every tag sequence.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, tag_names: list[str] | None):
        super().__init__()
        self.tag_names = tag_names  # None: no entities counted
        for name in COUNTS:
            self.add_state(name, torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, labels: torch.Tensor) -> None:
        labelled = labels != IGNORE
        self.words += labelled.sum()
        self.correct += ((preds == labels) & labelled).sum()
        if self.tag_names is None:
            return
        counts = entity_counts(preds, labels, self.tag_names).sum(0)
        self.gold += int(counts[0])
        self.predicted += int(counts[1])
        self.matched += int(counts[2])

    def compute(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in COUNTS}


def entity_counts(preds: torch.Tensor, labels: torch.Tensor, tag_names: list[str]) -> torch.Tensor:
    """Per row the gold, predicted and matching entities, as seqeval finds them: int64 [B, 3]."""
    rows = []
    for row_labels, row_preds in zip(labels.cpu(), preds.cpu()):
        keep = row_labels != IGNORE
        # a row's entities: (type, first word, last word)
        true = set(get_entities([tag_names[t] for t in row_labels[keep].tolist()]))
        guess = set(get_entities([tag_names[t] for t in row_preds[keep].tolist()]))
        rows.append((len(true), len(guess), len(true & guess)))
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, 3)


def fraction(numerator: int, denominator: int) -> torch.Tensor:
    """The correctly rounded float64 fraction; 0 for 0/0 (seqeval's zero_division, without its warning)."""
    return torch.tensor(float(numerator) / float(denominator) if denominator else 0.0, dtype=torch.float64)


class TokenClassification(Objective):
    """Cross-entropy over the labelled positions; word accuracy ``acc``, and for entity tag sets seqeval's
    entity-level micro ``precision``, ``recall`` and ``f1`` (its default mode).

    f1 is 2·matched / (predicted + gold), the correctly rounded fraction; seqeval computes 2PR / (P + R)
    from the rounded P and R, which can differ from it in the last bit.
    """

    def __init__(self, tag_names: list[str]):
        super().__init__()
        self.tag_names = list(tag_names)
        self.entities = self.is_bio(self.tag_names)
        self.counts = by_stage(lambda: WordCounts(self.tag_names if self.entities else None))

    @staticmethod
    def is_bio(tag_names: list[str]) -> bool:
        """Every tag ``O`` or B-/I-/E-/S-prefixed (IOB2, IOB1, IOBES), and at least one not ``O``."""
        return all(tag == "O" or tag.startswith(ENTITY_PREFIXES) for tag in tag_names) and any(tag != "O" for tag in tag_names)

    @classmethod
    def monitor_metric(cls, tag_names: list[str]) -> str:
        """What early stopping and the search should maximise: entity f1, or word accuracy without entities."""
        return "f1" if cls.is_bio(tag_names) else "acc"

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        """Mean over the labelled positions; 0 (with a graph) for a batch without any, rather than 0/0."""
        labels = batch["labels"]
        total = F.cross_entropy(logits.float().flatten(0, -2), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        return total / (labels != IGNORE).sum().clamp(min=1)

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        self.counts[f"{stage}_"].update(logits.argmax(-1), batch["labels"])

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        metric = self.counts[f"{stage}_"]
        counts = {name: int(value) for name, value in metric.compute().items()}
        values = {"acc": fraction(counts["correct"], counts["words"])}
        if self.entities:
            matched, predicted, gold = counts["matched"], counts["predicted"], counts["gold"]
            values["precision"] = fraction(matched, predicted)
            values["recall"] = fraction(matched, gold)
            values["f1"] = fraction(2 * matched, predicted + gold)
        device = metric.words.device
        dtype = torch.float32 if device.type == "mps" else torch.float64
        return {f"{stage}/{name}": value.to(device, dtype) for name, value in values.items()}

    def reset(self, stage: str) -> None:
        self.counts[f"{stage}_"].reset()

    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        preds, labels = logits.argmax(-1), batch["labels"]
        labelled = labels != IGNORE
        out = {"words": labelled.sum(1).double(), "correct": ((preds == labels) & labelled).sum(1).double()}
        if self.entities:
            counts = entity_counts(preds, labels, self.tag_names).double()
            out.update({"gold": counts[:, 0], "predicted": counts[:, 1], "matched": counts[:, 2]})
        return out

    def example_formulas(self) -> dict[str, list]:
        formulas = {"acc": ["ratio", "correct", "words"]}
        if self.entities:
            formulas.update(
                precision=["fraction", "matched", "predicted"],
                recall=["fraction", "matched", "gold"],
                f1=["dice", "matched", "predicted", "gold"],
            )
        return formulas


def teacher_word_counts(teacher: torch.Tensor, batch: dict) -> torch.Tensor:
    """Words per row the teacher scored: ``batch["teacher_words"]`` if given, else up to its last word slot
    that is not all zeros (zero padding; a real logit vector is never exactly all zeros)."""
    if "teacher_words" in batch:
        return batch["teacher_words"].clamp(max=teacher.size(1))
    slots = torch.arange(1, teacher.size(1) + 1, device=teacher.device)
    return (teacher.ne(0).any(-1) * slots).amax(-1) if teacher.size(1) else slots.new_zeros(teacher.size(0))


class TokenDistillation(TokenClassification):
    """Training follows a teacher's per-word soft labels (``batch["teacher_logits"]``, [B, W, C], word j of
    row i = the j-th labelled position of row i, zero-padded) as well as the gold tags.

    loss = α·CE(student, gold) + (1 − α)·T²·KL(teacher_T ‖ student_T), as ``distillation_loss`` with both
    terms means over words. CE covers every labelled position; KL the first min(student words, teacher
    words) of each row: a teacher that truncated a row sooner has no soft labels for its last words, which
    keep their gold ones. Validation and test losses stay plain CE, comparable with runs without a teacher.
    """

    def __init__(self, tag_names: list[str], alpha: float, temperature: float):
        super().__init__(tag_names)
        self.alpha = alpha
        self.temperature = temperature

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        hard = super().loss(logits, batch, stage)
        if stage != "train":
            return hard
        labels, teacher = batch["labels"], batch["teacher_logits"].float()
        labelled = labels != IGNORE
        word = labelled.long().cumsum(1) - 1  # each labelled position's word index in its row
        taught = labelled & (word < teacher_word_counts(teacher, batch).unsqueeze(1))
        rows = torch.arange(labels.size(0), device=labels.device).unsqueeze(1).expand_as(labels)
        student_words, teacher_words = logits.float()[taught], teacher[rows[taught], word[taught]]
        t = self.temperature
        soft = F.kl_div(F.log_softmax(student_words / t, -1), F.log_softmax(teacher_words / t, -1), reduction="sum", log_target=True)
        soft = soft / taught.sum().clamp(min=1)
        return self.alpha * hard + (1.0 - self.alpha) * t**2 * soft
