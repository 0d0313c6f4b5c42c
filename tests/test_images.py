import io

import numpy as np
import pytest
import torch
from PIL import Image

from pnp_lessons.images import SAMPLES, ImageError, load_image, sample, to_png_bytes
from pnp_lessons.metrics import psnr, ssim


def enc(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, format=fmt, **kw)
    return b.getvalue()


RGB = Image.fromarray((np.random.default_rng(0).random((32, 40, 3)) * 255).astype("uint8"))
GREY16 = Image.fromarray((np.random.default_rng(1).random((32, 40)) * 65535).astype("uint16"))


def animated_gif():
    b = io.BytesIO()
    RGB.convert("P").save(b, format="GIF", save_all=True, append_images=[RGB.rotate(90).convert("P")])
    return b.getvalue()


def exif_rotated_jpeg():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise on display
    return enc(RGB, "JPEG", exif=exif)


@pytest.mark.parametrize("name, data, shape", [
    ("png", enc(RGB, "PNG"), (1, 3, 32, 40)),
    ("jpeg", enc(RGB, "JPEG"), (1, 3, 32, 40)),
    ("cmyk-jpeg", enc(RGB.convert("CMYK"), "JPEG"), (1, 3, 32, 40)),
    ("tiff-16bit", enc(GREY16, "TIFF"), (1, 1, 32, 40)),
    ("png-16bit", enc(GREY16, "PNG"), (1, 1, 32, 40)),
    ("bmp", enc(RGB, "BMP"), (1, 3, 32, 40)),
    ("palette-png", enc(RGB.convert("P"), "PNG"), (1, 3, 32, 40)),
    ("rgba-png", enc(RGB.convert("RGBA"), "PNG"), (1, 3, 32, 40)),
    ("grey-alpha", enc(RGB.convert("LA"), "PNG"), (1, 1, 32, 40)),
    ("animated-gif", animated_gif(), (1, 3, 32, 40)),
    ("exif-rotated", exif_rotated_jpeg(), (1, 3, 40, 32)),
])
def test_load_image_formats(name, data, shape):
    x = load_image(data)
    assert tuple(x.shape) == shape and x.dtype == torch.float32
    assert 0 <= float(x.min()) and float(x.max()) <= 1


def test_16_bit_keeps_precision():
    x = load_image(enc(GREY16, "TIFF"))
    ref = np.asarray(GREY16, dtype=np.float64) / 65535
    assert np.abs(x[0, 0].numpy() - ref).max() < 1e-6


def test_load_from_path_and_png_round_trip(tmp_path):
    x = torch.rand(1, 3, 16, 24)
    p = tmp_path / "a.png"
    p.write_bytes(to_png_bytes(x))
    assert (load_image(p) - x).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"%PDF-1.4 not an image", "not an image this program can read"),
    (enc(RGB, "PNG")[:300], "damaged or truncated"),
    (enc(Image.new("L", (1, 1)), "PNG"), "only 1×1 pixels"),
    (enc(Image.new("L", (5000, 4000)), "PNG"), "more than the limit"),
])
def test_bad_files_raise_clear_errors(data, message):
    with pytest.raises(ImageError) as e:
        load_image(data, max_pixels=10_000_000)
    assert message in str(e.value)


def test_missing_path():
    with pytest.raises(ImageError, match="no such file"):
        load_image("/nonexistent/picture.png")


def test_samples_load_offline():
    for name in ("camera", "astronaut", "coffee", "chelsea", "moon"):
        x = sample(name, size=48)
        assert x.dim() == 4 and max(x.shape[-2:]) == 48
    assert sample("astronaut", size=(20, 30), grey=True).shape == (1, 1, 20, 30)
    assert "camera" in SAMPLES
    with pytest.raises(ValueError, match="unknown sample image 'lena'"):
        sample("lena")


def test_metrics():
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    noisy = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    p = psnr(noisy, x)
    assert 25 < p < 27.5
    assert ssim(x, x) == pytest.approx(1.0) and ssim(noisy, x) < 1
    with pytest.raises(ValueError, match="shape"):
        psnr(x, x[:1])


def test_device_helper(monkeypatch):
    from pnp_lessons.runtime import describe_device, get_device

    monkeypatch.setenv("PNP_LESSONS_DEVICE", "cpu")
    assert get_device().type == "cpu" and describe_device().startswith("CPU")
    if not torch.cuda.is_available():
        monkeypatch.setenv("PNP_LESSONS_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_device()
