"""PnP-ISTA (Gavaskar & Chaudhury 2020): x_{k+1} = D(x_k − γ Aᵀ(A x_k − y)), eq. (3) with the
prox replaced by a denoiser D.

With a kernel denoiser D = W (NLM, W = D⁻¹K) computed once from a guide and then frozen, the
update is the linear dynamical system x_{k+1} = P x_k + q, P = W(I − γAᵀA), q = γWAᵀy (eq. 4),
which converges from any x_0 if ρ(P) < 1 (Theorem 1: sufficient, not necessary);
:mod:`pnp_lessons.analysis` computes ρ(P).

Denoisers that plug in:

* :class:`~pnp_lessons.denoisers.nlm.NLM` — a configuration; W is built from a guide:
  ``mode='fixed'`` (the paper's setting: the guide is the median-filtered observation for
  inpainting, Aᵀy otherwise), ``'adaptive'`` (W recomputed from the current iterate at every
  step: D is then non-linear and the analysis does not apply), or ``'adaptive_then_fixed'``
  (adaptive for ``adapt_steps`` steps, then frozen: the "common practice" of §II);
* a :class:`~pnp_lessons.denoisers.nlm.KernelWeights` — a W you built yourself (fixed);
* :class:`~pnp_lessons.denoisers.tv.TVDenoiser` — the prox of γλ·TV, which makes PnP-ISTA the ordinary ISTA for TV;
* any callable ``D(z) -> tensor`` (e.g. a network), used as is.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from ..denoisers.nlm import NLM, KernelWeights
from ..checks import check_gamma, check_image
from ..operators import Inpainting, Operator
from .base import Tracker

__all__ = ["pnp_ista", "masked_median", "default_guide", "MODES"]

MODES = ("fixed", "adaptive", "adaptive_then_fixed")

STORE_LIMIT_BYTES = 1 << 30
"""W is stored as a stencil (one pass per iteration) when it takes at most this many bytes;
above, the fixed W is re-evaluated from its guide at each step instead (same result, slower)."""


def masked_median(y: torch.Tensor, mask: torch.Tensor, size: int = 5) -> torch.Tensor:
    """Median of the *observed* pixels in a ``size × size`` window around each pixel.

    The initialisation of the paper for inpainting (§IV, after Tirer & Giryes): missing pixels
    (mask 0) are ignored; where a window holds no observed pixel it is grown by 2 until it does.

    Parameters
    ----------
    y : torch.Tensor
        ``(B, C, H, W)`` observation (values at missing pixels are ignored).
    mask : torch.Tensor
        0/1 mask broadcastable to ``y`` (1 = observed).
    size : int
        Odd starting window side.

    Examples
    --------
    >>> y = torch.tensor([[[[1., 0., 3.], [0., 0., 0.], [7., 0., 9.]]]])
    >>> m = (y > 0).float()
    >>> masked_median(y, m, size=3)[0, 0, 1, 1].item()      # median of 1, 3, 7, 9 (lower one)
    3.0
    """
    check_image(y, "y")
    if not (isinstance(size, int) and size >= 1 and size % 2 == 1):
        raise ValueError(f"size must be a positive odd integer, got {size!r}")
    m = torch.broadcast_to(mask.to(y.device, y.dtype), y.shape)
    if not bool((m > 0).any()):
        raise ValueError("mask has no observed pixel: the median initialisation is undefined")
    B, C, H, W = y.shape
    yn = torch.where(m > 0, y, torch.full_like(y, float("nan"))).reshape(B * C, 1, H, W)
    out = torch.full((B * C, H * W), float("nan"), dtype=y.dtype, device=y.device)
    todo = torch.ones(B * C, H * W, dtype=torch.bool, device=y.device)
    s = size
    while bool(todo.any()):
        p = s // 2
        cols = F.unfold(F.pad(yn, (p, p, p, p), value=float("nan")), s)   # (BC, s², HW)
        med = torch.nanmedian(cols, dim=1).values
        out = torch.where(todo, med, out)
        todo = torch.isnan(out)
        s += 2
    return out.reshape(B, C, H, W)


def default_guide(op: Operator, y: torch.Tensor) -> torch.Tensor:
    """The guide (and default x_0) of the paper: the masked median filter of the observation for
    inpainting (§IV); bicubic upsampling for super-resolution; Aᵀy otherwise (for deblurring
    Aᵀy is the observation blurred once more, a smooth but faithful guide)."""
    if isinstance(op, Inpainting):
        return masked_median(y, op.mask_for(y))
    if hasattr(op, "bicubic_up"):
        return op.bicubic_up(y)
    return op.A_adjoint(y)


class _FixedNLM:
    """W frozen from one guide: stored stencil when it fits, else re-evaluated from the guide."""

    def __init__(self, cfg: NLM, guide: torch.Tensor):
        H, W = guide.shape[-2:]
        if guide.shape[0] != 1:
            raise ValueError("NLM weights need one guide image: run one image per call (batch size 1)")
        self.cfg, self.guide = cfg, guide
        self.W = cfg.weights(guide) if cfg.window ** 2 * H * W * 4 <= STORE_LIMIT_BYTES else None

    def __call__(self, z):
        return self.W.apply(z) if self.W is not None else self.cfg(z, self.guide)


def pnp_ista(op: Operator, y: torch.Tensor, denoiser=None, *, gamma: float = 1.0, x0: torch.Tensor | None = None,
             ref: torch.Tensor | None = None, mode: str = "fixed", adapt_steps: int = 10,
             guide: torch.Tensor | None = None, tol: float = 1e-6, max_iter: int = 100,
             blowup: float = 1e3, clip: bool = False):
    """PnP-ISTA in the iterate protocol: yields one :class:`~pnp_lessons.solvers.base.Iterate` per step.

    Parameters
    ----------
    op : Operator
        Forward model (``A``, ``A_adjoint``).
    y : torch.Tensor
        Observation ``(B, C, h, w)``.
    denoiser : NLM, KernelWeights, TVDenoiser or callable, optional
        The denoiser D (default: ``NLM()``, patch 7, window 21, h = 0.1).
    gamma : float
        Step size γ > 0. For inpainting, Theorem 5 guarantees convergence for γ ∈ (0, 1).
    x0 : torch.Tensor, optional
        Initial iterate (default: the guide).
    ref : torch.Tensor, optional
        Ground truth, for the PSNR of every iterate.
    mode : {'fixed', 'adaptive', 'adaptive_then_fixed'}
        How an :class:`NLM` denoiser gets its weights (see the module docstring). Other
        denoisers accept only ``'fixed'``.
    adapt_steps : int
        Number of adaptive steps in ``'adaptive_then_fixed'`` (W is then frozen at the current
        iterate).
    guide : torch.Tensor, optional
        Image the fixed W is computed from (default: :func:`default_guide`).
    tol, max_iter, blowup : float, int, float
        Stopping and divergence rules of :class:`~pnp_lessons.solvers.base.Tracker`
        (relative residual ‖x_{k+1} − x_k‖/‖x_{k+1}‖ < tol; ``max_iter`` steps; |x| > blowup or a
        residual ``blowup`` times above its minimum means divergence).
    clip : bool
        Clip the iterates to [0, 1] (off by default: clipping would make the map non-linear).

    Yields
    ------
    Iterate
        ``residual`` = ‖x_{k+1} − x_k‖ (the paper's ‖x_{k+1} − x_k‖₂/255 for 8-bit images),
        ``psnr`` when ``ref`` is given, ``info`` = {gamma, weights: 'fixed' | 'adaptive'}.

    Examples
    --------
    >>> from pnp_lessons.operators import Inpainting
    >>> from pnp_lessons.solvers import run
    >>> from pnp_lessons.denoisers.nlm import NLM
    >>> x = torch.linspace(0, 1, 24).repeat(24, 1)[None, None]
    >>> op = Inpainting(ratio=0.5, seed=0)
    >>> y = op.observe(x, sigma=0.0)
    >>> res = run(pnp_ista(op, y, NLM(patch_size=3, window=5, h=0.1), gamma=0.9, ref=x, max_iter=300))
    >>> res.status, res.last.psnr > 30
    ('converged', True)
    """
    if not isinstance(op, Operator):
        raise TypeError(f"op must be a pnp_lessons.operators.Operator, got {type(op).__name__}")
    check_image(y, "y")
    gamma = check_gamma(gamma)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not (isinstance(adapt_steps, int) and adapt_steps >= 0):
        raise ValueError(f"adapt_steps must be an integer >= 0, got {adapt_steps!r}")
    if denoiser is None:
        denoiser = NLM()
    is_nlm = isinstance(denoiser, NLM)
    if not is_nlm and mode != "fixed":
        raise ValueError(f"mode={mode!r} needs an NLM configuration as denoiser (it rebuilds W from the "
                         f"iterate); got {type(denoiser).__name__}")
    if not (is_nlm or isinstance(denoiser, KernelWeights) or callable(denoiser)):
        raise TypeError(f"denoiser must be an NLM config, KernelWeights or a callable, got {type(denoiser).__name__}")

    if guide is None and (x0 is None or is_nlm):
        guide = default_guide(op, y)
    if x0 is None:
        x0 = guide
    check_image(x0, "x0")
    if ref is not None:
        check_image(ref, "ref")
    x = x0.detach().clone()
    tracker = Tracker(x, ref, tol=tol, max_iter=max_iter, blowup=blowup)
    Aty = op.A_adjoint(y)

    # the denoiser as a function z -> D(z) at step k
    fixed = None
    if is_nlm and mode == "fixed":
        fixed = _FixedNLM(denoiser, guide)
    elif isinstance(denoiser, KernelWeights):
        if tuple(denoiser.shape) != tuple(x.shape[-2:]):
            raise ValueError(f"the KernelWeights are for size {denoiser.shape} but the iterate has size "
                             f"{tuple(x.shape[-2:])}")
        fixed = denoiser.apply
    elif not is_nlm:
        fixed = (lambda z: denoiser(z, gamma=gamma)) if getattr(denoiser, "uses_gamma", False) else denoiser

    while True:
        k = tracker.k  # steps done so far
        # gradient step on f = ½‖Ax − y‖²: z = x − γ Aᵀ(Ax − y)
        z = x - gamma * (op.AtA(x) - Aty)
        if fixed is not None:
            x_new, kind = fixed(z), "fixed"
        elif mode == "adaptive" or k < adapt_steps:
            x_new, kind = denoiser(z, guide=x), "adaptive"        # W(x_k) z: weights from the iterate
        else:
            fixed = _FixedNLM(denoiser, x)                         # freeze W at x_K
            x_new, kind = fixed(z), "fixed"
        if clip:
            x_new = x_new.clamp(0, 1)
        it = tracker.record(x_new, x, gamma=gamma, weights=kind)
        yield it
        if it.done:
            return
        x = x_new
