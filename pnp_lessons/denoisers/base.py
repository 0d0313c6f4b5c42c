"""The denoiser contract: what a solver may assume of ``D``.

Every denoiser of the package is called as ``D(x, sigma)`` on a ``(B, C, H, W)`` image with the noise level σ
on the [0, 1] scale, and returns an image of the same shape:

============================================  ================================================================
denoiser                                      ``D(x, sigma)``
============================================  ================================================================
:class:`~pnp_lessons.denoisers.tv.TVDenoiser`  prox of λ·TV with λ = ``factor``·σ (or a fixed λ)
:class:`~pnp_lessons.denoisers.nlm.KernelWeights`  W x, a fixed kernel denoiser (σ was used when W was built)
:class:`~pnp_lessons.denoisers.nlm.NLMDenoiser`  NLM with W from x itself (adaptive), h = H_FACTOR·σ
:class:`~pnp_lessons.denoisers.gsdrunet.DRUNetDenoiser`  N_σ(x)
:class:`~pnp_lessons.denoisers.gsdrunet.GSDenoiser`  x − ∇g_σ(x) (Hurault et al. 2022, eq. (9))
============================================  ================================================================

A gradient-step denoiser also exposes its potential g_σ and ∇g_σ (GS-PnP needs them for F and for its
backtracking): :class:`GradientStepDenoiser`.

Examples
--------
>>> import torch
>>> from pnp_lessons.denoisers.tv import TVDenoiser
>>> isinstance(TVDenoiser(), Denoiser)
True
>>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight, GSDenoiser
>>> isinstance(GSDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1)), GradientStepDenoiser)
True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["Denoiser", "GradientStepDenoiser"]


@runtime_checkable
class Denoiser(Protocol):
    """``D(x, sigma) -> tensor``: a denoiser for the noise level σ (on the [0, 1] scale)."""

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor: ...


@runtime_checkable
class GradientStepDenoiser(Denoiser, Protocol):
    """``D_σ = I − ∇g_σ`` with its potential: ``potential(x, σ)`` = g_σ(x) per image, ``grad(x, σ)`` = ∇g_σ(x)."""

    def potential(self, x: torch.Tensor, sigma: float) -> torch.Tensor: ...

    def grad(self, x: torch.Tensor, sigma: float) -> torch.Tensor: ...
