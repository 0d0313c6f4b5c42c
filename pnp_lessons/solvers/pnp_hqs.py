"""PnP-HQS with any denoiser (Zhang et al. 2017; Zhang et al., DPIR 2021):

    z_k = D(x_k),    x_{k+1} = prox_{τ f}(z_k),   f = ½‖Ax − y‖².

With the gradient-step denoiser and τ = 1/λ this is exactly GS-PnP without backtracking
(:mod:`pnp_lessons.solvers.gs_pnp`); with a plain denoiser (a DRUNet, NLM, …) there is no objective
and no convergence guarantee, which is the point of the comparison in the lessons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..checks import check_image, check_positive
from ..operators import Operator
from .base import Iterate, Tracker


def pnp_hqs(op: Operator, y: torch.Tensor, denoiser: Callable[[torch.Tensor], torch.Tensor], *, tau: float,
            x0: torch.Tensor | None = None, ref: torch.Tensor | None = None, max_iter: int = 100,
            tol: float = 1e-6) -> Iterator[Iterate]:
    """PnP half-quadratic splitting in the iterate protocol.

    Parameters
    ----------
    op : Operator
        Forward model.
    y : torch.Tensor
        Observation.
    denoiser : callable
        x ↦ D(x), e.g. ``lambda x: D.denoise(x, sigma)``.
    tau : float
        Weight of the data prox (for GS-PnP's defaults, τ = 1/λ).
    x0, ref, max_iter, tol
        As in :func:`pnp_lessons.solvers.ista`; ``x0`` defaults to prox_{τf}(y) (or Aᵀy when A
        changes the size).

    Examples
    --------
    >>> from pnp_lessons.operators import Inpainting
    >>> from pnp_lessons.prox import tv_prox
    >>> from pnp_lessons.solvers import run
    >>> op = Inpainting(ratio=0.5, seed=0); y = op.observe(torch.rand(1, 1, 16, 16))
    >>> run(pnp_hqs(op, y, lambda x: tv_prox(x, 0.05), tau=1.0, max_iter=4, tol=0)).iterations
    4
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be a callable x -> D(x), got {type(denoiser).__name__}")
    check_image(y, "y")
    tau = check_positive(tau, "tau")
    if x0 is None:
        x0 = op.A_adjoint(y)
        x0 = op.prox_data(x0, y, tau)
    x = check_image(x0, "x0")
    tracker = Tracker(x, ref, tol, max_iter)
    while True:
        z = denoiser(x)
        x_new = op.prox_data(z, y, tau)
        it = tracker.record(x_new, x, None, z=z, tau=tau)
        yield it
        if it.done:
            return
        x = x_new
