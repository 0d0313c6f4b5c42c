"""Images in and out: scikit-image's bundled samples, safe loading of user files, PNG bytes.

Tensors are ``(B, C, H, W)`` float32 in [0, 1] (C = 1 grey, 3 colour).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["SAMPLES", "sample", "load_image", "to_png_bytes", "to_tensor", "to_numpy", "ImageError",
           "MAX_PIXELS", "MAX_BYTES", "data_root"]

SAMPLES = ("astronaut", "camera", "coffee", "chelsea", "cat", "rocket", "moon", "brick", "grass",
           "gravel", "text", "coins", "page", "horse", "immunohistochemistry", "hubble_deep_field")
"""Names accepted by :func:`sample`: scikit-image's bundled images, which load offline."""

MAX_PIXELS = 16_000_000
"""Default cap on the decoded size of an uploaded image (pixels)."""

MAX_BYTES = 20 * 1024 * 1024
"""Default cap on the size of an uploaded file (bytes)."""


class ImageError(ValueError):
    """A file that is not a usable image (the message says why)."""


def data_root() -> Path:
    """The third-party data folder: ``$PNP_LESSONS_DATA`` or ``../shared/data`` beside the project."""
    env = os.environ.get("PNP_LESSONS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` array (uint8, uint16 or float in [0, 1]) → ``(1, C, H, W)`` float32.

    Examples
    --------
    >>> to_tensor(np.full((2, 3), 255, np.uint8)).shape
    torch.Size([1, 1, 2, 3])
    """
    a = np.asarray(a)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    elif a.dtype == bool:
        a = a.astype(np.float32)
    else:
        a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got shape {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].clamp(0, 1)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """First image of a ``(B, C, H, W)`` tensor → ``(H, W)`` or ``(H, W, 3)`` float array in [0, 1]."""
    if x.dim() != 4:
        raise ValueError(f"expected (B, C, H, W), got shape {tuple(x.shape)}")
    a = x[0].detach().float().cpu().clamp(0, 1).numpy().transpose(1, 2, 0)
    return a[:, :, 0] if a.shape[2] == 1 else a


def _rgb_to_grey(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if isinstance(size, int):
        h, w = x.shape[-2:]
        s = size / max(h, w)
        size = (max(1, round(h * s)), max(1, round(w * s)))
    return torch.nn.functional.interpolate(x, size=tuple(size), mode="area" if size[0] <= x.shape[-2] else "bicubic",
                                           align_corners=None if size[0] <= x.shape[-2] else False).clamp(0, 1)


def sample(name: str = "camera", size=None, grey: bool = False) -> torch.Tensor:
    """One of scikit-image's bundled images as a ``(1, C, H, W)`` tensor.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLES`.
    size : int or (int, int), optional
        Resize so the longer side is ``size`` (int) or to exactly ``(H, W)``.
    grey : bool
        Convert colour images to grey (ITU-R 601 luma).

    Examples
    --------
    >>> sample("camera", size=64).shape
    torch.Size([1, 1, 64, 64])
    >>> sample("astronaut", size=32).shape
    torch.Size([1, 3, 32, 32])
    """
    from skimage import data

    if name not in SAMPLES:
        raise ValueError(f"unknown sample image {name!r}; choose one of {', '.join(SAMPLES)}")
    a = getattr(data, name)()
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    x = to_tensor(a)
    if grey and x.shape[1] == 3:
        x = _rgb_to_grey(x)
    if size is not None:
        x = _resize(x, size)
    return x.contiguous()


def _open(source) -> tuple[Image.Image, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        label = "the uploaded data"
    else:
        p = Path(source)
        if not p.is_file():
            raise ImageError(f"no such file: {p}")
        if p.stat().st_size > MAX_BYTES:
            raise ImageError(f"{p.name} is {p.stat().st_size / 2**20:.1f} MiB, larger than the "
                             f"{MAX_BYTES / 2**20:.0f} MiB limit")
        raw = p.read_bytes()
        label = p.name
    if len(raw) == 0:
        raise ImageError(f"{label} is empty")
    if len(raw) > MAX_BYTES:
        raise ImageError(f"{label} is {len(raw) / 2**20:.1f} MiB, larger than the {MAX_BYTES / 2**20:.0f} MiB limit")
    try:
        im = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError as e:
        raise ImageError(f"{label} is too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label} is not an image this program can read (PNG, JPEG, TIFF, BMP or GIF)") from None
    except Exception as e:  # PIL raises a variety of errors on garbage
        raise ImageError(f"{label} could not be read as an image: {e}") from None
    return im, label


def load_image(source, max_pixels: int = MAX_PIXELS, grey: bool | None = None) -> torch.Tensor:
    """Decode an image file (path or bytes) into a ``(1, C, H, W)`` float32 tensor in [0, 1].

    Handles PNG/JPEG/TIFF/BMP/GIF, 8- and 16-bit, palette, alpha (composited on white), CMYK,
    EXIF orientation and animated files (first frame). Refuses empty files, non-images,
    truncated files and decompression bombs (more than ``max_pixels`` pixels) *before* decoding
    the pixels, with an :class:`ImageError` that says why.

    Parameters
    ----------
    source : str, Path or bytes
        The file.
    max_pixels : int
        Largest accepted ``width × height``.
    grey : bool, optional
        Force grey (True) or colour (False); by default grey files stay grey.

    Examples
    --------
    >>> png = to_png_bytes(torch.rand(1, 3, 8, 8))
    >>> load_image(png).shape
    torch.Size([1, 3, 8, 8])
    >>> load_image(b"not an image")
    Traceback (most recent call last):
    ...
    pnp_lessons.images.ImageError: the uploaded data is not an image this program can read (PNG, JPEG, TIFF, BMP or GIF)
    """
    im, label = _open(source)
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(f"{label} is {w}×{h} = {w * h / 1e6:.1f} megapixels, more than the limit of "
                         f"{max_pixels / 1e6:.1f} megapixels; resize it first")
    if w < 8 or h < 8:
        raise ImageError(f"{label} is only {w}×{h} pixels; use an image of at least 8×8")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            im.load()
    except Exception as e:
        raise ImageError(f"{label} is damaged or truncated and could not be decoded ({e})") from None
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        x = to_tensor((a / top).clip(0, 1).astype(np.float32))
    elif mode == "F":
        a = np.asarray(im, dtype=np.float64)
        lo, hi = np.nanmin(a), np.nanmax(a)
        x = to_tensor(((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)).astype(np.float32))
    else:
        if mode == "P":
            im = im.convert("RGBA")
        if mode in ("LA", "PA") or im.mode in ("RGBA", "LA"):
            base = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(base, im.convert("RGBA")).convert("RGB")
            if mode in ("LA",):
                im = im.convert("L")
        if im.mode == "1":
            im = im.convert("L")
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")  # CMYK, YCbCr, LAB ...
        x = to_tensor(np.asarray(im))
        if x.shape[1] == 3 and mode == "P" and bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all()):
            x = x[:, :1]
    if grey is True and x.shape[1] == 3:
        x = _rgb_to_grey(x)
    elif grey is False and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.contiguous()


def to_png_bytes(x: torch.Tensor) -> bytes:
    """PNG bytes of the first image of a ``(B, C, H, W)`` tensor (clipped to [0, 1], 8 bit).

    Examples
    --------
    >>> to_png_bytes(torch.zeros(1, 1, 4, 4))[:4]
    b'\\x89PNG'
    """
    a = (to_numpy(x) * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# --------------------------------------------------------------------------- folders of images (training, evaluation)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def load_image_folder(folder, channels: int = 1, limit: int | None = None) -> list[torch.Tensor]:
    """Load the images of a folder (sorted by name) as (1, C, H, W) float32 tensors in [0, 1].

    Parameters
    ----------
    folder : str or Path
        Folder holding PNG/JPEG/... files.
    channels : int
        1 converts to grey (PIL ``'L'``), 3 to RGB.
    limit : int, optional
        Keep only the first ``limit`` files.

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> d = tempfile.mkdtemp(); PIL.Image.new("L", (9, 7), 128).save(d + "/a.png")
    >>> load_image_folder(d)[0].shape
    torch.Size([1, 1, 7, 9])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist or is not a directory")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if limit is not None:
        files = files[: int(limit)]
    out = []
    for p in files:
        with Image.open(p) as im:
            a = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
        t = torch.from_numpy(a.copy())
        t = t[None, None] if channels == 1 else t.permute(2, 0, 1)[None]
        out.append(t)
    return out
