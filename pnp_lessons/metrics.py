"""Image quality metrics: PSNR and SSIM on ``(B, C, H, W)`` tensors in [0, 1]."""

from __future__ import annotations

import math

import numpy as np
import torch


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, averaged over the batch.

    Each image's PSNR is ``10 log10(range² / MSE)``; the mean over the batch is returned, as
    the papers report mean PSNR over a test set. Values are *not* clipped: clip first if the
    protocol requires it.

    Examples
    --------
    >>> ref = torch.zeros(1, 1, 4, 4); x = ref + 0.1
    >>> round(psnr(x, ref), 2)
    20.0
    """
    if x.shape != ref.shape:
        raise ValueError(f"psnr: x has shape {tuple(x.shape)} but ref has shape {tuple(ref.shape)}")
    if x.dim() != 4:
        raise ValueError(f"psnr: expected (B, C, H, W) tensors, got {x.dim()} dimensions")
    mse = ((x.double() - ref.double()) ** 2).flatten(1).mean(1)
    vals = [math.inf if m == 0 else 10 * math.log10(data_range ** 2 / float(m)) for m in mse]
    return float(np.mean(vals))


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> float:
    """Structural similarity (scikit-image's implementation, Gaussian weights as Wang et al. 2004),
    averaged over the batch; colour images use the channel axis.

    Examples
    --------
    >>> ref = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> ssim(ref, ref)
    1.0
    """
    from skimage.metrics import structural_similarity

    if x.shape != ref.shape:
        raise ValueError(f"ssim: x has shape {tuple(x.shape)} but ref has shape {tuple(ref.shape)}")
    vals = []
    for a, b in zip(x.detach().cpu().double().numpy(), ref.detach().cpu().double().numpy(), strict=False):
        vals.append(structural_similarity(a, b, data_range=data_range, channel_axis=0,
                                          gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
    return float(np.mean(vals))
