"""The image–text task kinds (``task.kind``, sweep/data/kinds.py): rows of (image, text) for a dual encoder
(``task.type=image_text``), each with a class name, which zero-shot classification reads as its prompt.

- ``tuxpaint_stamps``: real image–caption pairs. Tux Paint's stamps (Debian ``tuxpaint-stamps-default``
  2022.06.04, GPL-2): clip-art PNGs, each with a one-line English caption written by the stamp's author
  (``X.png`` beside ``X.txt``; the first line is English, the rest translations). 785 PNGs with a caption; the
  class is the stamp's folder (``animals/mammals`` -> ``mammals``, 69 folders). The only image–caption corpus
  found on PyPI or Debian here (no COCO, no Flickr).
- ``fashion_captions``: NOT a caption corpus. Fashion-MNIST's real images, each paired with a sentence written
  from its class name ("a photo of a sandal"): the in-domain task for our ViT pre-trained on Fashion-MNIST.

With ``task.heldout_classes=k``, k whole classes (a seeded draw) are validation's and k others test's, and none of
them is trained on: zero-shot accuracy on those splits then measures transfer to classes never seen, not memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sweep.zoo.assets import TUXPAINT_STAMPS_DIR

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig

STAMP_SIZE = 64  # pixels a side: stamps are scaled to fit, centred on black (a model's processor resizes again)
# the class-name sentences of fashion_captions, drawn per row (seeded): several phrasings, so that a caption is not
# one fixed string per class (which recall could only match by class)
FASHION_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "a {} on a black background.", "a small grey photo of a {}.")


@dataclass
class ImageTextRows:
    images: np.ndarray  # uint8, (rows, height, width) or (rows, height, width, channels)
    texts: list[str]  # each image's text
    labels: np.ndarray  # each row's class name (zero-shot prompts are made from these)
    split: np.ndarray | None = None  # train / val / test per row, where the data has its own splits


def tuxpaint_stamps(task: TaskConfig) -> ImageTextRows:
    """Every PNG stamp with an English caption, its folder as its class; decoded once per user (an npz beside the
    unpacked package): 0.1 s to read instead of 1.8 s to decode the 785 PNGs."""
    root = TUXPAINT_STAMPS_DIR.locate("task.kind=tuxpaint_stamps")
    stamps = sorted(png for png in root.rglob("*.png") if png.with_suffix(".txt").exists())
    cache = root.parent / f"sweep-stamps-{STAMP_SIZE}-{_listing_digest(stamps, root)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as saved:
            return ImageTextRows(saved["images"], saved["texts"].tolist(), saved["labels"], heldout_split(saved["labels"], task))
    images = np.stack([_stamp_pixels(png) for png in stamps])
    texts = [png.with_suffix(".txt").read_text(encoding="utf-8").splitlines()[0].strip() for png in stamps]
    labels = np.array([_stamp_class(png, root) for png in stamps])
    _save_atomically(cache, images=images, texts=np.array(texts), labels=labels)
    return ImageTextRows(images, texts, labels, heldout_split(labels, task))


def fashion_captions(task: TaskConfig) -> ImageTextRows:
    """Fashion-MNIST's images with sentences made from their class names (not captions: stated in the task file)."""
    from sweep.data.image_sources import fashion_mnist

    rows = fashion_mnist(task)
    names = dict(task.label_map or {})  # raw digit -> class name: the sentence names the class, not its id
    rng = np.random.default_rng(task.split_seed)
    choice = rng.integers(len(FASHION_TEMPLATES), size=len(rows.labels))
    texts = [FASHION_TEMPLATES[k].format(names.get(label, label).lower()) for k, label in zip(choice, rows.labels)]
    # Fashion-MNIST's own test split is not kept: held-out classes decide the splits
    return ImageTextRows(rows.images, texts, rows.labels, heldout_split(rows.labels, task))


def heldout_split(labels: np.ndarray, task: TaskConfig) -> np.ndarray | None:
    """train / val / test per row by class: ``task.heldout_classes`` classes each for val and test (seeded by
    ``task.split_seed``), the rest for training; None (rows split as any task's) where it is null."""
    from sweep.config.errors import require

    count = task.heldout_classes
    if count is None:
        return None
    classes = np.unique(labels)
    require(
        2 * count < len(classes),
        "task.heldout_classes",
        count,
        f"the data has {len(classes)} classes: allowed 1..{(len(classes) - 1) // 2}",
    )
    order = np.random.default_rng(task.split_seed).permutation(classes)
    split = np.full(len(labels), "train", dtype=object)
    split[np.isin(labels, order[:count])] = "val"
    split[np.isin(labels, order[count : 2 * count])] = "test"
    return split


def _stamp_class(png: Path, root: Path) -> str:
    """``animals/mammals/rodents/rabbit.png`` -> ``mammals``; a stamp directly in a top folder: that folder."""
    parts = png.relative_to(root).parts[:-1]
    return (parts[1] if len(parts) > 1 else parts[0]).replace("_", " ")


def _stamp_pixels(png: Path) -> np.ndarray:
    """RGB uint8 STAMP_SIZE x STAMP_SIZE: transparency composited on black, scaled to fit, centred."""
    from PIL import Image

    with Image.open(png) as image:
        rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    rgb = Image.alpha_composite(background, rgba).convert("RGB")
    rgb.thumbnail((STAMP_SIZE, STAMP_SIZE), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (STAMP_SIZE, STAMP_SIZE))
    canvas.paste(rgb, ((STAMP_SIZE - rgb.width) // 2, (STAMP_SIZE - rgb.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def _listing_digest(stamps: list[Path], root: Path) -> str:
    """Names and sizes of the stamps and captions: a changed package makes a new cache file."""
    listing = "\n".join(f"{png.relative_to(root)}:{png.stat().st_size}:{png.with_suffix('.txt').stat().st_size}" for png in stamps)
    return hashlib.sha256(listing.encode()).hexdigest()[:12]


def _save_atomically(path: Path, **arrays) -> None:
    """Written beside, then renamed: jobs that decode at once never read half a file."""
    scratch = path.with_name(f".{path.name}.{np.random.default_rng().integers(1 << 62)}.npz")
    try:
        np.savez(scratch, **arrays)
        scratch.replace(path)
    except OSError:  # a read-only copy (root's apt-get install): decode every time
        scratch.unlink(missing_ok=True)
