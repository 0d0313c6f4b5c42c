"""Convergence diagnostics of PnP-ISTA with a fixed kernel denoiser (Gavaskar & Chaudhury 2020).

With W frozen, PnP-ISTA is the linear dynamical system x_{k+1} = P x_k + q (eq. 4) with

    P = W (I − γ AᵀA),   q = γ W Aᵀ y,   Q = W AᵀA   (so P = W − γ Q),

and it converges from every x_0 if the spectral radius ρ(P) < 1 (Theorem 1). The condition is sufficient,
not necessary: a closed set of unobserved pixels (rows of W that reach only unobserved pixels) gives P the
eigenvalue 1, and the iterates still converge (``tests/test_analysis.py``). This module builds
these matrices explicitly for *small grey images* (n = H·W pixels, n ≤ 4096 by default) as scipy
sparse matrices, and computes

* :func:`spectral_radius` — ρ(P) by ARPACK (``scipy.sparse.linalg.eigs``), with a power-iteration
  fallback, or densely by ``numpy.linalg.eigvals``;
* :func:`rho_vs_gamma`, :func:`largest_stable_gamma` — ρ(P) as a function of the step size γ;
* :func:`gershgorin` — the discs of P used in the proof of Theorem 4 (Fig. 3);
* :func:`check_assumption_2` — Assumption 2 (i)–(iii), row by row (eq. 5);
* :func:`theorem5_bound` / :func:`inpainting_inf_norm` — the step-size bounds for inpainting.

Pixels are numbered in row-major order (i = y·W + x), as in :meth:`KernelWeights.to_sparse`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from .checks import check_gamma
from .denoisers.nlm import KernelWeights
from .operators import Blur, Denoising, Inpainting, Operator

__all__ = [
    "MAX_PIXELS", "ata_matrix", "system_matrix", "q_vector", "fixed_point", "spectral_radius",
    "rho_vs_gamma", "largest_stable_gamma", "Gershgorin", "gershgorin", "Assumption2", "check_assumption_2",
    "theorem5_bound", "inpainting_inf_norm", "eigenvalue_range", "sparse_W", "REACH_TOL",
]

MAX_PIXELS = 4096
"""Default cap on n for the explicit matrices (64 × 64)."""

DENSE_FALLBACK = 2500
"""When ARPACK does not converge (clustered eigenvalues of largest modulus), ``method='auto'``
falls back to dense ``eigvals`` up to this n, and to power iteration above."""


# --------------------------------------------------------------------------- matrices
def _check_W(W) -> KernelWeights:
    if not isinstance(W, KernelWeights):
        raise TypeError(f"W must be a KernelWeights (e.g. from nlm_weights), got {type(W).__name__}")
    return W


def _check_n(n: int, max_pixels: int):
    if n > max_pixels:
        raise ValueError(f"the image has n = {n} pixels, more than max_pixels = {max_pixels}: the explicit "
                         "analysis is for small images (crop to e.g. 64×64, or raise max_pixels)")


def ata_matrix(op: Operator, shape: tuple[int, int], max_pixels: int = MAX_PIXELS) -> sp.csr_matrix:
    """AᵀA as an n × n sparse matrix for grey ``(H, W)`` images.

    Exact for :class:`Denoising` (I), :class:`Inpainting` (diag(mask), Proposition 3's proof) and
    :class:`Blur` (circulant with the kernel's autocorrelation, periodic boundary as the FFT);
    other operators are probed column by column (entries below 1e-12 of the largest dropped).

    Examples
    --------
    >>> from pnp_lessons.operators import Blur, uniform_kernel
    >>> M = ata_matrix(Blur(uniform_kernel(3)), (8, 8))
    >>> v = np.random.default_rng(0).random(64)
    >>> x = torch.from_numpy(v.reshape(1, 1, 8, 8))
    >>> bool(np.allclose(M @ v, Blur(uniform_kernel(3)).AtA(x).numpy().ravel()))
    True
    """
    H, W = shape
    n = H * W
    _check_n(n, max_pixels)
    if isinstance(op, Denoising):
        return sp.identity(n, format="csr")
    if isinstance(op, Inpainting):
        m = op.mask_for(torch.zeros(1, 1, H, W))
        if m.shape[0] != 1 or m.shape[1] != 1:
            raise ValueError("the analysis needs one mask shared by the batch and the channels")
        return sp.diags(m.reshape(-1).double().numpy(), format="csr")
    if isinstance(op, Blur):
        k = op.kernel.double().numpy()
        kh, kw = k.shape
        a = np.zeros((2 * kh - 1, 2 * kw - 1))         # autocorrelation: a[kh−1+u, kw−1+v] = Σ_t k(t) k(t+(u,v))
        for u in range(-(kh - 1), kh):
            for v in range(-(kw - 1), kw):
                a[kh - 1 + u, kw - 1 + v] = (k[max(0, -u): kh - max(0, u), max(0, -v): kw - max(0, v)]
                                             * k[max(0, u): kh - max(0, -u), max(0, v): kw - max(0, -v)]).sum()
        ys, xs = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        rows, cols, vals = [], [], []
        for (u, v), val in np.ndenumerate(a):
            if val == 0:
                continue
            du, dv = u - (kh - 1), v - (kw - 1)
            rows.append((ys * W + xs).ravel())
            cols.append((((ys + du) % H) * W + (xs + dv) % W).ravel())
            vals.append(np.full(n, val))
        M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        M.sum_duplicates()
        return M
    # generic: probe AᵀA e_j in batches
    cols = []
    for j0 in range(0, n, 256):
        j1 = min(n, j0 + 256)
        E = torch.zeros(j1 - j0, 1, H, W, dtype=torch.float64)
        E.view(j1 - j0, -1)[torch.arange(j1 - j0), torch.arange(j0, j1)] = 1
        cols.append(op.AtA(E).reshape(j1 - j0, -1).numpy().T)
    D = np.concatenate(cols, axis=1)
    D[np.abs(D) < 1e-12 * np.abs(D).max()] = 0
    return sp.csr_matrix(D)


def sparse_W(W: KernelWeights, max_pixels: int = MAX_PIXELS) -> sp.csr_matrix:
    """W as a float64 sparse matrix, each row of an NLM W renormalised to sum to 1 in float64.

    The weights are computed in float32, so their row sums are 1 only to ~1e-7; the analysis works with the
    exactly row-stochastic W the theory is about (a relative change of ~1e-7 of each weight). A symmetric
    DSG-NLM W is left as it is (renormalising its rows would break the symmetry; its rows sum to 1 to the
    Sinkhorn tolerance).
    """
    S = W.to_sparse(max_pixels=max_pixels).astype(np.float64).tocsr()
    if not W.symmetric:
        rows = np.asarray(S.sum(axis=1)).ravel()
        S = (sp.diags(1.0 / rows) @ S).tocsr()
    return S


def system_matrix(W: KernelWeights, op: Operator, gamma: float, as_operator: bool = False,
                  max_pixels: int = MAX_PIXELS):
    """P = W (I − γ AᵀA) of eq. (4), as a sparse matrix (or a ``LinearOperator`` applying W and AᵀA
    without forming their product).

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> P = system_matrix(nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0), 0.9)
    >>> P.shape
    (64, 64)
    """
    _check_W(W)
    gamma = check_gamma(gamma, allow_zero=True)
    n = W.n
    _check_n(n, max_pixels)
    Wm = sparse_W(W, max_pixels)
    AtA = ata_matrix(op, W.shape, max_pixels)
    if as_operator:
        return spla.LinearOperator((n, n), matvec=lambda v: Wm @ (v - gamma * (AtA @ v)), dtype=np.float64)
    return (Wm - gamma * (Wm @ AtA)).tocsr()


def q_vector(W: KernelWeights, op: Operator, y: torch.Tensor, gamma: float) -> np.ndarray:
    """q = γ W Aᵀ y of eq. (4), as a flat float64 vector."""
    _check_W(W)
    gamma = check_gamma(gamma, allow_zero=True)
    Aty = op.A_adjoint(y.double()).reshape(-1).cpu().numpy()
    return gamma * (sparse_W(W) @ Aty)


def fixed_point(W: KernelWeights, op: Operator, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """x* = (I − P)⁻¹ q, the limit of PnP-ISTA when ρ(P) < 1 (§II), by a sparse direct solve.

    Returns a ``(1, 1, H, W)`` float64 tensor.
    """
    P = system_matrix(W, op, gamma)
    q = q_vector(W, op, y, gamma)
    x = spla.spsolve((sp.identity(P.shape[0], format="csc") - P).tocsc(), q)
    return torch.from_numpy(np.asarray(x)).reshape(1, 1, *W.shape)


# --------------------------------------------------------------------------- spectral radius



def _power_radius(P, tol: float = 1e-6, maxiter: int = 5000, seed: int = 0) -> tuple[float, int]:
    """ρ(P) ≈ (‖P^{k+m} v‖ / ‖P^k v‖)^{1/m}, averaged over a window m so that complex or negative
    dominant eigenvalues (oscillating iterates) are handled. Returns (estimate, iterations)."""
    n = P.shape[0]
    v = np.random.default_rng(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    logs = [0.0]
    m = 20
    est_old = math.inf
    for k in range(1, maxiter + 1):
        v = P @ v
        nv = np.linalg.norm(v)
        if nv == 0:
            return 0.0, k
        logs.append(logs[-1] + math.log(nv))
        v /= nv
        if k >= 2 * m and k % m == 0:
            est = math.exp((logs[-1] - logs[-1 - m]) / m)
            if abs(est - est_old) < tol * max(est, 1e-30):
                return est, k
            est_old = est
    return math.exp((logs[-1] - logs[-1 - m]) / m), maxiter


def spectral_radius(P, method: str = "auto", tol: float = 1e-8, maxiter: int | None = None,
                    return_info: bool = False):
    """ρ(P) = max |μ| over the eigenvalues μ of P (Theorem 1).

    Parameters
    ----------
    P : scipy sparse matrix, LinearOperator or ndarray
        Square matrix.
    method : {'auto', 'arpack', 'power', 'dense'}
        ``'arpack'``: implicitly restarted Arnoldi for the eigenvalue of largest magnitude
        (``scipy.sparse.linalg.eigs``, k = 1); ``'auto'`` is ARPACK with a fallback, when ARPACK
        does not converge, to dense eigenvalues (n ≤ ``DENSE_FALLBACK``) or power iteration;
        ``'power'``: power iteration only; ``'dense'``: all eigenvalues by
        ``numpy.linalg.eigvals`` (small n only).
    tol : float
        Relative accuracy asked of ARPACK (power iteration uses ``max(tol, 1e-7)``).
    maxiter : int, optional
        Iteration cap (ARPACK restarts / power steps).
    return_info : bool
        Also return ``{'method': used, 'iterations'?: ...}``.

    Examples
    --------
    >>> P = np.array([[0.5, 0.4], [-0.3, 0.2]])
    >>> bool(abs(spectral_radius(P) - max(abs(np.linalg.eigvals(P)))) < 1e-12)
    True
    """
    if method not in ("auto", "arpack", "power", "dense"):
        raise ValueError(f"method must be 'auto', 'arpack', 'power' or 'dense', got {method!r}")
    if len(P.shape) != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be square, got shape {P.shape}")
    n = P.shape[0]
    info: dict = {}
    if method == "dense" or n <= 16:
        A = P.toarray() if sp.issparse(P) else (P @ np.eye(n) if isinstance(P, spla.LinearOperator) else np.asarray(P))
        rho, info = float(np.abs(np.linalg.eigvals(A)).max()), {"method": "dense"}
    else:
        rho = None
        if method in ("auto", "arpack"):
            try:
                vals = spla.eigs(P, k=1, which="LM", tol=tol, maxiter=maxiter or 100,
                                 ncv=min(n - 1, 40), return_eigenvectors=False,
                                 v0=np.random.default_rng(0).standard_normal(n))
                rho, info = float(np.abs(vals).max()), {"method": "arpack"}
            except spla.ArpackNoConvergence as exc:
                if method == "arpack":
                    raise RuntimeError(f"ARPACK did not converge ({exc}); use method='auto' or 'power'") from None
                info = {"arpack": "no convergence"}
        if rho is None and method == "auto" and n <= DENSE_FALLBACK:
            A = P.toarray() if sp.issparse(P) else P @ np.eye(n)
            rho, info = float(np.abs(np.linalg.eigvals(A)).max()), dict(info, method="dense")
        if rho is None:
            rho, it = _power_radius(P, tol=max(tol, 1e-7), maxiter=maxiter or 5000)
            info.update(method="power", iterations=it)
    return (rho, info) if return_info else rho


def rho_vs_gamma(W: KernelWeights, op: Operator, gammas, method: str = "auto") -> np.ndarray:
    """ρ(P(γ)) for each γ in ``gammas`` (P = W − γQ is formed once per γ from W and Q).

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> r = rho_vs_gamma(nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0), [0.5, 0.9])
    >>> bool((r < 1).all())
    True
    """
    _check_W(W)
    Wm = sparse_W(W)
    Q = (Wm @ ata_matrix(op, W.shape)).tocsr()          # Q = W AᵀA
    out = []
    for g in np.atleast_1d(np.asarray(gammas, dtype=float)):
        out.append(spectral_radius((Wm - check_gamma(g, allow_zero=True) * Q).tocsr(), method=method))
    return np.array(out)


def largest_stable_gamma(W: KernelWeights, op: Operator, lo: float = 0.0, hi: float = 4.0,
                         tol: float = 1e-3, method: str = "auto", margin: float = 1e-7) -> float:
    """The largest γ with ρ(P(γ)) < 1 + ``margin``, by bisection on [lo, hi] (assumes stability just
    above ``lo`` and instability at ``hi``; returns ``hi`` if P(hi) is still stable).

    The margin exists because a sharp NLM W (small h) has rows whose weight on observed pixels is
    ~e⁻⁸⁰: ρ(P) is then 1 − 10⁻³⁰ in exact arithmetic and computes as 1 ± 10⁻⁹; such a γ is
    counted as not divergent (though convergence is then far too slow to observe).

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> largest_stable_gamma(nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0)) >= 2 - 1e-3
    True
    """
    _check_W(W)
    if not (0 <= lo < hi):
        raise ValueError(f"need 0 <= lo < hi, got lo={lo!r}, hi={hi!r}")
    Wm = sparse_W(W)
    Q = (Wm @ ata_matrix(op, W.shape)).tocsr()

    def stable(g):
        return spectral_radius((Wm - g * Q).tocsr(), method=method) < 1 + margin

    if stable(hi):
        return float(hi)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return float(lo)


# --------------------------------------------------------------------------- spectrum of W
def eigenvalue_range(W: KernelWeights, max_pixels: int = MAX_PIXELS, tol: float = 1e-10) -> tuple[float, float]:
    """(λ_min, λ_max) of a kernel denoiser W, whose eigenvalues are all real.

    For NLM, W = D⁻¹K = D^{-1/2} (D^{-1/2} K D^{-1/2}) D^{1/2} is similar to a symmetric matrix; for DSG-NLM
    (``W.symmetric``) W is itself symmetric. Both extremes come from ``scipy.sparse.linalg.eigsh`` on that
    symmetric matrix (float64). A row-stochastic W has λ_max = 1; λ_min decides whether a *symmetric* W can be
    a proximal map: a linear map is the prox of a convex function exactly when it is symmetric with its
    eigenvalues in [0, 1] (Moreau: a prox is the gradient of a convex function and non-expansive), so a
    symmetrised W with λ_min < 0 is the prox of no convex regulariser.

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> lo, hi = eigenvalue_range(nlm_weights(g, 3, 5, 0.2))
    >>> -1 <= lo < hi and abs(hi - 1) < 1e-8
    True
    """
    _check_W(W)
    _check_n(W.n, max_pixels)
    S = W.to_sparse(max_pixels=max_pixels).astype(np.float64)
    if not W.symmetric:
        d = np.sqrt(W.D.reshape(-1).double().cpu().numpy())        # D^{1/2} W D^{-1/2} = D^{-1/2} K D^{-1/2}
        S = (sp.diags(d) @ S @ sp.diags(1 / d)).tocsr()
        S = 0.5 * (S + S.T)                                           # symmetric up to float32 rounding of W
    n = S.shape[0]
    if n <= 600:
        ev = np.linalg.eigvalsh(S.toarray())
        return float(ev[0]), float(ev[-1])
    v0 = np.random.default_rng(0).standard_normal(n)
    ncv = min(n - 1, 64)
    try:
        hi = float(spla.eigsh(S, k=1, which="LA", v0=v0, tol=tol, ncv=ncv, return_eigenvectors=False)[0])
    except spla.ArpackNoConvergence:
        # a sharp kernel (small h) clusters many eigenvalues at 1, where ARPACK stalls; but λ_max = 1 exactly for
        # a (row- or doubly) stochastic W: W1 = 1, and every eigenvalue has |μ| ≤ ‖W‖_∞ = 1
        hi = 1.0
    try:
        lo = float(spla.eigsh(S, k=1, which="SA", v0=v0, tol=tol, ncv=ncv, return_eigenvectors=False)[0])
    except spla.ArpackNoConvergence:
        if n > DENSE_FALLBACK:
            raise RuntimeError(f"eigenvalue_range: ARPACK did not converge for λ_min (n = {n}); use a smaller "
                               "image") from None
        return float(np.linalg.eigvalsh(S.toarray())[0]), hi
    return lo, hi


# --------------------------------------------------------------------------- Gershgorin
@dataclass
class Gershgorin:
    """Gershgorin discs of P: centres P_ii (real), radii R_i = Σ_{j≠i} |P_ij| (proof of Theorem 4)."""

    centres: np.ndarray
    radii: np.ndarray
    inside: np.ndarray = field(repr=False)   # per disc: |P_ii| + R_i < 1 − tol (P_ii + R_i < 1 and P_ii − R_i > −1)
    all_inside: bool = False
    max_reach: float = 0.0                   # max_i |P_ii| + R_i, ≥ ρ(P) (= ‖P‖_∞)
    undecided: np.ndarray = field(default=None, repr=False)  # discs whose reach is within tol of 1
    tol: float = 0.0


REACH_TOL = 1e-9
"""Discs whose reach |P_ii| + R_i is within this of 1 are *undecided*. A row whose true reach is exactly 1
(Assumption 2(iii) failing, e.g. a window with no observed pixel) must not pass as inside by rounding: the
weights are float32 (row sums 1 ± 1e-7, so such a row computes as 0.9999999 about half the time), which is why
:func:`sparse_W` renormalises the rows in float64 and the reach is then 1 to ~1e-15."""


def gershgorin(P, tol: float | None = None) -> Gershgorin:
    """The Gershgorin discs of P and whether they all lie in the open unit disc (Fig. 3), which
    implies ρ(P) < 1.

    The row sums are taken in float64 and a disc counts as inside only when its reach |P_ii| + R_i is
    below 1 − ``tol``; discs within ``tol`` of the unit circle are reported as ``undecided`` (they prove
    nothing at the precision of P). ``tol`` defaults to :data:`REACH_TOL` for a float64 P (as
    :func:`system_matrix` builds it) and to 1e-6 for a float32 one.

    Examples
    --------
    >>> G = gershgorin(np.array([[0.5, 0.2], [0.1, -0.3]]))
    >>> G.all_inside, round(G.max_reach, 3)
    (True, 0.7)
    >>> gershgorin(np.array([[0.6, 0.4 - 1e-12], [0.0, 0.5]])).all_inside    # reach 1 − 1e-12: undecided
    False
    """
    M = sp.csr_matrix(P) if not sp.issparse(P) else P.tocsr()
    if tol is None:
        tol = REACH_TOL if M.dtype == np.float64 else 1e-6
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    M = M.astype(np.float64)
    d = M.diagonal()
    absrow = np.asarray(abs(M).sum(axis=1)).ravel()
    radii = absrow - np.abs(d)
    reach = np.abs(d) + radii
    inside = reach < 1 - tol
    undecided = np.abs(reach - 1) <= tol
    return Gershgorin(d, radii, inside, bool(inside.all()), float(reach.max()), undecided, tol)


# --------------------------------------------------------------------------- Assumption 2
@dataclass
class Assumption2:
    """Row-by-row check of Assumption 2 for W and A.

    Attributes
    ----------
    holds : bool
        (i), (ii) and (iii) all hold.
    i_holds : bool
        W_ij > 0 exactly on the window Ω_i (and ≥ 0 everywhere).
    ii_holds : bool or None
        A has non-negative entries (None when it cannot be decided for this operator).
    iii_holds : bool
        Σ_{j∉Ω_i} Q_ij < Σ_{j∈Ω_i} Q_ij for every row i (eq. 5).
    inside, outside : ndarray
        The two sides of eq. (5) per row.
    failing_rows : ndarray
        Pixel indices (row-major) where (iii) fails.
    message : str
        A one-line verdict.
    """

    holds: bool
    i_holds: bool
    ii_holds: bool | None
    iii_holds: bool
    inside: np.ndarray = field(repr=False)
    outside: np.ndarray = field(repr=False)
    failing_rows: np.ndarray = field(repr=False)
    message: str = ""


def _a_nonnegative(op: Operator) -> bool | None:
    if isinstance(op, (Denoising, Inpainting)):
        return True                                  # rows of I (a subset of them for inpainting)
    kernel = getattr(op, "kernel", None)
    if kernel is not None:
        return bool((kernel >= 0).all())             # circulant of a non-negative PSF (and ↓ for SR)
    return None


def _window_pattern(W: KernelWeights) -> sp.csr_matrix:
    """0/1 matrix of the window Ω_i: j ∈ Ω_i iff the pixel j is in the in-image window of i."""
    ones = KernelWeights(torch.ones_like(W.weights), W.window, W.D)
    P = ones.to_sparse(max_pixels=max(W.n, MAX_PIXELS))
    P.data[:] = 1.0
    return P


def check_assumption_2(W: KernelWeights, op: Operator, max_pixels: int = MAX_PIXELS) -> Assumption2:
    """Check Assumption 2 (i)–(iii) for W and the forward model of ``op``.

    (iii) is eq. (5): for every row i, Σ_{j∉Ω_i} Q_ij < Σ_{j∈Ω_i} Q_ij with Q = W AᵀA. For
    inpainting, Proposition 3 says it holds iff every window contains an observed pixel.

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> rep = check_assumption_2(nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0))
    >>> rep.holds, len(rep.failing_rows)
    (True, 0)
    """
    _check_W(W)
    _check_n(W.n, max_pixels)
    Wm = sparse_W(W, max_pixels)
    pattern = _window_pattern(W)
    # (i): every in-window entry is > 0 and nothing outside the window is stored
    w_in = np.asarray(Wm.multiply(pattern).tocsr().data)
    i_holds = bool((Wm.data >= 0).all() and Wm.nnz == pattern.nnz and (w_in > 0).all()
                   and len(w_in) == pattern.nnz)
    ii_holds = _a_nonnegative(op)
    Q = (Wm @ ata_matrix(op, W.shape, max_pixels)).tocsr()
    total = np.asarray(Q.sum(axis=1)).ravel()
    inside = np.asarray(Q.multiply(pattern).sum(axis=1)).ravel()
    outside = total - inside
    failing = np.flatnonzero(~(outside < inside))
    iii_holds = len(failing) == 0
    holds = i_holds and bool(ii_holds) and iii_holds
    if holds:
        msg = "Assumption 2 holds: W > 0 exactly on the windows, A ≥ 0, and eq. (5) holds on every row"
    else:
        parts = []
        if not i_holds:
            parts.append("(i) fails: W is not positive exactly on the windows")
        if ii_holds is None:
            parts.append("(ii) unknown for this operator")
        elif not ii_holds:
            parts.append("(ii) fails: A has negative entries")
        if not iii_holds:
            parts.append(f"(iii) fails on {len(failing)} of {W.n} rows (e.g. pixel {failing[0]})")
        msg = "Assumption 2: " + "; ".join(parts)
    return Assumption2(holds, i_holds, ii_holds, iii_holds, inside, outside, failing, msg)


def theorem5_bound(W: KernelWeights, op: Inpainting) -> float:
    """Theorem 5: for inpainting, PnP-ISTA converges for every γ ∈ (0, 1) when every window Ω_i
    contains an observed pixel (the hypothesis of Proposition 3). Returns the bound 1.0, or 0.0
    when the hypothesis fails (no guarantee).

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> theorem5_bound(nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0))
    1.0
    """
    if not isinstance(op, Inpainting):
        raise TypeError(f"theorem5_bound is for inpainting (op must be Inpainting), got {type(op).__name__}")
    s = _observed_weight(W, op)
    return 1.0 if bool((s > 0).all()) else 0.0


def _observed_weight(W: KernelWeights, op: Inpainting) -> np.ndarray:
    """s_i = Σ_{j ∈ Ω_i observed} W_ij, per pixel (flat)."""
    m = op.mask_for(torch.zeros((1, 1) + tuple(W.shape), device=W.weights.device)).to(W.weights.dtype)
    return W.apply(m).reshape(-1).double().cpu().numpy()


def inpainting_inf_norm(W: KernelWeights, op: Inpainting, gamma: float) -> float:
    """‖P‖_∞ = max_i Σ_j |P_ij| for inpainting, an upper bound of ρ(P) and of every Gershgorin disc.

    With M = AᵀA = diag(m), P_ij = W_ij (1 − γ m_j), so the i-th absolute row sum is
    Σ_{j unobserved} W_ij + |1 − γ| Σ_{j observed} W_ij = 1 − (1 − |1 − γ|) s_i with s_i the observed
    weight of row i. Under Proposition 3's hypothesis (s_i > 0) it is < 1 for every γ ∈ (0, 2): the
    Gershgorin argument of Theorem 4 then gives convergence for every γ < 2, not only γ < 1 (Theorem 5);
    at γ = 2 itself the bound is 1 and proves nothing (the paper's iterates "stabilise" there; with a sharp W
    ours oscillate). Computed in O(n) from the stencil (no matrix is formed), so it works for images of any
    size.

    Examples
    --------
    >>> from pnp_lessons.denoisers.nlm import nlm_weights
    >>> from pnp_lessons.operators import Inpainting
    >>> g = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    >>> Wk, op = nlm_weights(g, 3, 5, 0.2), Inpainting(ratio=0.5, seed=0)
    >>> [inpainting_inf_norm(Wk, op, g) < 1 for g in (0.5, 1.9, 2.1)]
    [True, True, False]
    """
    if not isinstance(op, Inpainting):
        raise TypeError(f"inpainting_inf_norm needs an Inpainting operator, got {type(op).__name__}")
    gamma = check_gamma(gamma, allow_zero=True)
    s = _observed_weight(W, op)
    return float((1 - (1 - abs(1 - gamma)) * s).max())
