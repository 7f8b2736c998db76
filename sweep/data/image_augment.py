"""Image augmentation of the training split: random shifts and crops, drawn afresh each epoch (``augment=images``).

One batched ``affine_grid`` + ``grid_sample`` per batch: a crop is a zoom by 1/scale, a shift a
translation, both per image; what moves in from outside the image is black (0), the background of the
digit and clothing images (the split keeps pixels unnormalised for that: sweep/data/images.py).
Every draw is a function of (seed, epoch, row) alone, like the token augmenter's (same counter-based
hash, sweep/data/draws.py): a row's transform does not depend on its batch, and differs across epochs.
"""

from __future__ import annotations

import numpy as np

from sweep.data.draws import row_keys, uniforms

SHIFT_X, SHIFT_Y, CROP = range(3)


class ImageAugmenter:
    def __init__(self, config, processor, train, seed: int, max_length: int):
        self.max_shift, self.min_crop, self.seed = float(config.max_shift), float(config.min_crop), int(seed)

    def __call__(self, pixels, rows: np.ndarray, epochs: np.ndarray):
        """``pixels``: (batch, C, H, W) in [0, 1]; row ``i`` is training row ``rows[i]`` in epoch ``epochs[i]``."""
        import torch
        import torch.nn.functional as F

        keys = row_keys(self.seed, epochs, rows)
        zero = np.zeros(len(rows), dtype=np.int64)

        def draw(stream: int) -> torch.Tensor:  # uniform in [-1, 1) per row
            return torch.from_numpy(uniforms(keys, zero, stream) * 2 - 1).float()

        scale = 1 - (1 - self.min_crop) * (draw(CROP) + 1) / 2  # the crop's side, as a fraction of the image
        # affine_grid works in [-1, 1] coordinates: a shift by a fraction f of the side is 2f; a crop of
        # side s may sit anywhere inside the image, up to (1 - s) off centre
        room = 1 - scale
        tx = draw(SHIFT_X) * 2 * self.max_shift + draw(SHIFT_X + 3) * room
        ty = draw(SHIFT_Y) * 2 * self.max_shift + draw(SHIFT_Y + 3) * room
        theta = torch.zeros(len(rows), 2, 3)
        theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = scale, scale, tx, ty
        grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
        return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
