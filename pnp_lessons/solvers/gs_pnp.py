"""GS-PnP: proximal gradient descent on F = f + λ g_σ with the Gradient-Step denoiser.

Hurault, Leclaire & Papadakis (ICLR 2022), the GS-PnP algorithm, with

* f(x) = ½‖Ax − y‖² (the data term; its prox is exact, see :mod:`pnp_lessons.operators`),
* g_σ(x) = ½‖x − N_σ(x)‖² (the learned potential), ∇g_σ by autograd,

one iteration is

    z_k     = x_k − τ λ ∇g_σ(x_k)            (gradient step on λ g_σ)
    x_{k+1} = prox_{τ f}(z_k)                 (proximal step on f)

With τ = 1/λ (the default, as in the reference code) the gradient step is exactly the denoiser,
z_k = D_σ(x_k) = x_k − ∇g_σ(x_k), so GS-PnP *is* PnP-HQS with the GS denoiser; Theorem 1 of the
paper then gives F(x_{k+1}) ≤ F(x_k) as long as τ < 1/(λ L), L the Lipschitz constant of ∇g_σ.
Because L is unknown, the reference (and this code) uses Armijo backtracking (as in the reference code):
a trial step is *rejected* and retried with τ ← η τ when

    F(x_k) − F(x_{k+1}) < (γ_bt / τ) ‖x_{k+1} − x_k‖²,        γ_bt = 0.1, η = 0.9,

with F evaluated at the new point. Rejected trials are counted apart from iterations. The run stops
when |F(x_k) − F(x_{k+1})| / |F(x_k)| < tol (1e-5 deblurring, 1e-6 SR) or after ``max_iter``.

Which image is the answer? The reference returns the last **z** = x − τλ∇g_σ(x) (for τλ = 1, the
denoised version D_σ(x) of the last iterate) for deblurring and SR, and the last x for inpainting.
x is the critical point of F, which fits the data exactly as far as the prox does and so keeps
some of the noise the prox lets through; z is one more denoising step away from it and scores higher
PSNR. Both are returned: ``record.x`` and ``record.info['z']``.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from ..operators import Inpainting, Operator, SuperResolution, check_image, check_positive
from .base import CONVERGED, Iterate, Tracker

GAMMA_BT = 0.1
ETA = 0.9
MAX_BACKTRACKS = 60

# Task presets from the reference experiments (DESIGN.md): σ_den = factor × noise, λ, tolerance.
PRESETS = {
    "deblur-motion": dict(sigma_factor=1.8, lam=0.1, tol=1e-5, max_iter=400),
    "deblur-uniform": dict(sigma_factor=1.8, lam=0.075, tol=1e-5, max_iter=400),
    "deblur-gaussian": dict(sigma_factor=1.8, lam=0.075, tol=1e-5, max_iter=400),
    "sr": dict(sigma_factor=2.0, lam=0.065, tol=1e-6, max_iter=400),
    # inpainting (reference inpaint.py): σ_den = 10/255, λ = 0.1, 100 iterations, no backtracking,
    # the first 10 iterations with σ = 50/255 to fill the holes; the output is x, not z.
    "inpainting": dict(sigma=10 / 255, lam=0.1, tol=0.0, max_iter=100, backtracking=False, warmup=10,
                       warmup_sigma=50 / 255),
}
MIN_SIGMA = 1 / 255  # floor for noise-free problems, where factor × noise would switch the prior off


def preset(task: str, noise: float = 0.0, **overrides) -> dict:
    """Keyword arguments of :func:`gs_pnp` for one of :data:`PRESETS` at observation noise ``noise``.

    Examples
    --------
    >>> p = preset("deblur-motion", noise=7.65 / 255)
    >>> round(p["sigma"] * 255, 2), p["lam"], p["tol"]
    (13.77, 0.1, 1e-05)
    """
    if task not in PRESETS:
        raise ValueError(f"task must be one of {sorted(PRESETS)}, got {task!r}")
    noise = check_positive(noise, "noise", allow_zero=True)
    p = dict(PRESETS[task])
    factor = p.pop("sigma_factor", None)
    if factor is not None:
        p["sigma"] = max(factor * noise, MIN_SIGMA)
    p.update(overrides)
    return p


def initial_point(op: Operator, y: torch.Tensor, tau: float) -> torch.Tensor:
    """The reference's initialisation: prox_{τf}(y) for deblurring, prox_{τf}(bicubic(y)) for SR,
    and for inpainting the observation with missing pixels set to 0.5."""
    if isinstance(op, SuperResolution):
        return op.prox_data(op.bicubic_up(y), y, tau)
    if isinstance(op, Inpainting):
        m = op.mask_for(y)
        return m * y + 0.5 * (1 - m)
    return op.prox_data(y, y, tau)


def potential_and_grad(denoiser, x: torch.Tensor, sigma) -> tuple[torch.Tensor, torch.Tensor]:
    """g_σ(x) (per image) and ∇g_σ(x) from one forward and one backward pass."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        g = denoiser.potential(xg, sigma)
        (dg,) = torch.autograd.grad(g.sum(), xg)
    return g.detach(), dg.detach()


