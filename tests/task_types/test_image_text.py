"""task.type=image_text: the contrastive objective's numbers, the held-out classes, the dual encoder's refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sweep.config.errors import ConfigError

TINY_TOWERS = ["task=tuxpaint_captions", "model=dual_encoder", "model.vision=tiny_vit", "model.text=tiny_bert"]


def test_info_nce_is_clips_loss():
    """Ours against transformers' own CLIP loss on the same logit matrix (the library as the oracle)."""
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss

    from lightning_modules.image_text import info_nce

    torch.manual_seed(0)
    images, texts = torch.randn(6, 8) * 3.0, torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    pairs = torch.stack([images, texts], 1)
    assert info_nce(pairs).item() == pytest.approx(image_text_contrastive_loss(texts @ images.T).item(), rel=1e-6)


def test_recall_counts_a_row_with_the_same_text_as_a_hit_and_zero_shot_is_balanced_over_the_splits_classes():
    from lightning_modules.image_text import Contrastive

    objective = Contrastive(num_classes=3)
    # rows 0 and 1 share one text (text id 0); image 0 is nearest to text 1, which is the same sentence: a hit at 1
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.7, 0.7]])
    texts = torch.tensor([[0.9, 0.1], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    texts = torch.nn.functional.normalize(texts, dim=-1)
    labels, text_ids = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 2])
    objective.class_embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])  # class 2 is not in the split
    objective.update(torch.stack([images * 10, texts], 1), {"labels": labels, "text_id": text_ids}, "val")
    out = {key: float(value) for key, value in objective.compute("val").items()}
    # image->text at 1: rows 0, 1 (its nearest text 2? no: image 1 = (0,1), nearest text 2, text id 1 != 0) ...
    similarity = torch.nn.functional.normalize(images, dim=-1) @ texts.T
    nearest = similarity.argmax(1)
    expected = np.mean([int(text_ids[j] == text_ids[i]) for i, j in enumerate(nearest.tolist())])
    assert out["val/i2t_r1"] == pytest.approx(expected)
    assert out["val/i2t_r5"] == 1.0 and out["val/t2i_r5"] == 1.0  # 4 rows: every row is within 5
    # class 0: rows 0, 1 -> (1,0) right, (0,1) wrong = 0.5; class 1: rows 2, 3 -> (0,1) right, (0.7,0.7) a tie, first max: 0
    assert out["val/zeroshot_acc"] == pytest.approx((0.5 + 0.5) / 2)
    objective.reset("val")
    assert objective.compute("val") == {}


def test_held_out_classes_are_neither_trained_on_nor_shared_between_val_and_test():
    from omegaconf import OmegaConf

    from sweep.config.schema import TaskConfig, typed
    from sweep.data.image_text_sources import heldout_split
    from tests.conftest import CONF

    task = typed(TaskConfig, OmegaConf.load(CONF / "task" / "tuxpaint_captions.yaml"))
    labels = np.array([f"class{i % 30}" for i in range(300)])
    split = heldout_split(labels, task)
    classes = {name: set(labels[split == name]) for name in ("train", "val", "test")}
    assert len(classes["val"]) == len(classes["test"]) == 10 and len(classes["train"]) == 10
    assert not (classes["val"] & classes["train"]) and not (classes["test"] & classes["train"]) and not (classes["val"] & classes["test"])
    task.heldout_classes = 15
    with pytest.raises(ConfigError, match="task.heldout_classes.*the data has 30 classes: allowed 1..14"):
        heldout_split(labels, task)


def test_fashion_captions_are_sentences_of_the_images_class_names():
    from omegaconf import OmegaConf

    from sweep.config.schema import TaskConfig, typed
    from sweep.data.image_text_sources import fashion_captions
    from tests.conftest import CONF

    task = typed(TaskConfig, OmegaConf.load(CONF / "task" / "fashion_captions.yaml"))
    rows = fashion_captions(task)
    assert len(rows.texts) == len(rows.labels) == 70000 and rows.images.shape[1:] == (28, 28)
    for text, label in list(zip(rows.texts, rows.labels))[:200]:
        assert task.label_map[label].lower() in text
    assert len(set(rows.texts)) > 10  # several phrasings per class, not one string
    assert sorted(set(rows.split)) == ["test", "train", "val"]


