"""Objectives: losses against values computed by hand, per-task metrics and their mean."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_modules.objectives import Classification, Distillation, MultiTask, distillation_loss


def softmax(values: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp(v / temperature) for v in values]
    return [e / sum(exps) for e in exps]


def test_distillation_loss_matches_a_hand_computed_value():
    student, teacher, label = [2.0, 0.0, -1.0], [0.5, 1.5, 0.0], 0
    alpha, temperature = 0.3, 2.0
    ce = -math.log(softmax(student)[label])
    p_teacher, p_student = softmax(teacher, temperature), softmax(student, temperature)
    kl = sum(t * (math.log(t) - math.log(s)) for t, s in zip(p_teacher, p_student))
    expected = alpha * ce + (1 - alpha) * temperature**2 * kl

    got = distillation_loss(torch.tensor([student]), torch.tensor([teacher]), torch.tensor([label]), alpha, temperature)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_distillation_with_alpha_one_is_cross_entropy_and_a_perfect_copy_costs_only_that():
    logits, labels = torch.tensor([[1.0, -1.0], [0.2, 0.4]]), torch.tensor([0, 1])
    ce = torch.nn.functional.cross_entropy(logits, labels).item()
    assert distillation_loss(logits, torch.randn(2, 2), labels, 1.0, 3.0).item() == pytest.approx(ce)
    # the student equals the teacher: the KL term is zero whatever alpha
    assert distillation_loss(logits, logits, labels, 0.25, 4.0).item() == pytest.approx(0.25 * ce, rel=1e-6)


def test_distillation_uses_the_teacher_in_training_only():
    objective = Distillation(2, alpha=0.0, temperature=1.0)
    logits = torch.tensor([[3.0, -3.0]])
    batch = {"labels": torch.tensor([1]), "teacher_logits": torch.tensor([[3.0, -3.0]])}
    assert objective.loss(logits, batch, "train").item() == pytest.approx(0.0, abs=1e-6)  # matches the teacher
    assert objective.loss(logits, batch, "val").item() == pytest.approx(Classification(2).loss(logits, batch, "val").item())
    assert objective.loss(logits, batch, "val").item() > 5.0  # and is wrong about the label


def test_multitask_slices_each_sub_task_and_averages_metrics():
    objective = MultiTask(["a", "b"], [2, 3])
    # columns 0-1 belong to a, 2-4 to b; row 0 (a) is right, row 1 (b) is right, row 2 (b) is wrong
    logits = torch.tensor([[5.0, 0.0, 9.0, 9.0, 9.0], [9.0, 9.0, 0.0, 0.0, 5.0], [9.0, 9.0, 5.0, 0.0, 0.0]])
    batch = {"labels": torch.tensor([0, 2, 1]), "task": torch.tensor([0, 1, 1])}
    objective.update(logits, batch, "val")
    metrics = objective.compute("val")
    assert metrics["val/a/acc"].item() == pytest.approx(1.0)
    assert metrics["val/b/acc"].item() == pytest.approx(0.5)
    assert metrics["val/acc"].item() == pytest.approx(0.75)  # the mean of the sub-tasks, not of the rows

    expected = (
        sum(
            torch.nn.functional.cross_entropy(logits[i : i + 1, s:e], batch["labels"][i : i + 1]).item()
            for i, (s, e) in enumerate([(0, 2), (2, 5), (2, 5)])
        )
        / 3
    )
    assert objective.loss(logits, batch, "train").item() == pytest.approx(expected, rel=1e-6)

    objective.reset("val")
    objective.update(logits[:1], {"labels": batch["labels"][:1], "task": batch["task"][:1]}, "val")
    assert "val/b/acc" not in objective.compute("val")  # a sub-task without rows has no metric, not a 0
