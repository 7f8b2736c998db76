"""Multi-task training across task types: a classification and a token classification sub-task share a backbone,
each with its head columns, its loss and its metrics."""

import math

import pytest
import torch
import torch.nn.functional as F

from lightning_modules.mixed_multitask import MixedMultiTask


def test_each_sub_task_is_scored_on_its_own_rows_and_columns_by_hand():
    # sub-task 0: two classes (pooled columns 0-1); sub-task 1: tags O, B-X (token columns 2-3)
    objective = MixedMultiTask(["sentiment", "ner"], ["pooled", "tokens"], [["neg", "pos"], ["O", "B-X"]])
    logits = torch.zeros(2, 3, 4)
    logits[0, :, :2] = torch.tensor([0.0, 2.0])  # row 0 (a class row): the pooled logits at every position
    logits[1, :, 2:] = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])  # row 1 (a token row): per position
    batch = {
        "task": torch.tensor([0, 1]),
        "labels": torch.tensor([[1, -100, -100], [-100, 0, 1]]),  # class 1 at position 0; tags O, B-X on pieces 1, 2
    }
    loss = objective.loss(logits, batch, "train")
    # by hand: CE(class row) = log(1 + e^-2); CE(token row) = mean over its 2 words of log(1 + e^-3); each weighted
    # by its one row of two
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-3))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    objective.update(logits, batch, "val")
    metrics = objective.compute("val")
    assert metrics["val/sentiment/acc"] == 1.0 and metrics["val/ner/acc"] == 1.0 and metrics["val/ner/f1"] == 1.0
    assert metrics["val/acc"] == 1.0 and "val/precision" not in metrics  # means only of what every sub-task has
    assert set(metrics) >= {"val/f1", "val/sentiment/f1"}


def test_the_loss_of_a_batch_of_one_sub_task_is_that_sub_tasks_loss():
    objective = MixedMultiTask(["a", "b"], ["pooled", "tokens"], [["x", "y"], ["O", "B-X"]])
    logits = torch.randn(3, 4, 4)
    batch = {"task": torch.tensor([0, 0, 0]), "labels": torch.tensor([[1, -100, -100, -100], [0, -100, -100, -100], [1, -100, -100, -100]])}
    assert objective.loss(logits, batch, "train").item() == pytest.approx(F.cross_entropy(logits[:, 0, :2], torch.tensor([1, 0, 1])).item())


def test_a_classification_and_a_token_task_train_together_and_reload(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    job = job_config(
        "model=tiny_bert", "task=multi", "task.tasks=[rotten_tomatoes,tweet_ner]", "task.train_size=48", "task.val_size=24",
        "task.test_size=24", "trainer.precision=32-true", "trainer.max_steps=3",
    )  # fmt: skip
    built = build(job)
    assert built.head == "mixed" and built.model.outputs == [2, 21]  # fresh/rotten; O and 10 types in B-/I-
    batch = next(iter(built.loaders["train"]))
    class_rows = batch["task"] == 0
    assert (batch["labels"][class_rows, 1:] == -100).all() and (batch["labels"][class_rows, 0] >= 0).all()
    metrics = train(built).metrics
    assert {"test/rotten_tomatoes/acc", "test/tweet_ner/f1", "test/tweet_ner/acc", "test/acc"} <= set(metrics)
    assert metrics["test/acc"] == pytest.approx((metrics["test/rotten_tomatoes/acc"] + metrics["test/tweet_ner/acc"]) / 2)


def test_a_multilabel_sub_task_is_refused_at_compose_time(job_config):
    from sweep.config.errors import ConfigError

    with pytest.raises(ConfigError, match="'debian_tags' is task.type=multilabel; multi-task training stacks sub-tasks of types"):
        job_config("task=multi", "task.tasks=[rotten_tomatoes,debian_tags]")