@pytest.mark.parametrize(
    "overrides, key, message",
    [
        (["model.vision=minilm_l6"], "model.vision", "the vision tower must read image: tiny_vit, vit_small"),
        (["model.text=tiny_vit"], "model.text", "the text tower must read text: minilm_l3, minilm_l6"),
        (["model.vision=nope"], "model.vision", "unknown model; choose from "),
        (["model.tuned_towers=[image]"], "model.tuned_towers", "vision, text"),
        (["task=rotten_tomatoes"], "model", "reads image_text, task rotten_tomatoes has text rows"),
        (["strategy=prompt"], "strategy", "soft prompts feed token embeddings, which the vision tower does not take (allowed: bitfit, "),
    ],
)
def test_a_tower_or_task_that_does_not_fit_is_one_line_naming_the_key(job_config, overrides, key, message):
    with pytest.raises(ConfigError) as error:
        job_config(*TINY_TOWERS, *overrides)
    assert error.value.key == key and message in str(error.value), str(error.value)


def test_a_one_tower_model_on_image_text_rows_is_told_to_use_a_dual_encoder(job_config):
    with pytest.raises(ConfigError, match="reads text, task tuxpaint_captions has image_text rows; choose a model of family dual_encoder"):
        job_config("task=tuxpaint_captions", "model=minilm_l6")


def test_lit_runs_on_dual_encoders_only(job_config):
    with pytest.raises(ConfigError, match="locks a dual encoder's image tower: for model=dual_encoder only .allowed: adalora, "):
        job_config("strategy=lit", "model=tiny_bert")
    job = job_config(*TINY_TOWERS, "strategy=lit")
    assert job.strategy.name == "lit"


def test_each_tower_gets_the_strategy_or_stays_frozen_and_the_projections_always_train(job_config):
    from sweep.pipeline.build import build

    def trainable(built, tower):
        part = built.model.towers[tower]
        return any(p.requires_grad for p in part.backbone.parameters()), all(p.requires_grad for p in part.head.parameters())

    small = ["task.train_size=64", "task.val_size=32", "task.test_size=32"]
    lit = build(job_config(*TINY_TOWERS, *small, "strategy=lit"))
    assert trainable(lit, "vision") == (False, True) and trainable(lit, "text") == (True, True)
    assert lit.model.logit_scale.requires_grad
    feature = build(job_config(*TINY_TOWERS, *small, "strategy=feature"))
    assert trainable(feature, "vision") == (False, True) and trainable(feature, "text") == (False, True)
    lora = build(job_config(*TINY_TOWERS, *small, "strategy=lora", "model.tuned_towers=[vision]"))
    from peft import PeftModel

    assert isinstance(lora.model.vision.backbone, PeftModel) and not isinstance(lora.model.text.backbone, PeftModel)
    assert trainable(lora, "text") == (False, True)
    batch = next(iter(lora.loaders["train"]))
    assert set(batch) >= {"pixel_values", "input_ids", "attention_mask", "labels", "text_id"}
    assert lora.model(**{k: batch[k] for k in ("input_ids", "attention_mask", "pixel_values")}).shape == (len(batch["labels"]), 2, 128)


# what each tower's single-model row in tests/strategies/test_strategies.py counts as its head: hidden x labels + labels
SINGLE_HEADS = {"tiny_vit": 32 * 10 + 10, "tiny_bert": 32 * 2 + 2}
PROJECTION = 32 * 128 + 128  # each tower's projection (hidden 32 -> model.projection_dim 128), which always trains
DUAL_REFUSED = {"prompt", "ptuning", "prefix", "adalora"}
NEEDS_TEACHER = {"distill"}  # a kept dual encoder: tests/test_image_text_cli.py


def dual_expected(strategy: str) -> int:
    """A dual encoder's trainable parameters from the single-model table: each tuned tower as that strategy leaves it
    (without the single model's head), each frozen one nothing; both projections and the temperature always."""
    from sweep.strategies import STRATEGIES
    from tests.strategies.test_strategies import TABLE

    tuned = STRATEGIES.get(strategy).towers or ("vision", "text")
    per_tower = {"vision": "tiny_vit", "text": "tiny_bert"}
    row = {"lit": "full"}.get(strategy, strategy)  # LiT is full fine-tuning of the text tower (single models have no row)
    backbone = sum(TABLE[model][1][row] - SINGLE_HEADS[model] for tower, model in per_tower.items() if tower in tuned)
    return backbone + 2 * PROJECTION + 1


def dual_strategies() -> list[str]:
    from sweep.strategies import STRATEGIES

    return [name for name in STRATEGIES.names() if name not in DUAL_REFUSED | NEEDS_TEACHER]


