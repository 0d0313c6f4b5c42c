"""Argument checks, in one place: every public function of the package validates its inputs with these, so a
wrong shape, a NaN or an out-of-range parameter gets an error that names the argument, before any work is done.

Examples
--------
>>> check_positive(0.5, "tau")
0.5
>>> check_gamma(0, "gamma")
Traceback (most recent call last):
    ...
ValueError: gamma (the step size γ) must be a finite number > 0, got 0
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["check_image", "check_positive", "check_odd", "check_gamma"]


def check_image(x, name: str = "x") -> torch.Tensor:
    """Raise a clear error unless ``x`` is a finite ``(B, C, H, W)`` floating tensor; return it."""
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W) (4 dimensions), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_positive(value, name: str, allow_zero: bool = False, allow_none: bool = False) -> float | None:
    """``float(value)`` when it is a finite number > 0 (≥ 0 with ``allow_zero``; ``None`` passes with
    ``allow_none``); a TypeError or ValueError naming ``name`` otherwise."""
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return v


def check_odd(value, name: str) -> int:
    """``int(value)`` when it is a positive odd integer (a patch or window side); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or value % 2 == 0:
        raise ValueError(f"{name} must be a positive odd integer, got {value!r}")
    return int(value)


def check_gamma(gamma, name: str = "gamma", allow_zero: bool = False) -> float:
    """The step size γ as a float: finite and > 0 for a solver; ``allow_zero`` for an analysis that includes
    γ = 0 (then P = W, the denoiser alone)."""
    return check_positive(gamma, f"{name} (the step size γ)", allow_zero=allow_zero)
