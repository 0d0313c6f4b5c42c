"""GS-PnP: proximal gradient descent on F = f + λ g_σ with the Gradient-Step denoiser.

Hurault, Leclaire & Papadakis (ICLR 2022), the GS-PnP algorithm, with

* f(x) = ½‖Ax − y‖² (the data term; its prox is exact, see :mod:`pnp_lessons.operators`),
* g_σ(x) = ½‖x − N_σ(x)‖² (the learned potential), ∇g_σ by autograd,

one iteration is

    z_k     = x_k − τ λ ∇g_σ(x_k)            (gradient step on λ g_σ)
    x_{k+1} = prox_{τ f}(z_k)                 (proximal step on f)

With τ = 1/λ (the default, as in the reference code) the gradient step is exactly the denoiser,
z_k = D_σ(x_k) = x_k − ∇g_σ(x_k), so GS-PnP is PnP-HQS with the GS denoiser (as long as backtracking
leaves τ = 1/λ). Theorem 1 of the paper: for τ < 1/(λL), L the Lipschitz constant of ∇g_σ, F(x_k)
is non-increasing and converges, ‖x_{k+1} − x_k‖ → 0 and every accumulation point of (x_k) is a critical
point of F. Because L is unknown, the reference (and this code) uses Armijo backtracking: a trial step is
*rejected* and retried with τ ← η τ when

    F(x_k) − F(x_{k+1}) < (γ_bt / τ) ‖x_{k+1} − x_k‖²,        γ_bt = 0.1, η = 0.9,

with F evaluated at the new point (the reference compares F one iteration late). The test guarantees a
sufficient decrease at every accepted step, not τ < 1/(λL). Rejected trials are counted apart from
iterations. The run stops when |F(x_k) − F(x_{k+1})| / |F(x_k)| < tol (1e-5 deblurring, 1e-6 SR) or after
``max_iter``; also when the Armijo test fails only by the rounding of F (F, a float64 sum of float32 terms,
is then stationary to its precision: without this, τ would shrink towards 0 and the prox divide by it).

Which image is the answer? The reference returns the last **z** = x − τλ∇g_σ(x) (for τλ = 1, the
denoised version D_σ(x) of the last iterate) for deblurring and SR, and the last x for inpainting.
x, near a critical point of F, fits the data as far as the prox does and so keeps some of the noise
the prox lets through; z is one more denoising step away from it and scores higher PSNR. Both are
returned: ``record.x`` and ``record.info['z']``, with ``z_k = x_k − τλ∇g_σ(x_k)`` computed at the
record's own x_k (the gradient is already there, for F); ``info['psnr_z']`` is its PSNR when a
reference image is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ..metrics import psnr as _psnr
from ..checks import check_image, check_positive
from ..operators import Inpainting, Operator, SuperResolution
from .base import CONVERGED, STOPPED, Iterate, Tracker

GAMMA_BT = 0.1
ETA = 0.9
MAX_BACKTRACKS = 60
F_PRECISION_ULPS = 8  # differences of F below 8 float32 ulps of |F| are rounding

# Task presets from the reference experiments (DESIGN.md): σ_den = factor × noise, λ, tolerance.
PRESETS = {
    "deblur-motion": dict(sigma_factor=1.8, lam=0.1, tol=1e-5, max_iter=400),
    "deblur-uniform": dict(sigma_factor=1.8, lam=0.075, tol=1e-5, max_iter=400),
    "deblur-gaussian": dict(sigma_factor=1.8, lam=0.075, tol=1e-5, max_iter=400),
    "sr": dict(sigma_factor=2.0, lam=0.065, tol=1e-6, max_iter=400),
    # inpainting (reference inpaint.py): σ_den = 10/255, λ = 0.1, 100 iterations, no backtracking,
    # the first 10 iterations with σ = 50/255 to fill the holes, then the cost criterion at the
    # reference's default threshold 1e-7; the output is x, not z. Noise-free observations use the
    # hard data constraint (the prox becomes the projection x = m·y + (1 − m)·z), see preset().
    "inpainting": dict(sigma=10 / 255, lam=0.1, tol=1e-7, max_iter=100, backtracking=False, warmup=10,
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
    if task == "inpainting":
        # reference: the soft prox when noise_level_img > 0.01 (on the 0–255 scale), else the projection
        p["hard_data"] = noise * 255 <= 0.01
    p.update(overrides)
    return p


def initial_point(op: Operator, y: torch.Tensor, tau: float) -> torch.Tensor:
    """The reference's initialisation: prox_{τf}(y) for deblurring, prox_{τf}(bicubic(y)) for SR
    (bicubic with the (s − 1)/2 pixel shift, :meth:`SuperResolution.bicubic_up`), and for inpainting
    the observation with missing pixels set to 0.5."""
    if isinstance(op, SuperResolution):
        return op.prox_data(op.bicubic_up(y), y, tau)
    if isinstance(op, Inpainting):
        m = op.mask_for(y)
        return m * y + 0.5 * (1 - m)
    return op.prox_data(y, y, tau)


def potential_and_grad(denoiser, x: torch.Tensor, sigma, start: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """g_σ(x) (per image) and ∇g_σ(x) from one forward and one backward pass. At a run's starting point
    (``start``) a denoiser with an ``at_start`` method (:class:`StartMemo`) may answer from memory instead."""
    if start and hasattr(denoiser, "at_start"):
        return denoiser.at_start(x, sigma)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        g = denoiser.potential(xg, sigma)
        (dg,) = torch.autograd.grad(g.sum(), xg)
    return g.detach(), dg.detach()


class StartMemo:
    """A gradient-step denoiser that remembers g_σ and ∇g_σ at the starting points of the last few runs.

    A live app restarts GS-PnP on every slider move; after a λ move the new run starts from the same x₀ with the
    same σ, so its first F(x₀) needs no network pass. Everything else is the wrapped denoiser's.

    Examples
    --------
    >>> class Quad:                                   # g(x) = ½‖x‖² per image
    ...     calls = 0
    ...     def potential(self, x, sigma):
    ...         Quad.calls += 1
    ...         return 0.5 * (x ** 2).flatten(1).sum(1)
    >>> D = StartMemo(Quad())
    >>> x = torch.ones(1, 1, 2, 2)
    >>> g1, _ = potential_and_grad(D, x, 0.1, start=True); g2, dg = potential_and_grad(D, x.clone(), 0.1, start=True)
    >>> Quad.calls, float(g2), dg.flatten().tolist()
    (1, 2.0, [1.0, 1.0, 1.0, 1.0])
    """

    def __init__(self, denoiser, size: int = 4):
        self.denoiser = denoiser
        self.size = size
        self._memo: list = []

    def __getattr__(self, name):                      # only for what the wrapper itself lacks
        if name == "denoiser":
            raise AttributeError(name)
        return getattr(self.denoiser, name)

    def __call__(self, x, sigma):
        return self.denoiser(x, sigma)

    def at_start(self, x: torch.Tensor, sigma) -> tuple[torch.Tensor, torch.Tensor]:
        """g_σ(x₀) and ∇g_σ(x₀), from memory when a recent run started at the same x₀ with the same σ."""
        for i, (s_, x_, g, dg) in enumerate(self._memo):
            if s_ == sigma and x_.shape == x.shape and x_.device == x.device and torch.equal(x_, x):
                self._memo.insert(0, self._memo.pop(i))
                return g, dg
        g, dg = potential_and_grad(self.denoiser, x, sigma)
        self._memo = [(sigma, x.detach().clone(), g, dg), *self._memo[: self.size - 1]]
        return g, dg


def gs_pnp(op: Operator, y: torch.Tensor, denoiser, *, sigma: float, lam: float, tau: float | None = None,
           x0: torch.Tensor | None = None, ref: torch.Tensor | None = None, max_iter: int = 400,
           tol: float = 1e-5, backtracking: bool = True, gamma_bt: float = GAMMA_BT, eta: float = ETA,
           warmup: int = 0, warmup_sigma: float | None = None, hard_data: bool = False) -> Iterator[Iterate]:
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
    hard_data : bool
        Inpainting only: replace prox_{τf} by the projection onto {x : Ax = y}, x = m·y + (1 − m)·z
        (its limit as τ → ∞; the reference's choice for noise-free inpainting). f is then 0 on
        every iterate and F = λ g_σ.

    Yields
    ------
    Iterate
        ``objective`` = F(x_k) (summed over the batch), ``info`` holds ``z`` (tensor), ``tau``,
        ``rejected`` (trials rejected in this iteration), ``rejected_total``, ``F_increases``,
        ``f``, ``g`` and, with ``ref``, ``psnr_z`` (the PSNR of z, not clipped).

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
    if hard_data and not isinstance(op, Inpainting):
        raise ValueError(f"hard_data=True is for inpainting (the projection onto Ax = y), got {type(op).__name__}")
    x = initial_point(op, y, tau) if x0 is None else check_image(x0, "x0").clone()

    def data_step(z_, tau_):
        if hard_data:                                        # projection onto {Ax = y}: keep observed pixels
            m = op.mask_for(z_)
            return m * y + (1 - m) * z_
        return op.prox_data(z_, y, tau_)                     # proximal step on f
    tracker = Tracker(x, ref, tol=0.0, max_iter=max_iter)

    def F_parts(x_, s_, start=False):
        g_, dg_ = potential_and_grad(denoiser, x_, s_, start)
        f_ = op.data_fidelity(x_, y)
        return f_ + lam * float(g_.double().sum()), f_, float(g_.double().sum()), dg_

    # F is a float64 sum of float32 terms: differences below this fraction of |F| are rounding, not
    # decrease. Without this floor, a run continued past the precision of F (tol = 0, long runs) lets
    # the Armijo test fail on rounding noise, τ shrinks towards 0 and the prox divides by it (NaN).
    f_precision = F_PRECISION_ULPS * torch.finfo(x.dtype).eps
    k = 0
    s = warmup_sigma if (warmup > 0 and warmup_sigma is not None) else sigma
    F_x, _, _, grad_x = F_parts(x, s, start=True)
    rejected_total, increases = 0, 0
    while True:
        k += 1
        s_k = warmup_sigma if (k <= warmup and warmup_sigma is not None) else sigma
        if s_k != s:  # σ changed after the warm-up: F changes with it
            s = s_k
            F_x, _, _, grad_x = F_parts(x, s)
        rejected, stationary, exhausted = 0, False, False
        while True:
            z = x - tau * lam * grad_x                       # gradient step on λ g_σ
            x_new = data_step(z, tau)                        # proximal step on f
            F_new, f_new, g_new, grad_new = F_parts(x_new, s)
            dF = F_x - F_new
            needed = (gamma_bt / tau) * float(((x_new - x).double() ** 2).sum())
            armijo = dF >= needed                            # Armijo sufficient decrease
            if armijo or not backtracking:
                break
            floor = f_precision * max(abs(F_x), 1e-30)
            if dF >= -floor and needed <= floor:             # the test fails by rounding only:
                stationary = True                            # x is stationary to the precision of F
                break
            if rejected >= MAX_BACKTRACKS:
                exhausted = True
                break
            rejected += 1
            tau *= eta
        rejected_total += rejected
        if F_new > F_x * (1 + 1e-12) + 1e-12:
            increases += 1
        # z_k = x_k − τλ∇g_σ(x_k) at the new point (∇g_σ(x_new) is already computed for F): the image the
        # reference returns, z = D_σ(x_k) when τλ = 1.
        z_new = x_new - tau * lam * grad_new
        extra = {"psnr_z": _psnr(z_new, ref)} if ref is not None and bool(torch.isfinite(z_new).all()) else {}
        it = tracker.record(x_new, x, F_new if math.isfinite(F_new) else float("nan"), z=z_new, tau=tau,
                            rejected=rejected, rejected_total=rejected_total, F_increases=increases,
                            f=f_new, g=g_new, sigma=s, **extra)
        rel = abs(dF) / max(abs(F_x), 1e-30)
        if it.status == "running" and stationary and k > warmup:
            it.status = CONVERGED
            it.message = (f"converged: F no longer decreases measurably (|ΔF|/|F| = {rel:.1e}, at the "
                          f"precision of F in {str(x.dtype).replace('torch.', '')}) after {k} iterations")
        elif it.status == "running" and exhausted:
            it.status = STOPPED
            it.message = (f"stopped: {MAX_BACKTRACKS} backtracking trials in iteration {k} found no step with "
                          f"sufficient decrease of F (τ = {tau:.3g}); the last iterate is returned")
        elif it.status == "running" and tol > 0 and k > warmup and rel < tol:
            it.status = CONVERGED
            it.message = f"converged: |ΔF|/|F| = {rel:.2e} < tol {tol:g} after {k} iterations"
        if it.done and increases:
            it.message += (f" — F increased at {increases} of {k} iterations: without backtracking, τ = {tau:.3g} "
                           "is too large for the descent guarantee (τ < 1/(λL), Theorem 1)")
        if it.done and rejected_total:
            it.message += f" ({rejected_total} backtracking trials rejected; final τ = {tau:.3g})"
        yield it
        if it.done:
            return
        x, F_x, grad_x = x_new, F_new, grad_new
