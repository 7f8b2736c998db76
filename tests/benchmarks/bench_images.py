"""Benchmark: the image input path. What preprocessing a split costs, vectorised (sweep) against the
image processor's own per-image ``__call__``; one epoch of the image loaders with and without
``augment=images``; and the step time of a ViT on this machine.

    python tests/benchmarks/bench_images.py [--rows 10000]

Fashion-MNIST training images (28x28 grey) for a 28x28 ViT processor, and scikit-learn's 8x8 digits
resized to 28x28. Medians of 3. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def median_seconds(work, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_name() -> str:
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags, cpu_name

    extras = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()]
    return f"{cpu_name()} ({', '.join(extras) or 'no bf16 flags'}), {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()

    from sweep.config.schema import AugmentConfig, TaskConfig
    from sweep.data.image_augment import ImageAugmenter
    from sweep.data.image_sources import digits, fashion_mnist
    from sweep.data.images import image_loader, image_split
    from sweep.zoo.loader import new_processor

    print(f"CPU: {cpu_name()}\n")
    fashion = fashion_mnist(TaskConfig(name="fashion_mnist", kind="fashion_mnist", modality="image")).images[: args.rows]
    small = digits(TaskConfig(name="digits", kind="digits", modality="image")).images
    processor = new_processor(28, 1)
    labels = np.zeros(len(fashion), dtype=np.int64)

    print("| preprocessing | rows | sweep (vectorised) s | processor per image s | ratio |")
    print("|---|---|---|---|---|")
    for name, images in (("Fashion-MNIST 28x28 -> 28x28", fashion), ("digits 8x8 -> 28x28", small)):
        ours = median_seconds(lambda images=images: image_split(images, np.zeros(len(images), dtype=np.int64), processor))
        subset = images[:1000]  # the per-image path is slow: time 1,000 and scale
        theirs = median_seconds(lambda subset=subset: processor([image[..., None] for image in subset], return_tensors="pt"), repeats=1)
        theirs *= len(images) / len(subset)
        print(f"| {name} | {len(images)} | {ours:.3f} | {theirs:.2f} (from 1,000) | {theirs / ours:.0f}x |")

    split = image_split(fashion, labels, processor)
    plain = image_loader(split, 32, seed=0)
    augmenter = ImageAugmenter(AugmentConfig(name="images", max_shift=0.1, min_crop=0.85), processor, split, 0, 0)
    augmented = image_loader(split, 32, seed=0, augmenter=augmenter)
    print(f"\none epoch of the training loader ({len(split)} rows, batch 32):")
    print(f"  augment=none:   {median_seconds(lambda: sum(1 for _ in plain)):.3f} s")
    print(f"  augment=images: {median_seconds(lambda: sum(1 for _ in augmented)):.3f} s")

    from transformers import AutoModel, ViTConfig

    for name, layers, hidden, heads, ffn in (("tiny_vit", 2, 32, 2, 64), ("vit_small", 6, 192, 3, 384)):
        sizes = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ffn}
        config = ViTConfig(image_size=28, patch_size=7, num_channels=1, **sizes)
        model = AutoModel.from_config(config, add_pooling_layer=False)
        batch = split.normalised(split.pixels[:32])

        def step(model=model, batch=batch):
            model(pixel_values=batch).last_hidden_state[:, 0].sum().backward()

        step()
        seconds = median_seconds(step, repeats=10)
        epoch = seconds * len(split) / 32
        print(f"  {name}: forward+backward of a batch of 32, fp32: {seconds * 1000:.1f} ms; an epoch of {len(split)} rows ~ {epoch:.1f} s")


if __name__ == "__main__":
    main()
