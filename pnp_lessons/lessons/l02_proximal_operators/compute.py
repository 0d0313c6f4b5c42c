"""The computations of lesson 02 (Proximal operators), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

from ...params import Param
from ...runtime import live_size
from ...solvers import fista, ista
from ...solvers.base import Iterate

__all__ = ["race", "PARAMS", "FUNCTIONS"]


PARAMS = {
    "tau": Param("tau", "τ", "prox step", 0.05, 3.0, 0.05),
    "lam_tv": Param("lam_tv", "λ", "TV weight, log scale", 1e-3, 1.0, 0.05, log=True),
    "noise": Param("noise", "σ·255", "noise", 0.0, 50.0, 0.5, digits=1),
    "noise_blur": Param("noise_blur", "σ·255", "noise", 0.0, 10.0, 0.1, digits=1),
    "lam": Param("lam", "λ", "weight, log scale", 1e-4, 0.1, 0.05, log=True),
    "iters": Param("iters", "K", "iterations", 5, 300, 5, integer=True),
}


FUNCTIONS = {"abs": "h(x) = |x|", "square": "h(x) = ½x²", "box": "h(x) = ι_[−1,1](x) (0 inside, +∞ outside)"}


def image_size() -> int:
    """Side of the lesson's images: 64 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=64)


def race(op, y, lam: float, x0=None, ref=None, max_iter: int = 100):
    """ISTA and FISTA on ½‖Ax − y‖² + λ TV(x), one step of each per record.

    Yields :class:`~pnp_lessons.solvers.base.Iterate` records of FISTA (``x``, ``objective``, ``psnr``)
    whose ``info`` also holds ISTA's (``ista_objective``, ``ista_psnr``, and the tensor ``ista_x``).
    """
    gi = ista(op, y, lam, reg="tv", x0=x0, ref=ref, max_iter=max_iter, tol=0)
    gf = fista(op, y, lam, reg="tv", x0=x0, ref=ref, max_iter=max_iter, tol=0)
    for a, b in zip(gi, gf, strict=False):
        done = a.done or b.done
        status = (b.status if b.done else a.status) if done else "running"
        msg = (b.message or a.message) if done else ""
        yield Iterate(b.k, b.x, b.objective, b.residual, b.psnr, status, msg,
                      dict(ista_objective=a.objective, ista_psnr=a.psnr, ista_residual=a.residual,
                           fista_objective=b.objective, fista_psnr=b.psnr, fista_residual=b.residual, ista_x=a.x))
        if done:
            return
