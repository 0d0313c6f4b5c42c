"""The computations of lesson 08 (Train your denoiser), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from ...images import data_root, load_image_folder, sample
from ...params import Param
from ...runtime import is_fast, lean_threads_wanted
from ...train import TrainConfig

__all__ = ["PARAMS", "training_folder", "validation_images", "tiny_config", "SKIMAGE_IMAGES", "TINY"]


PARAMS = {
    "steps": Param("steps", "K", "training steps", 1, 2000, 1, integer=True),
    "lr": Param("lr", "lr", "Adam, log scale", 1e-5, 1e-2, 0.1, log=True),
}


SKIMAGE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "cat", "brick", "grass", "gravel")


TINY = {"nc": (8, 16, 32, 32), "nb": 1}
"""The tiny network of the lesson: DRUNet-light with 8/16/32/32 channels and 1 residual block per level."""


_lock = threading.Lock()


_folder: Path | None = None


def training_folder() -> Path:
    """``<data>/Train400`` when present (the paper's grey training set), else scikit-image images as PNGs."""
    global _folder
    t400 = data_root() / "Train400"
    if t400.is_dir() and any(t400.iterdir()):
        return t400
    with _lock:
        if _folder is None or not _folder.exists():
            from PIL import Image

            d = Path(tempfile.mkdtemp(prefix="pnp-train-"))
            for name in SKIMAGE_IMAGES:
                try:
                    x = sample(name, size=180, grey=True)
                except (ValueError, Exception):  # noqa: BLE001 - an image missing from this scikit-image
                    continue
                a = (x[0, 0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)
                Image.fromarray(a).save(d / f"{name}.png")
            _folder = d
    return _folder


def validation_images(n: int | None = None, size: int | None = None) -> tuple[list[torch.Tensor], str]:
    """``(images, description)``: the first ``n`` Set12 images (centre crops of side ``size``) when the data
    folder is present, else scikit-image's camera/astronaut/coffee. CI-fast mode: 2 images, 64²."""
    n = n or (2 if is_fast() else 4)
    size = size or (64 if is_fast() else 128)
    set12 = data_root() / "Set12"
    if set12.is_dir():
        imgs = load_image_folder(set12, 1, n)
        src = f"Set12, first {len(imgs)} images, centre {size}×{size}"
    else:
        imgs = [sample(k, size=256, grey=True) for k in ("camera", "astronaut", "coffee", "chelsea")[:n]]
        src = f"scikit-image camera/astronaut/coffee/chelsea (first {len(imgs)}), centre {size}×{size}"
    out = []
    for x in imgs:
        h, w = x.shape[-2:]
        s = min(size, h, w)
        i, j = (h - s) // 2, (w - s) // 2
        out.append(x[..., i:i + s, j:j + s].contiguous())
    return out, src


def tiny_config(**overrides) -> TrainConfig:
    """A :class:`TrainConfig` for the tiny GS denoiser: crop 32 (48), batch 4 (8), 5 steps in CI-fast mode
    (300 otherwise), lr 10⁻³, a fresh temporary run folder (no resume), no export, no validation during training;
    one torch thread on a small shared CPU (see :func:`~pnp_lessons.runtime.lean_threads`)."""
    fast = is_fast()
    cfg = dict(name="my-tiny-gs", train_dir=str(training_folder()), val_dir=None, kind="gs", preset="small",
               nc=TINY["nc"], nb=TINY["nb"], crop=32 if fast else 48, batch=4 if fast else 8,
               steps=5 if fast else 300, lr=1e-3, lr_milestones=(0.5, 0.75, 0.9), val_every=0, ckpt_every=0,
               run_dir=tempfile.mkdtemp(prefix="pnp-run-"), export_dir=None, train_limit=40, progress=True,
               threads=1 if lean_threads_wanted() else None,
               notes="lesson 08 tiny model")
    cfg.update(overrides)
    return TrainConfig(**cfg)


class _Cancelled(Exception):
    pass