def gs_pnp(op: Operator, y: torch.Tensor, denoiser, sigma: float, lam: float, tau: float | None = None,
           x0: torch.Tensor | None = None, ref: torch.Tensor | None = None, max_iter: int = 400,
           tol: float = 1e-5, backtracking: bool = True, gamma_bt: float = GAMMA_BT, eta: float = ETA,
           warmup: int = 0, warmup_sigma: float | None = None) -> Iterator[Iterate]:
    """GS-PnP (Hurault et al. 2022) in the iterate protocol.

    Parameters
    ----------
    op : Operator
        Forward model (its ``prox_data`` is the prox of f = ½‖Ax − y‖²).
    y : torch.Tensor
        Observation.
    denoiser : GSDenoiser
        Anything with ``potential(x, sigma)`` (per-image g_σ) differentiable in x.
    sigma : float
        Denoiser noise level σ on the [0, 1] scale (the paper uses 1.8–2 × the observation noise).
    lam : float
        Regularisation weight λ in F = f + λ g_σ.
    tau : float, optional
        Initial step τ (default 1/λ, so that z = D_σ(x)). Backtracking may shrink it.
    x0, ref : torch.Tensor, optional
        Start (default :func:`initial_point`) and ground truth for PSNR.
    max_iter, tol : int, float
        Stop after ``max_iter`` accepted steps or when |ΔF|/|F| < tol (0 disables).
    backtracking : bool
        Armijo backtracking (γ_bt, η). Without it, an increase of F is counted and reported.
    warmup, warmup_sigma : int, float
        The first ``warmup`` iterations use ``warmup_sigma`` (the reference's inpainting start).

    Yields
    ------
    Iterate
        ``objective`` = F(x_k) (summed over the batch), ``info`` holds ``z`` (tensor), ``tau``,
        ``rejected`` (trials rejected in this iteration), ``rejected_total``, ``F_increases``,
        ``f`` and ``g``.

    Examples
    --------
    >>> from pnp_lessons.operators import Blur, gaussian_kernel
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight, GSDenoiser
    >>> from pnp_lessons.solvers import run
    >>> D = GSDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1)).eval()
    >>> op = Blur(gaussian_kernel(5, 1.0)); y = op.observe(torch.rand(1, 1, 16, 16), 0.01)
    >>> res = run(gs_pnp(op, y, D, sigma=0.02, lam=0.1, max_iter=3))
    >>> res.iterations, tuple(res.last.info["z"].shape)
    (3, (1, 1, 16, 16))
    """
    if not isinstance(op, Operator):
        raise TypeError(f"op must be a pnp_lessons.operators.Operator, got {type(op).__name__}")
    if not hasattr(denoiser, "potential"):
        raise TypeError("denoiser must be a gradient-step denoiser with a potential(x, sigma) method "
                        f"(e.g. GSDenoiser), got {type(denoiser).__name__}")
    check_image(y, "y")
    sigma = check_positive(sigma, "sigma")
    lam = check_positive(lam, "lam")
    tau = 1.0 / lam if tau is None else check_positive(tau, "tau")
    if not (0 < eta < 1):
        raise ValueError(f"eta must be in (0, 1), got {eta!r}")
    gamma_bt = check_positive(gamma_bt, "gamma_bt", allow_zero=True)
    x = initial_point(op, y, tau) if x0 is None else check_image(x0, "x0").clone()
    tracker = Tracker(x, ref, tol=0.0, max_iter=max_iter)

    def F_parts(x_, s_):
        g_, dg_ = potential_and_grad(denoiser, x_, s_)
        f_ = op.data_fidelity(x_, y)
        return f_ + lam * float(g_.double().sum()), f_, float(g_.double().sum()), dg_

    k = 0
    s = warmup_sigma if (warmup > 0 and warmup_sigma is not None) else sigma
    F_x, _, _, grad_x = F_parts(x, s)
    rejected_total, increases = 0, 0
    while True:
        k += 1
        s_k = warmup_sigma if (k <= warmup and warmup_sigma is not None) else sigma
        if s_k != s:  # σ changed after the warm-up: F changes with it
            s = s_k
            F_x, _, _, grad_x = F_parts(x, s)
        rejected = 0
        while True:
            z = x - tau * lam * grad_x                       # gradient step on λ g_σ
            x_new = op.prox_data(z, y, tau)                  # proximal step on f
            F_new, f_new, g_new, grad_new = F_parts(x_new, s)
            dF = F_x - F_new
            armijo = dF >= (gamma_bt / tau) * float(((x_new - x).double() ** 2).sum())  # Armijo sufficient decrease
            if armijo or not backtracking or rejected >= MAX_BACKTRACKS:
                break
            rejected += 1
            tau *= eta
        rejected_total += rejected
        if F_new > F_x * (1 + 1e-12) + 1e-12:
            increases += 1
        it = tracker.record(x_new, x, F_new if math.isfinite(F_new) else float("nan"), z=z, tau=tau,
                            rejected=rejected, rejected_total=rejected_total, F_increases=increases,
                            f=f_new, g=g_new, sigma=s)
        if it.status == "running" and tol > 0 and k > warmup and abs(dF) / max(abs(F_x), 1e-30) < tol:
            it.status = CONVERGED
            it.message = f"converged: |ΔF|/|F| = {abs(dF) / max(abs(F_x), 1e-30):.2e} < tol {tol:g} after {k} iterations"
        if it.done and increases:
            it.message += (f" — F increased at {increases} of {k} iterations: without backtracking, τ = {tau:.3g} "
                           "is too large for the descent guarantee (τ < 1/(λL), Theorem 1)")
        if it.done and rejected_total:
            it.message += f" ({rejected_total} backtracking trials rejected; final τ = {tau:.3g})"
        yield it
        if it.done:
            return
        x, F_x, grad_x = x_new, F_new, grad_new
