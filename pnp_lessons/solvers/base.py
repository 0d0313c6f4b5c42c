"""The iterate protocol shared by every solver.

A solver is a *generator*: each iteration it yields an :class:`Iterate` record (``k``, ``x``,
``objective``, ``residual`` = ‖x_{k+1} − x_k‖, ``psnr`` when a reference is given, ``status``).
A widget streams these records, a test inspects them, and :func:`run` is a thin loop that keeps
the last one and a history without the images.

Every solver builds its records through :class:`Tracker`, which owns the stopping rules
(relative residual below ``tol``, ``max_iter``) and the divergence rule of the house:
non-finite values, an exploding iterate or an exploding residual end the run with
``status='diverged'`` and a message, and the image handed back is the last *finite* iterate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator

import torch

from ..metrics import psnr as _psnr

RUNNING, CONVERGED, MAX_ITER, DIVERGED, STOPPED = "running", "converged", "max_iter", "diverged", "stopped"


@dataclass
class Iterate:
    """One record of the iterate protocol.

    Attributes
    ----------
    k : int
        Iteration number (1 for the first update).
    x : torch.Tensor
        Current iterate, ``(B, C, H, W)``. When ``status == 'diverged'`` this is the last finite iterate.
    objective : float or None
        Objective value at ``x`` when the method minimises one.
    residual : float
        ‖x_k − x_{k−1}‖ (Frobenius norm over the whole batch).
    psnr : float or None
        PSNR against the reference, when one was given.
    status : str
        ``'running'``, ``'converged'``, ``'max_iter'`` or ``'diverged'``.
    message : str
        Human-readable explanation of the status (empty while running).
    info : dict
        Solver-specific extras (step size, backtracking counts, ``z`` ...).
    """

    k: int
    x: torch.Tensor
    objective: float | None
    residual: float
    psnr: float | None
    status: str = RUNNING
    message: str = ""
    info: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != RUNNING

    def summary(self) -> dict:
        """The record without tensors (what the history keeps)."""
        out = {"k": self.k, "objective": self.objective, "residual": self.residual, "psnr": self.psnr,
               "status": self.status}
        out.update({k: v for k, v in self.info.items() if not torch.is_tensor(v)})
        return out


@dataclass
class Result:
    """What :func:`run` returns: the final image, the last record and the history of summaries."""

    x: torch.Tensor
    status: str
    message: str
    iterations: int
    history: list[dict]
    last: Iterate

    def curve(self, key: str) -> list:
        """Values of one history column, e.g. ``result.curve('objective')``."""
        return [h.get(key) for h in self.history]


class Tracker:
    """Builds :class:`Iterate` records and applies the stopping and divergence rules.

    Parameters
    ----------
    x0 : torch.Tensor
        Initial iterate (used as the fallback image and to scale the blow-up test).
    ref : torch.Tensor, optional
        Ground truth for PSNR.
    tol : float
        Stop with ``'converged'`` when ‖x_k − x_{k−1}‖ / ‖x_k‖ < tol. ``0`` disables.
    max_iter : int
        Stop with ``'max_iter'`` after this many iterations.
    blowup : float
        Divergence when max|x| exceeds ``blowup`` (images live in [0, 1]) or the residual grows
        by this factor over its smallest value so far.
    """

    def __init__(self, x0: torch.Tensor, ref: torch.Tensor | None = None, tol: float = 1e-6,
                 max_iter: int = 100, blowup: float = 1e3):
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if not (tol >= 0 and math.isfinite(tol)):
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if ref is not None and ref.shape != x0.shape:
            raise ValueError(f"ref has shape {tuple(ref.shape)} but the iterate has shape {tuple(x0.shape)}")
        self.ref = ref
        self.tol = tol
        self.max_iter = max_iter
        self.blowup = blowup
        self.last_finite = x0.detach().clone()
        self.min_residual = math.inf
        self.k = 0

    def record(self, x_new: torch.Tensor, x_old: torch.Tensor, objective: float | None = None,
               **info: Any) -> Iterate:
        """Make the record for the update ``x_old -> x_new`` and decide the status."""
        self.k += 1
        k = self.k
        residual = float(torch.linalg.vector_norm((x_new - x_old).double()))
        finite = bool(torch.isfinite(x_new).all()) and math.isfinite(residual) and (
            objective is None or math.isfinite(objective))
        if finite:
            amp = float(x_new.abs().max())
            if amp > self.blowup:
                return self._diverged(k, residual, objective, info,
                                      f"iterates exploded (max |x| = {amp:.3g} > {self.blowup:g}) at iteration {k}")
            if self.min_residual > 0 and residual > self.blowup * self.min_residual and k > 5:
                return self._diverged(k, residual, objective, info,
                                      f"the residual ‖x_k − x_(k−1)‖ grew {residual / self.min_residual:.3g}× "
                                      f"above its minimum by iteration {k}")
        else:
            return self._diverged(k, residual, objective, info, f"non-finite values (NaN or inf) at iteration {k}")
        self.min_residual = min(self.min_residual, residual)
        self.last_finite = x_new
        p = _psnr(x_new, self.ref) if self.ref is not None else None
        status, message = RUNNING, ""
        rel = residual / max(float(torch.linalg.vector_norm(x_new.double())), 1e-12)
        if self.tol > 0 and rel < self.tol:
            status = CONVERGED
            message = f"converged: relative residual {rel:.2e} < tol {self.tol:g} after {k} iterations"
        elif k >= self.max_iter:
            status, message = MAX_ITER, f"stopped at max_iter = {self.max_iter} (relative residual {rel:.2e})"
        return Iterate(k, x_new, objective, residual, p, status, message, dict(info, rel_residual=rel))

    def converged(self, x: torch.Tensor, residual: float, objective: float | None, message: str,
                  **info: Any) -> Iterate:
        """A record for a solver-specific convergence rule (e.g. GS-PnP's relative change of F)."""
        p = _psnr(x, self.ref) if self.ref is not None else None
        return Iterate(self.k, x, objective, residual, p, CONVERGED, message, info)

    def _diverged(self, k, residual, objective, info, why) -> Iterate:
        x = self.last_finite
        p = _psnr(x, self.ref) if self.ref is not None else None
        message = (f"diverged: {why}. The run was stopped and the last finite iterate is shown; "
                   "a smaller step size (γ or τ) or a stronger denoiser usually restores convergence.")
        return Iterate(k, x, objective if objective is not None and math.isfinite(objective) else None,
                       residual if math.isfinite(residual) else float("inf"), p, DIVERGED, message, info)


def run(solver: Iterator[Iterate], callback: Callable[[Iterate], Any] | None = None) -> Result:
    """Drive a solver generator to its end.

    Parameters
    ----------
    solver : iterator of Iterate
        A solver generator, e.g. ``fista(op, y, lam=0.01)``.
    callback : callable, optional
        Called with every record; returning ``True`` stops the run (status ``'stopped'``).

    Returns
    -------
    Result
        Final image, status, message, iteration count and the history of record summaries.
    """
    history: list[dict] = []
    last = None
    for it in solver:
        history.append(it.summary())
        last = it
        if callback is not None and callback(it) is True:
            last = Iterate(it.k, it.x, it.objective, it.residual, it.psnr, STOPPED, "stopped by the caller", it.info)
            history[-1]["status"] = STOPPED
            break
        if it.done:
            break
    if last is None:
        raise RuntimeError("the solver yielded no iterate")
    return Result(last.x, last.status, last.message, last.k, history, last)
