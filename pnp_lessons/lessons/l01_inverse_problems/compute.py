"""The computations of lesson 01 (Inverse problems), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import torch

from ...operators import Blur, Denoising, Inpainting, SuperResolution, gaussian_kernel, motion_kernel, uniform_kernel
from ...params import Param
from ...runtime import live_size

__all__ = ["make_kernel", "make_operator", "naive_inverse", "spectrum", "PARAMS", "KERNELS", "OPERATORS"]


PARAMS = {
    "noise": Param("noise", "σ·255", "noise", 0.0, 50.0, 0.5, digits=1),
    "small_noise": Param("small_noise", "σ·255", "noise", 0.0, 5.0, 0.05, digits=2),
    "missing": Param("missing", "ratio missing", "%", 0.0, 95.0, 5.0, digits=0),
    "kernel_size": Param("kernel_size", "k", "kernel size, pixels", 3, 25, 2, integer=True, odd=True),
    "eps": Param("eps", "μ", "Tikhonov, log scale", 1e-6, 1.0, 0.1, log=True),
}


KERNELS = {"gaussian": "Gaussian (std = k/6)", "uniform": "Uniform (box)", "motion": "Motion (camera shake)"}


OPERATORS = {"denoise": "Denoising (A = I)", "inpaint": "Inpainting (A = diag(mask))",
             "deblur": "Deblurring (A = blur)", "sr": "Super-resolution ×2 (A = ↓₂ · blur)"}


def image_size() -> int:
    """Side of the lesson's images: 64 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=64)


def make_kernel(kind: str, size: int) -> torch.Tensor:
    """The lesson's kernels: Gaussian with std size/6, uniform box, or a motion kernel (seed 0)."""
    if kind == "gaussian":
        return gaussian_kernel(size, max(size / 6, 0.5))
    if kind == "uniform":
        return uniform_kernel(size)
    if kind == "motion":
        return motion_kernel(max(size, 3), seed=0)
    raise ValueError(f"unknown kernel {kind!r}; choose one of {', '.join(KERNELS)}")


def make_operator(kind: str, missing: float = 50.0, kernel: str = "gaussian", size: int = 9):
    """The forward model for the lesson's settings (missing in %)."""
    if kind == "denoise":
        return Denoising()
    if kind == "inpaint":
        return Inpainting(ratio=missing / 100, seed=0)
    if kind == "deblur":
        return Blur(make_kernel(kernel, size))
    if kind == "sr":
        return SuperResolution(make_kernel(kernel, size), factor=2)
    raise ValueError(f"unknown operator {kind!r}")


def naive_inverse(op: Blur, y: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """(AᵀA + μI)⁻¹Aᵀy through the operator's data prox (z = 0, τ = 1/μ); μ = 0 gives ŷ/K̂."""
    tau = 1e30 if eps <= 0 else 1.0 / eps
    return op.prox_data(torch.zeros_like(y), y, tau)


def spectrum(op: Blur, shape) -> torch.Tensor:
    """|K̂| on an image of size ``shape``, zero frequency in the centre (fftshift)."""
    return torch.fft.fftshift(op.otf(shape, "cpu", torch.float64).abs())


def _kernel_png(k: torch.Tensor) -> torch.Tensor:
    k = k / k.max()
    return k[None, None].float()
