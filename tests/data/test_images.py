"""Image tasks, the image processor and image batches: the real packaged data sets, read without downloads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import compose


def task(name: str, *overrides: str):
    from sweep.config.schema import RootConfig, typed

    return typed(RootConfig, compose(f"task={name}", "model=tiny_vit", *overrides)).task


@pytest.mark.parametrize(
    "name, shape, train, val, test",
    [("fashion_mnist", (28, 28), 10000, 2000, 2000), ("mnist", (28, 28), 3500, 500, 1000), ("digits", (8, 8), 1197, 300, 300)],
)
def test_image_tasks_read_real_data_with_ten_balanced_classes(name, shape, train, val, test):
    from sweep.data.tasks import load_splits

    splits = load_splits(task(name))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (train, val, test)
    assert splits.train.inputs.shape[1:] == shape and splits.train.inputs.dtype == np.uint8
    assert splits.num_labels == 10
    counts = np.bincount(splits.train.labels, minlength=10)
    assert counts.min() > 0.6 * counts.mean()  # every class is there, roughly balanced
    assert splits.train.inputs.max() > 200  # 0..255, also for the 0..16 digits


def test_fashion_mnist_keeps_its_official_test_split_and_draws_val_from_train():
    from sweep.data.image_sources import fashion_mnist, read_idx
    from sweep.zoo.assets import FASHION_MNIST_DIR

    rows = fashion_mnist(task("fashion_mnist"))
    official_test = read_idx(FASHION_MNIST_DIR.locate("x") / "t10k-images-idx3-ubyte.gz")
    assert np.array_equal(rows.images[rows.split == "test"], official_test)
    assert (rows.split == "val").sum() == 2000 and (rows.split[:60000] != "test").all()
    again = fashion_mnist(task("fashion_mnist"))
    assert np.array_equal(again.split, rows.split)  # the same validation rows for every job
    other = fashion_mnist(task("fashion_mnist", "task.split_seed=1"))
    assert not np.array_equal(other.split, rows.split)


def test_read_idx_parses_the_format():
    import gzip
    import io

    from sweep.data.image_sources import read_idx

    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in data.shape) + data.tobytes()
    assert np.array_equal(read_idx(io.BytesIO(gzip.compress(raw))), data)


def test_processor_resizes_converts_channels_and_rescales():
    from sweep.data.images import rescaled
    from sweep.zoo.loader import new_processor

    images = np.zeros((3, 8, 8), dtype=np.uint8)
    images[:, 2:6, 2:6] = 255
    grey = rescaled(images, new_processor(28, 1))
    assert grey.shape == (3, 1, 28, 28) and grey.dtype == torch.float32
    assert 0.0 <= grey.min() and grey.max() <= 1.0 and grey[0, 0, 14, 14] == pytest.approx(1.0)
    colour = rescaled(images, new_processor(16, 3))
    assert colour.shape == (3, 3, 16, 16) and torch.equal(colour[:, 0], colour[:, 2])
    assert torch.equal(rescaled(images, new_processor(8, 1))[:, 0], torch.from_numpy(images).float() / 255)  # no resize at its size


def test_training_batches_reshuffle_each_epoch_and_are_normalised():
    from sweep.data.images import image_loader, image_split
    from sweep.zoo.loader import new_processor

    images = np.random.default_rng(0).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    split = image_split(images, np.arange(50) % 10, new_processor(28, 1))
    loader = image_loader(split, batch_size=16, seed=3)
    first = torch.cat([batch["labels"] for batch in loader])
    second = torch.cat([batch["labels"] for batch in loader])
    assert sorted(first.tolist()) == sorted((np.arange(50) % 10).tolist()) and not torch.equal(first, second)
    batch = next(iter(image_loader(split, batch_size=50)))  # evaluation: in row order
    assert torch.equal(batch["labels"], torch.arange(50) % 10)
    expected = (torch.from_numpy(images).float() / 255 - 0.5) / 0.5
    assert torch.allclose(batch["pixel_values"][:, 0], expected, atol=1e-6)


def test_image_augmentation_depends_on_seed_epoch_and_row_only():
    from sweep.config.schema import AugmentConfig
    from sweep.data.image_augment import ImageAugmenter

    pixels = torch.rand(6, 1, 28, 28)
    augment = ImageAugmenter(AugmentConfig(name="images", max_shift=0.1, min_crop=0.8), None, None, seed=0, max_length=0)
    rows, epoch0 = np.arange(6), np.zeros(6, dtype=np.int64)
    out = augment(pixels, rows, epoch0)
    assert out.shape == pixels.shape and not torch.allclose(out, pixels)
    assert torch.equal(augment(pixels[[3]], rows[[3]], epoch0[[3]])[0], out[3])  # the same, whatever the batch
    assert not torch.allclose(augment(pixels, rows, epoch0 + 1), out)  # a fresh draw each epoch
    identity = ImageAugmenter(AugmentConfig(name="images", max_shift=0.0, min_crop=1.0), None, None, seed=0, max_length=0)
    assert torch.allclose(identity(pixels, rows, epoch0), pixels, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model=tiny_vit"], "model=tiny_vit: model tiny_vit (family vision) reads image, task rotten_tomatoes has text rows"),
        (["task=mnist"], "model=minilm_l6: model minilm_l6 (family encoder) reads text, task mnist has image rows"),
        (["model=tiny_vit", "task=digits", "strategy=prompt"], "strategy=prompt: family vision cannot run it"),
        (["model=tiny_vit", "task=digits", "augment=tokens"], "augment=tokens: it augments text rows; the task has image rows"),
        (["task.modality=image", "model=tiny_vit"], "task.modality=image: task.kind=rotten_tomatoes yields text rows"),
        (["model=tiny_vit", "task=digits", "strategy=distill", "distill.teacher=minilm_l6"], "strategy=distill: family vision cannot"),
        # regression: without a teacher it asked for one, which the check below then refused
        (["model=tiny_vit", "task=digits", "strategy=distill"], "strategy=distill: family vision cannot run it"),
        (["model=tiny_vit", "task=digits", "strategy=lora", "distill.teacher=minilm_l6"], "distill.teacher=minilm_l6: distillation is"),
    ],
)
def test_a_model_and_a_task_of_different_modalities_fail_at_compose_time(overrides, message):
    from sweep.config.errors import ConfigError
    from sweep.pipeline.validate import validate

    with pytest.raises(ConfigError) as error:
        validate(compose(*overrides))
    assert str(error.value).startswith(message), str(error.value)


def test_a_vision_refusal_offers_only_the_strategies_a_vit_runs():
    """Regression: refusing prompt offered distill, which a vision model cannot run either."""
    from sweep.config.errors import ConfigError
    from sweep.pipeline.validate import validate

    for strategy in ("prompt", "distill"):
        with pytest.raises(ConfigError) as error:
            validate(compose("model=tiny_vit", "task=digits", f"strategy={strategy}"))
        assert error.value.key == "strategy" and str(error.value).endswith(
            "(allowed: adalora, bitfit, feature, full, ia3, ln_tuning, loha, lokr, lora, partial, vera)"
        ), str(error.value)
