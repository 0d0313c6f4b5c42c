"""The total-variation denoiser: D(z) = prox_{λ TV}(z), the classical baseline of the lessons and of the tables.

Plugged into PnP-ISTA with the step γ it is prox_{γλ TV}, and PnP-ISTA *is* ISTA for ½‖Ax − y‖² + λ TV(x).
"""

from __future__ import annotations

import torch

from ..checks import check_positive

__all__ = ["TVDenoiser", "TV_FACTOR"]

#: λ = TV_FACTOR · σ (both on the [0, 1] scale) when the TV denoiser is asked for a noise level σ. Chosen on Set12
#: images 01, 05 and 08 at σ = 15/25/50 over the grid 0.4/0.6/0.8/1.0/1.2/1.6: 0.8 was best (or within 0.02 dB of
#: the best) at all three noise levels.
TV_FACTOR = 0.8


class TVDenoiser:
    """D(z) = prox_{γλ TV}(z), with λ fixed (``lam``) or tied to the noise level (λ = ``factor``·σ).

    Parameters
    ----------
    lam : float, optional
        A fixed λ ≥ 0; when ``None``, each call's σ gives λ = ``factor``·σ.
    factor : float
        λ/σ when ``lam`` is ``None`` (default :data:`TV_FACTOR`).
    max_iter, tol : int, float
        The inner solver of :func:`~pnp_lessons.prox.tv_prox`.

    Examples
    --------
    >>> D = TVDenoiser(lam=0.05)
    >>> D(torch.rand(1, 1, 16, 16), gamma=1.0).shape
    torch.Size([1, 1, 16, 16])
    >>> TVDenoiser()(torch.rand(1, 1, 16, 16), 25 / 255).shape     # λ = 0.8 σ
    torch.Size([1, 1, 16, 16])
    """

    uses_gamma = True   # PnP-ISTA passes its step γ: the prox of γλ TV

    def __init__(self, lam: float | None = None, factor: float = TV_FACTOR, max_iter: int = 100, tol: float = 1e-4):
        self.lam = check_positive(lam, "lam", allow_zero=True, allow_none=True)
        self.factor = check_positive(factor, "factor")
        self.max_iter, self.tol = int(max_iter), float(tol)

    def __call__(self, z: torch.Tensor, sigma: float | None = None, gamma: float = 1.0) -> torch.Tensor:
        from ..prox import tv_prox

        if self.lam is None and sigma is None:
            raise ValueError("TVDenoiser() without lam needs the noise level: call D(x, sigma)")
        lam = self.lam if self.lam is not None else self.factor * check_positive(sigma, "sigma", allow_zero=True)
        return tv_prox(z, gamma * lam, max_iter=self.max_iter, tol=self.tol)

    def __repr__(self):
        return f"TVDenoiser(lam={self.lam})" if self.lam is not None else f"TVDenoiser(factor={self.factor})"
