"""Training data: the images of one folder or of several pooled, and random flipped crops of them."""

from __future__ import annotations

from pathlib import Path

import torch

from ..images import load_image_folder

__all__ = ["load_training_images", "random_crops", "folders"]


def folders(train_dir) -> list:
    """``train_dir`` as a list of folders (one path, or several whose images are pooled)."""
    return [train_dir] if isinstance(train_dir, (str, Path)) else list(train_dir)


def load_training_images(train_dir, channels: int = 1, limit: int | None = None) -> list[torch.Tensor]:
    """The images of one folder or of several folders pooled (each folder read by :func:`load_image_folder`).

    Crops are drawn image by image (:func:`random_crops`), so in a pool each *image* is equally likely,
    whatever its size: 400 Train400 images (180x180) next to 432 CBSD432 images (481x321) give
    about half the crops each. ``limit`` applies to each folder.

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> a, b = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> PIL.Image.new("L", (9, 7)).save(a + "/x.png"); PIL.Image.new("L", (5, 5)).save(b + "/y.png")
    >>> [t.shape[-1] for t in load_training_images([a, b])]
    [9, 5]
    """
    dirs = folders(train_dir)
    if not dirs:
        raise ValueError("train_dir names no folder")
    return [im for d in dirs for im in load_image_folder(d, channels, limit)]


def random_crops(images: list[torch.Tensor], batch: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """A batch of random ``size x size`` crops with random horizontal/vertical flips.

    Examples
    --------
    >>> imgs = [torch.rand(1, 1, 20, 30)]
    >>> random_crops(imgs, 4, 8, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 8, 8])
    """
    out = []
    for _ in range(batch):
        img = images[int(torch.randint(len(images), (1,), generator=gen))]
        h, w = img.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"crop size {size} is larger than a training image ({h}x{w})")
        i = int(torch.randint(h - size + 1, (1,), generator=gen))
        j = int(torch.randint(w - size + 1, (1,), generator=gen))
        c = img[0, :, i : i + size, j : j + size]
        if bool(torch.rand((), generator=gen) < 0.5):
            c = c.flip(-1)
        if bool(torch.rand((), generator=gen) < 0.5):
            c = c.flip(-2)
        out.append(c)
    return torch.stack(out)