@pytest.mark.parametrize("strategy", dual_strategies())
def test_every_strategy_on_a_dual_encoder_trains_what_it_does_on_each_tower_alone(job_config, strategy):
    from sweep.pipeline.build import build
    from tests.strategies.test_strategies import STRATEGY_OPTIONS

    options = STRATEGY_OPTIONS.get(strategy, [])
    built = build(job_config(*TINY_TOWERS, "task.train_size=64", "task.val_size=32", "task.test_size=32", f"strategy={strategy}", *options))
    assert built.trainable_params == dual_expected(strategy), strategy


@pytest.mark.parametrize("strategy", sorted(DUAL_REFUSED))
def test_the_strategies_a_dual_encoder_cannot_run_are_refused_naming_the_ones_it_can(job_config, strategy):
    with pytest.raises(ConfigError) as error:
        job_config(*TINY_TOWERS, f"strategy={strategy}")
    assert error.value.key == "strategy", str(error.value)
    assert str(error.value).endswith("(allowed: bitfit, distill, feature, full, ia3, lit, ln_tuning, loha, lokr, lora, partial, vera)")


def test_partial_freezes_each_tower_to_its_own_depth(job_config):
    from sweep.pipeline.build import build

    small = ["task.train_size=64", "task.val_size=32", "task.test_size=32", "strategy=partial"]
    built = build(job_config(*TINY_TOWERS, *small, "model.tower_freeze_depth.vision=2", "model.tower_freeze_depth.text=0"))
    # the vision tower: both blocks frozen, only its final norm trains; the text tower: every block trains (embeddings never)
    vision = {name for name, p in built.model.vision.backbone.named_parameters() if p.requires_grad}
    text = {name for name, p in built.model.text.backbone.named_parameters() if p.requires_grad}
    assert vision == {"layernorm.weight", "layernorm.bias"}
    assert any(name.startswith("encoder.layer.0.") for name in text) and not any(name.startswith("embeddings.") for name in text)
    with pytest.raises(ConfigError, match="model.tower_freeze_depth.*per-tower depths are for strategy=partial"):
        job_config(*TINY_TOWERS, "strategy=lora", "model.tower_freeze_depth.vision=1")


def test_distillation_matches_the_teachers_similarity_matrix_and_is_infonce_without_it():
    from lightning_modules.image_text import ContrastiveDistillation, info_nce

    torch.manual_seed(0)
    student = torch.stack([torch.randn(5, 4) * 4, torch.nn.functional.normalize(torch.randn(5, 4), dim=-1)], 1)
    own = {"teacher_image": student[:, 0], "teacher_text": student[:, 1]}  # a teacher that says what the student says
    other = {"teacher_image": torch.randn(5, 4) * 4, "teacher_text": torch.nn.functional.normalize(torch.randn(5, 4), dim=-1)}
    objective = ContrastiveDistillation(3, alpha=0.5, temperature=2.0)
    assert objective.loss(student, own, "train").item() == pytest.approx(0.5 * info_nce(student).item(), rel=1e-5)
    assert objective.loss(student, other, "train").item() > objective.loss(student, own, "train").item()
    assert objective.loss(student, other, "val").item() == pytest.approx(info_nce(student).item())  # comparable with no teacher
    assert ContrastiveDistillation(3, alpha=1.0, temperature=2.0).loss(student, other, "train").item() == pytest.approx(
        info_nce(student).item()
    )


def test_a_frozen_towers_features_are_computed_once_and_stand_for_its_input(job_config):
    from sweep.pipeline.build import build

    small = ["task.train_size=64", "task.val_size=32", "task.test_size=32"]
    lit = build(job_config(*TINY_TOWERS, *small, "strategy=lit"))
    batch = next(iter(lit.loaders["val"]))
    assert "vision_features" in batch and "text_features" not in batch  # the text tower trains: it runs every step
    model = lit.model.eval()
    with torch.no_grad():
        cached = model(batch["input_ids"], batch["attention_mask"], vision_features=batch["vision_features"])
        computed = model(batch["input_ids"], batch["attention_mask"], pixel_values=batch["pixel_values"])
    assert torch.allclose(cached, computed, atol=1e-5)
    feature = build(job_config(*TINY_TOWERS, *small, "strategy=feature"))
    assert {"vision_features", "text_features"} <= set(next(iter(feature.loaders["train"])))
