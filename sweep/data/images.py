"""Images as model inputs: the image processor, preprocessed splits, and batch loaders.

The processor is Hugging Face's ``ViTImageProcessor`` (size, rescale, mean/std): it is saved with a
kept or pre-trained model and read back by ``AutoImageProcessor``, like a tokenizer. It is *applied* here,
to a whole split at once with torch (one ``interpolate`` and one normalisation over a uint8 tensor),
because its own ``__call__`` converts and resizes image by image through PIL: 16-23x slower on 28x28
images (tests/benchmarks/bench_images.py). The split keeps pixels rescaled to [0, 1] and unnormalised,
so augmentation (sweep/data/image_augment.py) pads with black, as the data's own background; batches
are normalised as they are drawn.

Batches are drawn by index arrays (one tensor gather per batch, not one dataset call per image).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

Extras = dict[str, np.ndarray]


def processor_fingerprint(processor) -> str:
    return hashlib.sha256(json.dumps(processor.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def rescaled(images: np.ndarray, processor) -> torch.Tensor:
    """uint8 (rows, H, W[, C]) -> float32 (rows, C, height, width) in [0, 1], at the processor's size and channels."""
    pixels = torch.from_numpy(np.ascontiguousarray(images))
    pixels = pixels.unsqueeze(1) if pixels.dim() == 3 else pixels.permute(0, 3, 1, 2)
    pixels = pixels.float() * float(processor.rescale_factor)
    channels = len(processor.image_mean)
    if pixels.size(1) != channels:  # grey -> colour by repetition; colour -> grey by luminance mean
        pixels = pixels.expand(-1, channels, -1, -1).contiguous() if pixels.size(1) == 1 else pixels.mean(1, keepdim=True)
    size = (int(processor.size["height"]), int(processor.size["width"]))
    if tuple(pixels.shape[-2:]) != size and len(pixels):
        pixels = torch.nn.functional.interpolate(pixels, size=size, mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return pixels


@dataclass
class ImageSplit:
    pixels: torch.Tensor  # float32 (rows, C, H, W) in [0, 1], not yet normalised
    labels: np.ndarray
    key: str  # identifies the images and the processor (the feature cache's key)
    mean: torch.Tensor  # (C, 1, 1): the processor's normalisation
    std: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def normalised(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std


def image_split(images: np.ndarray, labels: np.ndarray, processor) -> ImageSplit:
    digest = hashlib.sha256(processor_fingerprint(processor).encode())
    digest.update(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    channels = len(processor.image_mean)
    mean = torch.tensor(processor.image_mean, dtype=torch.float32).view(channels, 1, 1)
    std = torch.tensor(processor.image_std, dtype=torch.float32).view(channels, 1, 1)
    return ImageSplit(rescaled(images, processor), labels, digest.hexdigest()[:24], mean, std)


class ImageBatches(torch.utils.data.Dataset):
    """A batch per item: ``(epoch, row indices)`` -> pixel_values, labels and extras, augmented when training."""

    def __init__(self, split: ImageSplit, extras: Extras | None = None, augmenter: Callable | None = None):
        self.split, self.augmenter = split, augmenter
        self.labels = torch.as_tensor(np.array(split.labels))  # a copy (the array may be read-only), its dtype kept
        self.extras = {name: torch.as_tensor(np.array(values)) for name, values in (extras or {}).items()}

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key: tuple[int, np.ndarray]) -> dict:
        epoch, rows = key
        index = torch.as_tensor(rows, dtype=torch.long)
        pixels = self.split.pixels[index]
        if self.augmenter is not None:
            pixels = self.augmenter(pixels, np.asarray(rows), np.full(len(rows), epoch))
        batch = {"pixel_values": self.split.normalised(pixels), "labels": self.labels[index]}
        batch.update({name: values[index] for name, values in self.extras.items()})
        return batch


class BatchIndices(Sampler):
    """Row-index batches: a fresh shuffle (or weighted draw) every epoch for training, in order otherwise.

    Lightning calls ``set_epoch`` before each epoch; the epoch goes with the batch, for augmentation.
    """

    def __init__(self, rows: int, batch_size: int, seed: int | None = None, weights: np.ndarray | None = None):
        self.rows, self.batch_size, self.seed, self.weights = rows, batch_size, seed, weights
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.rows // self.batch_size)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        if self.seed is None:
            order = np.arange(self.rows)
        else:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            if self.weights is not None:  # multi-task temperature sampling
                order = torch.multinomial(torch.as_tensor(self.weights, dtype=torch.double), self.rows, True, generator=generator).numpy()
            else:
                order = torch.randperm(self.rows, generator=generator).numpy()
        return ((epoch, order[start : start + self.batch_size]) for start in range(0, self.rows, self.batch_size))


def image_loader(
    split: ImageSplit, batch_size: int, extras: Extras | None = None, seed: int | None = None, weights=None, augmenter=None
) -> DataLoader:
    """Training batches when ``seed`` is given (shuffled each epoch), else evaluation batches in row order."""
    return DataLoader(ImageBatches(split, extras, augmenter), sampler=BatchIndices(len(split), batch_size, seed, weights), batch_size=None)
