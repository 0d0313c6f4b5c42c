"""Non-local means as an explicit kernel denoiser ``x ↦ W x`` (Gavaskar & Chaudhury 2020, §II).

NLM averages the pixels of a search window Ω_i around each pixel i with weights computed from a
*guide* image:

    K_ij = exp(−max(d²(i, j) − 2σ², 0) / h²)   for j ∈ Ω_i,   K_ij = 0 otherwise,
    W = D⁻¹ K,   D = diag(K 1)                   (row-stochastic, "W = D⁻¹K" in §II),

where d²(i, j) is the mean squared difference between the ``p × p`` patches around i and j
(averaged over the pixels of the patch and over the channels: colour guides use colour patch
distances, and one W is shared by all channels). With ``sigma=None`` the kernel is the plain
Gaussian exp(−d²/h²); giving the noise level σ of the guide subtracts its expected value 2σ²
(Buades, Coll & Morel, IPOL 2011; this is also what ``skimage.restoration.denoise_nl_means``
does when ``sigma`` is given).

Boundary handling (it is what makes K exactly symmetric):

* patches are read from the guide padded by *reflection* at the border, and the same padded
  guide is used for i and for j, so d²(i, j) = d²(j, i) and K is symmetric — **K = Kᵀ exactly**:
  each unordered pair is computed once and stored for both orders;
* the window is the set of *in-image* pixels ``Ω_i = {j : |j_y − i_y| ≤ r, |j_x − i_x| ≤ r}``
  (r = window // 2), i.e. it is clipped at the border and never wraps or reflects; pixels
  outside the image are not unknowns of the inverse problem, so W is a genuine n × n matrix;
* the exponent is clamped to [−80, 0], so K_ij ≥ e⁻⁸⁰ > 0 on Ω_i even in float32: W_ij > 0
  exactly on Ω_i and 0 outside, which is Assumption 2(i) of the paper.

Storage is a *stencil*: ``weights[o, y, x] = W[i, i + δ_o]`` for the pixel i = (y, x) and the
window offset δ_o = (dy, dx), o = (dy + r)·window + (dx + r); entries whose neighbour falls
outside the image are 0. That is ``window²·H·W`` numbers, against n² for a dense W.

Speed: the distances are computed for half of the offsets only (δ and −δ share their distance
map), by bands of rows small enough to stay in cache, with a box filter made of cumulative
sums; everything is vectorised over the offsets of a window row, in float32, on CPU or CUDA.
On CPU, :func:`nlm_apply` / :func:`nlm_denoise` run a fused numba kernel instead
(:mod:`pnp_lessons.denoisers._nlm_numba`: same kernel, one pass, ~3× faster than the torch ops here)
when numba can be imported; ``PNP_LESSONS_NLM_BACKEND=torch|numba`` forces a backend
(:func:`nlm_backend`). :func:`nlm_weights` always uses torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_odd, check_positive

__all__ = ["KernelWeights", "NLM", "NLMDenoiser", "nlm_weights", "nlm_denoise", "nlm_apply", "nlm_backend", "H_FACTOR",
           "H_FACTOR_COLOUR", "colour_h_factor"]

H_FACTOR = 0.75
"""Default ratio h / σ of :func:`nlm_denoise` (kernel with the 2σ² offset).

Fitted on Set12 (12 images) at σ = 15 and 25/255, window 21, on the grid h/σ ∈ {0.6, …, 1.0}:
the best mean PSNR was at 0.8 (σ = 15) and 0.7 (σ = 25) for patches 5, 6 and 7 alike
(``python benchmarks/nlm.py --quality``); 0.75 is within 0.03 dB of either optimum."""

H_FACTOR_COLOUR = ((5.0, 0.85), (15.0, 0.65), (25.0, 0.55), (50.0, 0.45))
"""Default h / σ of :func:`nlm_denoise` for colour (3-channel) images, as ``(σ·255, h/σ)`` nodes.

The patch distance averages over the three channels, so it fluctuates less and a narrower kernel
pays, the more so the larger σ. Fitted on the first 10 CBSD432 images (training images, disjoint
from the CBSD68 test set), patch 7, window 21: the best h/σ on the grid {0.35, 0.45, …, 0.85} was
0.85 / 0.65 / 0.55 / 0.45 at σ = 5 / 15 / 25 / 50 (mean PSNR 36.58 / 30.00 / 27.60 / 25.16 dB, against
36.54 / 29.86 / 27.37 / 24.28 with the grey 0.75). Between the nodes h/σ is interpolated linearly
(:func:`colour_h_factor`), outside them held at the end values."""


def colour_h_factor(sigma: float) -> float:
    """h / σ for colour images at noise level ``sigma`` (on the [0, 1] scale), from :data:`H_FACTOR_COLOUR`.

    Examples
    --------
    >>> colour_h_factor(25 / 255), colour_h_factor(20 / 255), colour_h_factor(100 / 255)
    (0.55, 0.6, 0.45)
    """
    s, f = zip(*H_FACTOR_COLOUR, strict=False)
    return round(float(np.interp(float(sigma) * 255, s, f)), 6)


CUTOFF = None
"""Optional exponent cut-off (skimage drops weights below e⁻⁵): exponents below −CUTOFF are set to
EXP_FLOOR. Off by default: on Set12 it changed nothing measurable."""
EXP_FLOOR = -80.0
"""Lower clamp of the kernel's exponent: keeps K_ij ≥ e⁻⁸⁰ > 0 on the window in float32
(Assumption 2(i)) and avoids the very slow denormal range of ``exp``."""


# --------------------------------------------------------------------------- helpers
def _reflect_index(n: int, pad: int, device=None) -> torch.Tensor:
    """Indices of a reflect padding (``abcd → dcb|abcd|cba``) of any width, for a length ``n``."""
    i = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(i)
    m = 2 * (n - 1)
    i = i.remainder(m)
    return torch.where(i >= n, m - i, i)


def _as_guide(guide) -> torch.Tensor:
    """``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)`` → ``(C, H, W)`` float32 (device kept)."""
    if isinstance(guide, np.ndarray):
        guide = torch.from_numpy(np.ascontiguousarray(guide))
    if not torch.is_tensor(guide):
        raise TypeError(f"guide must be a torch.Tensor (or numpy array), got {type(guide).__name__}")
    if guide.dim() == 4:
        if guide.shape[0] != 1:
            raise ValueError(f"guide must hold one image, got a batch of {guide.shape[0]} "
                             "(build one KernelWeights per image)")
        guide = guide[0]
    elif guide.dim() == 2:
        guide = guide[None]
    if guide.dim() != 3:
        raise ValueError(f"guide must have shape (H, W), (C, H, W) or (1, C, H, W), got {tuple(guide.shape)}")
    if not guide.is_floating_point():
        raise TypeError(f"guide must be a floating-point tensor, got dtype {guide.dtype}")
    if not bool(torch.isfinite(guide).all()):
        raise ValueError("guide contains NaN or infinite values")
    return guide.detach().float()


BAND_ELEMENTS = 1 << 17
"""Target size (float32 elements) of one band buffer ``(rows, offsets, W)`` on CPU: small
enough that the ~4 buffers of a band stay in the L2 cache."""


def _band_rows(H: int, W: int, nj: int, patch: int, device) -> int:
    """Rows per band so that one (rows, offsets, W) buffer holds ~BAND_ELEMENTS floats on CPU."""
    if device.type != "cpu":
        return H
    return int(max(4, min(H, BAND_ELEMENTS // max(1, nj * (W + patch)))))


def _box_add(src: torch.Tensor, p: int, dim: int, n: int, out: torch.Tensor, tmp: list) -> torch.Tensor:
    """out = Σ_{t<p} src.narrow(dim, t, n): a length-p moving sum along ``dim``.

    Built by doubling (sums of 2, 4, 8 … consecutive terms, then the binary digits of p), so
    p = 7 costs 4 adds instead of 6. ``tmp`` is a list of scratch tensors reused across calls.
    """
    if p == 1:
        return out.copy_(src.narrow(dim, 0, n))
    L = n + p - 1
    levels = [src.narrow(dim, 0, L)]           # levels[k][t] = Σ of 2^k terms from t
    width = 1
    while 2 * width <= p:
        prev = levels[-1]
        m = prev.shape[dim] - width
        if len(tmp) < len(levels):
            tmp.append(torch.empty_like(src))
        buf = tmp[len(levels) - 1][tuple(slice(0, d) for d in src.shape)].narrow(dim, 0, m)
        torch.add(prev.narrow(dim, 0, m), prev.narrow(dim, width, m), out=buf)
        levels.append(buf)
        width *= 2
    segs, o = [], 0
    for k in range(len(levels) - 1, -1, -1):
        if p & (1 << k):
            segs.append(levels[k].narrow(dim, o, n))
            o += 1 << k
    if len(segs) == 1:
        out.copy_(segs[0])
    else:
        torch.add(segs[0], segs[1], out=out)
        for seg in segs[2:]:
            out.add_(seg)
    return out


# --------------------------------------------------------------------------- the kernel, by chunks
def _scaled_padded_guide(g: torch.Tensor, patch_size: int, window: int, h: float) -> torch.Tensor:
    """The guide times 1/sqrt(C p² h²), reflect-padded by R = window // 2 + patch_size // 2.

    Summing the squared differences of this guide over a p × p patch and the C channels gives
    d²/h² directly (d² = mean over the patch and channels). Shared by the torch and numba paths,
    so both read the very same float32 numbers.
    """
    C, H, W = g.shape
    R = window // 2 + patch_size // 2
    scale = 1.0 / math.sqrt(C * patch_size * patch_size * h * h)
    return (g * scale)[:, _reflect_index(H, R, g.device)][:, :, _reflect_index(W, R, g.device)].contiguous()


def _exponent_offset(h: float, sigma: float | None) -> float:
    """b = 2σ²/h², so that the exponent of K is b − d²/h² (0 for the plain Gaussian kernel)."""
    return (2.0 * sigma * sigma / (h * h)) if sigma else 0.0


def _kernel_chunks(g: torch.Tensor, patch_size: int, window: int, h: float, sigma: float | None,
                   rows: range | None = None):
    """Yield ``(dy, j0, j1, y0, y1, kpad)`` where ``k = kpad[:, :, r:r+W]`` holds
    ``k[y - y0, j - j0, x] = K[(y, x), (y + dy, x + j - r)]`` and the r columns on each side of
    ``kpad`` are 0 (handy for sending the mirror pair to ``x + dx``).

    Only half of the offsets are produced — dy > 0 with every dx, and dy = 0 with dx > 0 — since
    K is symmetric: ``K[i, i − δ] = K[i − δ, i]``. Rows whose neighbour is below the image are not
    produced; entries whose neighbour is left or right of the image are 0. ``rows`` selects the
    window rows dy (default ``range(0, r + 1)``). ``kpad`` is a reused buffer: consume it before
    the next chunk.
    """
    C, H, W = g.shape
    r = window // 2
    lo, hi = (patch_size - 1) // 2, patch_size // 2   # the patch spans offsets −lo … hi (lo = hi when odd)
    R = r + hi
    dev = g.device
    # The box sums of squared differences of gp are d²/h² (scale folded into the guide); the
    # offset b = 2σ²/h² is folded into the per-pixel terms (b/p² each): the box sum is then
    # b − d²/h², the exponent of K, with no extra pass.
    gp = _scaled_padded_guide(g, patch_size, window, h)
    b = _exponent_offset(h, sigma)
    b_pix = torch.tensor(b / (patch_size * patch_size), device=dev)
    Wp = W + patch_size - 1
    L = patch_size - 1
    jshift = hi - lo
    cols = torch.arange(W, device=dev)
    strip = min(r, W)
    for dy in (range(0, r + 1) if rows is None else rows):
        if dy >= H:
            continue
        j0 = r + 1 if dy == 0 else 0
        nj = window - j0
        dx = torch.arange(j0, window, device=dev) - r
        # 0/1 mask of the neighbours inside the image, on the r border columns of each side
        colmask = ((cols[None] + dx[:, None] >= 0) & (cols[None] + dx[:, None] < W)).float()  # (nj, W)
        left, right = colmask[:, :strip], colmask[:, W - strip:]
        hb = _band_rows(H, W, nj, patch_size, g.device)
        ebuf = torch.empty((hb + L, nj, Wp), device=dev)
        dbuf = torch.empty_like(ebuf) if C > 1 else None
        ybuf = torch.empty((hb, nj, Wp), device=dev)
        kbuf = torch.zeros((hb, nj, W + 2 * r), device=dev)
        tmp_y, tmp_x = [], []
        for y0 in range(0, H - dy, hb):
            y1 = min(H - dy, y0 + hb)  # rows y >= H − dy have no neighbour below: K = 0 there
            n = y1 - y0
            e, yb, kpad = ebuf[: n + L], ybuf[:n], kbuf[:n]
            k = kpad[:, :, r: r + W]
            # e = b/p² − Σ_c (guide − shifted guide)², for every dx of this window row at once
            A = gp[:, y0 + R - lo: y1 + R + hi, R - lo: R + W + hi]                 # (C, n+p−1, Wp)
            Bv = gp[:, y0 + R - lo + dy: y1 + R + hi + dy, :].unfold(2, Wp, 1)      # (C, n+p−1, ≥window, Wp)
            Bv = Bv[:, :, jshift + j0: jshift + window]
            for ch in range(C):
                if ch == 0:
                    diff = torch.sub(A[0][:, None, :], Bv[0], out=e)
                    torch.addcmul(b_pix, diff, diff, value=-1.0, out=e)
                else:
                    diff = torch.sub(A[ch][:, None, :], Bv[ch], out=dbuf[: n + L])
                    e.addcmul_(diff, diff, value=-1.0)
            # p × p box sums: along y (contiguous planes), then along x -> b − d²/h²
            _box_add(e, patch_size, 0, n, yb, tmp_y)
            _box_add(yb, patch_size, 2, W, k, tmp_x)
            if CUTOFF is not None:
                F.threshold_(k, -CUTOFF, EXP_FLOOR)
            k.clamp_(EXP_FLOOR, 0.0).exp_()
            if strip:
                k[:, :, :strip].mul_(left)
                k[:, :, W - strip:].mul_(right)
            yield dy, j0, window, y0, y1, kpad


def _offset_index(dy: int, dx: int, window: int) -> int:
    r = window // 2
    return (dy + r) * window + (dx + r)


# --------------------------------------------------------------------------- the weights
@dataclass
class KernelWeights:
    """An explicit kernel denoiser W = D⁻¹K stored as a stencil.

    Attributes
    ----------
    weights : torch.Tensor
        ``(window², H, W)``: ``weights[o, y, x] = W[i, i + δ_o]`` with i = (y, x) and the offset
        δ_o = (o // window − r, o % window − r); 0 where i + δ_o is outside the image.
    window : int
        Side of the search window Ω_i (odd).
    D : torch.Tensor
        ``(H, W)`` row sums of K, so that K = D W (``K[i, j] = D[i] W[i, j]``).
    symmetric : bool
        True for DSG-NLM (:meth:`symmetrize`), where W itself is symmetric and doubly stochastic.

    Examples
    --------
    >>> g = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> Wk = nlm_weights(g, patch_size=3, window=5, h=0.2)
    >>> Wk.weights.shape
    torch.Size([25, 16, 16])
    >>> bool(torch.allclose(Wk.weights.sum(0), torch.ones(16, 16)))
    True
    >>> Wk.apply(g).shape
    torch.Size([1, 1, 16, 16])
    """

    weights: torch.Tensor
    window: int
    D: torch.Tensor
    symmetric: bool = False

    # ------------------------------------------------------------------ basic facts
    @property
    def shape(self) -> tuple[int, int]:
        """Image size ``(H, W)``."""
        return tuple(self.weights.shape[-2:])

    @property
    def n(self) -> int:
        """Number of pixels (W is n × n)."""
        return self.shape[0] * self.shape[1]

    @property
    def radius(self) -> int:
        return self.window // 2

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """The window offsets δ_o = (dy, dx) in stencil order."""
        r = self.radius
        return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]

    @property
    def K(self) -> torch.Tensor:
        """The stencil of the symmetric kernel matrix K = D W."""
        return self.weights * self.D[None]

    @property
    def nbytes(self) -> int:
        """Bytes of the stencil (what one application of W reads)."""
        return self.weights.numel() * self.weights.element_size()

    def to(self, device) -> KernelWeights:
        """The same weights on another device."""
        return KernelWeights(self.weights.to(device), self.window, self.D.to(device), self.symmetric)

    # ------------------------------------------------------------------ applying W
    def __call__(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        """W x: the fixed kernel denoiser (the contract of :mod:`pnp_lessons.denoisers.base`; σ is not used,
        it entered when W was built)."""
        return self.apply(x)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """W x for ``x`` of shape ``(B, C, H, W)`` (the same W for every image and channel).

        Cost: one pass over the stencil (one ``addcmul`` per window offset on a zero-padded x).
        """
        _check_batch(x, self.shape)
        w = self.weights
        if x.device != w.device:
            raise ValueError(f"x is on {x.device} but the weights are on {w.device}; use .to(device)")
        r = self.radius
        H, W = self.shape
        xw = x.to(w.dtype)
        xp = F.pad(xw, (r, r, r, r))
        out = torch.zeros_like(xw)
        win = self.window
        for o in range(win * win):
            dy, dx = divmod(o, win)
            out.addcmul_(w[o], xp[..., dy: dy + H, dx: dx + W])
        return out.to(x.dtype)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """W v for a flat numpy vector of length n (row-major pixels), for scipy's LinearOperator."""
        H, W = self.shape
        x = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).reshape(1, 1, H, W))
        return self.apply(x.to(self.weights.device, self.weights.dtype)).double().cpu().numpy().ravel()

    # ------------------------------------------------------------------ inspection
    def row(self, i: int, j: int) -> torch.Tensor:
        """The weight map of pixel (i, j): an ``(H, W)`` image holding W[(i, j), ·].

        Examples
        --------
        >>> g = torch.rand(12, 12, generator=torch.Generator().manual_seed(1))
        >>> m = nlm_weights(g, patch_size=3, window=5, h=0.3).row(0, 0)
        >>> round(m.sum().item(), 5), int((m > 0).sum())     # the window is clipped at the corner
        (1.0, 9)
        """
        H, W = self.shape
        if not (isinstance(i, (int, np.integer)) and 0 <= i < H):
            raise ValueError(f"row index i must be an integer in [0, {H}), got {i!r}")
        if not (isinstance(j, (int, np.integer)) and 0 <= j < W):
            raise ValueError(f"column index j must be an integer in [0, {W}), got {j!r}")
        r = self.radius
        out = torch.zeros((H + 2 * r, W + 2 * r), dtype=self.weights.dtype, device=self.weights.device)
        out[i: i + self.window, j: j + self.window] = self.weights[:, i, j].reshape(self.window, self.window)
        return out[r: r + H, r: r + W]

    def _coo(self, stencil: torch.Tensor):
        H, W = self.shape
        ys, xs = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        rows, cols, vals = [], [], []
        st = stencil.detach().double().cpu().numpy()
        for o, (dy, dx) in enumerate(self.offsets):
            y2, x2 = ys + dy, xs + dx
            ok = (y2 >= 0) & (y2 < H) & (x2 >= 0) & (x2 < W)
            rows.append((ys * W + xs)[ok])
            cols.append((y2 * W + x2)[ok])
            vals.append(st[o][ok])
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)

    def to_sparse(self, max_pixels: int = 128 * 128, which: str = "W"):
        """W (or K with ``which='K'``) as a scipy CSR matrix, n × n, float64, rows = pixels in
        row-major order. Every in-window entry is stored (they are all > 0).

        Examples
        --------
        >>> g = torch.rand(6, 6, generator=torch.Generator().manual_seed(0))
        >>> S = nlm_weights(g, patch_size=3, window=3, h=0.5).to_sparse()
        >>> S.shape, S.nnz        # 36 pixels, 3×3 windows clipped at the border: 16·9 + 16·6 + 4·4
        ((36, 36), 256)
        """
        import scipy.sparse as sp

        if which not in ("W", "K"):
            raise ValueError(f"which must be 'W' or 'K', got {which!r}")
        if self.n > max_pixels:
            raise ValueError(f"to_sparse: the image has {self.n} pixels, more than max_pixels={max_pixels}; "
                             "crop the image or raise max_pixels")
        rows, cols, vals = self._coo(self.weights if which == "W" else self.K)
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.n, self.n))

    # ------------------------------------------------------------------ DSG-NLM
    def symmetrize(self, tol: float = 1e-6, max_iter: int = 1000) -> KernelWeights:
        """DSG-NLM (Sreehari et al. 2016): the symmetric, doubly-stochastic W_sym = diag(d) K diag(d).

        The scaling d > 0 solves d ⊙ (K d) = 1 by the symmetric Sinkhorn–Knopp iteration
        d ← sqrt(d / (K d)) (Knight 2008), in float64, until every row sum of W_sym is within
        ``tol`` of 1. Since K is symmetric, so is W_sym, and its column sums equal its row sums.

        Examples
        --------
        >>> g = torch.rand(10, 10, generator=torch.Generator().manual_seed(0))
        >>> S = nlm_weights(g, patch_size=3, window=5, h=0.3).symmetrize().to_sparse()
        >>> bool(abs(S - S.T).max() < 1e-12), bool(abs(S.sum(0) - 1).max() < 1e-6)
        (True, True)
        """
        if self.symmetric:
            return self
        tol = check_positive(tol, "tol")
        Ks = self.K.double()
        Ks = 0.5 * (Ks + _transpose_stencil(Ks, self.window))   # K = Kᵀ up to float32 rounding: make it exact
        K = KernelWeights(Ks, self.window, torch.ones_like(self.D, dtype=torch.float64))
        d = torch.ones((1, 1) + self.shape, dtype=torch.float64, device=self.weights.device)
        for _it in range(max_iter):
            Kd = K.apply(d)
            if float((d * Kd - 1).abs().max()) < tol:
                break
            d = torch.sqrt(d / Kd)
        else:
            raise RuntimeError(f"symmetrize: Sinkhorn–Knopp did not reach tol={tol:g} in {max_iter} iterations")
        r = self.radius
        H, W = self.shape
        dpad = F.pad(d, (r, r, r, r))[0, 0]
        ws = torch.empty_like(Ks)
        for o in range(self.window * self.window):
            dy, dx = divmod(o, self.window)
            ws[o] = Ks[o] * (d[0, 0] * dpad[dy: dy + H, dx: dx + W])     # K_ij (d_i d_j): symmetric in i, j
        ws = ws.to(self.weights.dtype)
        return KernelWeights(ws, self.window, torch.ones_like(self.D), symmetric=True)


def _transpose_stencil(S: torch.Tensor, window: int) -> torch.Tensor:
    """The stencil of the transposed matrix: ``T[i, i + δ] = S[i + δ, i]``, i.e.
    ``T[o(δ), y, x] = S[o(−δ), y + dy, x + dx]`` (0 where i + δ is outside the image)."""
    r = window // 2
    _, H, W = S.shape
    T = torch.zeros_like(S)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ya, yb = max(0, -dy), min(H, H - dy)
            xa, xb = max(0, -dx), min(W, W - dx)
            if yb > ya and xb > xa:
                T[_offset_index(dy, dx, window), ya:yb, xa:xb] = \
                    S[_offset_index(-dy, -dx, window), ya + dy: yb + dy, xa + dx: xb + dx]
    return T


def _check_batch(x, shape):
    if not torch.is_tensor(x):
        raise TypeError(f"x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    if tuple(x.shape[-2:]) != tuple(shape):
        raise ValueError(f"x has size {tuple(x.shape[-2:])} but the weights were built for {tuple(shape)}")


def _check_patch(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"patch_size must be a positive integer, got {value!r}")
    return int(value)


def _check_params(patch_size, window, h, sigma):
    patch_size = _check_patch(patch_size)
    window = check_odd(window, "window")
    h = check_positive(h, "h")
    sigma = check_positive(sigma, "sigma", allow_none=True, allow_zero=True)
    return patch_size, window, h, sigma


def nlm_weights(guide, patch_size: int = 7, window: int = 21, h: float = 0.1,
                sigma: float | None = None) -> KernelWeights:
    """NLM weights W = D⁻¹K built from a guide image (§II of the paper; Buades et al. 2005).

    Parameters
    ----------
    guide : torch.Tensor
        ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``; colour guides use colour patch distances.
    patch_size : int
        Side p of the square patches (odd).
    window : int
        Side of the search window Ω_i (odd); clipped at the image border.
    h : float
        Kernel width: K_ij = exp(−max(d² − 2σ², 0)/h²) with d² the mean squared patch difference.
    sigma : float, optional
        Noise level of the guide (subtracts 2σ² from d², as ``skimage``'s NLM). ``None`` gives
        the plain Gaussian kernel exp(−d²/h²).

    Returns
    -------
    KernelWeights
        Stencil of ``window²·H·W`` weights (float32, on the guide's device); rows sum to 1.

    Examples
    --------
    >>> g = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    >>> Wk = nlm_weights(g, patch_size=5, window=7, h=0.3)
    >>> Wk.weights.shape, bool(((Wk.weights > 0).sum(0) <= 49).all())
    (torch.Size([49, 20, 20]), True)
    """
    g = _as_guide(guide)
    patch_size, window, h, sigma = _check_params(patch_size, window, h, sigma)
    C, H, W = g.shape
    r = window // 2
    wts = torch.zeros((window * window, H, W), device=g.device)
    for dy, j0, j1, y0, y1, kpad in _kernel_chunks(g, patch_size, window, h, sigma):
        k = kpad[:, :, r: r + W]
        o0 = _offset_index(dy, j0 - r, window)
        wts[o0: o0 + (j1 - j0), y0:y1] = k.permute(1, 0, 2)
    # K[i, i − δ] = K[i − δ, i]: copy each computed offset into its mirror
    for dy in range(0, r + 1):
        for dx in range(-r, r + 1):
            if dy == 0 and dx <= 0:
                continue
            src = wts[_offset_index(dy, dx, window)]
            dst = wts[_offset_index(-dy, -dx, window)]
            ya, yb = 0, H - dy
            xa, xb = max(0, -dx), W - max(0, dx)
            if yb > ya and xb > xa:
                dst[ya + dy: yb + dy, xa + dx: xb + dx] = src[ya:yb, xa:xb]
    wts[_offset_index(0, 0, window)] = 1.0  # K_ii = exp(0) = 1
    D = wts.sum(0)
    wts.div_(D)
    return KernelWeights(wts, window, D)


def nlm_apply(x: torch.Tensor, guide=None, patch_size: int = 7, window: int = 21, h: float = 0.1,
              sigma: float | None = None, threads: int | None = None) -> torch.Tensor:
    """W(guide) x without storing W (memory O(n) instead of O(window²·n)).

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, H, W)``.
    guide : torch.Tensor, optional
        ``(1, Cg, H, W)`` or ``(B, Cg, H, W)`` (one guide per image); defaults to ``x`` itself.
    patch_size, window, h, sigma
        As in :func:`nlm_weights`.
    threads : int, optional
        CPU worker threads (default ``torch.get_num_threads()``); the window rows are shared
        among Python threads that each run single-threaded code.

    Notes
    -----
    On CPU the work is done by a fused numba kernel when numba is installed, else by torch ops;
    :func:`nlm_backend` tells which, and ``PNP_LESSONS_NLM_BACKEND=torch|numba`` forces one. The
    first numba call of a machine compiles the kernel (a few seconds; then cached on disk).

    Examples
    --------
    >>> x = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    >>> a = nlm_apply(x, patch_size=3, window=7, h=0.2)
    >>> b = nlm_weights(x, patch_size=3, window=7, h=0.2).apply(x)
    >>> bool(torch.allclose(a, b, atol=1e-5))
    True
    """
    if not torch.is_tensor(x) or x.dim() != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    patch_size, window, h, sigma = _check_params(patch_size, window, h, sigma)
    if guide is None:
        guide = x
    if not torch.is_tensor(guide) or guide.dim() != 4:
        raise ValueError(f"guide must be a (B, C, H, W) tensor, got {getattr(guide, 'shape', type(guide).__name__)}")
    if tuple(guide.shape[-2:]) != tuple(x.shape[-2:]):
        raise ValueError(f"guide has size {tuple(guide.shape[-2:])} but x has size {tuple(x.shape[-2:])}")
    if guide.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"guide must hold 1 or {x.shape[0]} images, got {guide.shape[0]}")
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        gb = guide[b if guide.shape[0] > 1 else 0]
        out[b] = _nlm_stream(x[b].float(), _as_guide(gb), patch_size, window, h, sigma, threads).to(x.dtype)
    return out


# --------------------------------------------------------------------------- backends of the streaming path
BACKEND_ENV = "PNP_LESSONS_NLM_BACKEND"
"""Environment variable that picks the backend of :func:`nlm_apply` on CPU: ``auto`` (default:
numba when it imports, else torch), ``numba`` (error if numba is missing) or ``torch``."""

_numba_kernel = None          # the imported pnp_lessons.denoisers._nlm_numba, once tried
_numba_error: BaseException | None = None


def _load_numba():
    """Import the numba kernel once (numba's own import costs ~0.3 s); None if it cannot be imported."""
    global _numba_kernel, _numba_error
    if _numba_kernel is None and _numba_error is None:
        try:
            from . import _nlm_numba
            _numba_kernel = _nlm_numba
        except Exception as exc:    # ImportError, or a broken numba/llvmlite install
            _numba_error = exc
    return _numba_kernel


def nlm_backend(device="cpu") -> str:
    """The backend, ``"numba"`` or ``"torch"``, that :func:`nlm_apply` uses for images on ``device``.

    CUDA (any non-CPU device) always uses torch. On CPU the environment variable
    ``PNP_LESSONS_NLM_BACKEND`` decides, read at every call: ``auto`` (default) is numba when it
    can be imported (and ``EXP_FLOOR`` is within the range of its exponential), else torch;
    ``numba`` insists (ImportError if numba is missing); ``torch`` forces the torch ops.
    Both backends give the same results up to float32 rounding (~1e-6).

    Examples
    --------
    >>> nlm_backend("cpu") in ("numba", "torch")
    True
    """
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "numba", "torch"):
        raise ValueError(f"{BACKEND_ENV} must be 'auto', 'numba' or 'torch', got {choice!r}")
    if torch.device(device).type != "cpu" or choice == "torch":
        return "torch"
    mod = _load_numba()
    if mod is None:
        if choice == "numba":
            raise ImportError(f"{BACKEND_ENV}=numba but numba cannot be imported ({_numba_error}); "
                              "pip install numba") from _numba_error
        return "torch"
    if EXP_FLOOR < mod.EXP_MIN:     # e^EXP_FLOOR would be subnormal: only torch's exp handles it
        if choice == "numba":
            raise ValueError(f"the numba backend needs EXP_FLOOR >= {mod.EXP_MIN}, got {EXP_FLOOR}")
        return "torch"
    return "numba"


def _stream_rows_numba(x, g, patch_size, window, h, sigma, rows):
    """:func:`_stream_rows` by the fused numba kernel (CPU): the same partial sums, in one pass.

    The guide is scaled and padded by the same torch code as :func:`_kernel_chunks`; the kernel
    (:func:`pnp_lessons.denoisers._nlm_numba.accumulate`) applies the same exponent, cut-off and
    clamp. It releases the GIL, so :func:`_nlm_stream`'s worker threads run in parallel.
    """
    C, H, W = x.shape
    gp = _scaled_padded_guide(g, patch_size, window, h).numpy()
    xs = np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)
    num = np.zeros((C, H, W), np.float32)
    den = np.zeros((H, W), np.float32)
    _numba_kernel.accumulate(gp, xs, np.asarray(list(rows), dtype=np.int64), int(patch_size), int(window),
                             _exponent_offset(h, sigma), math.inf if CUTOFF is None else float(CUTOFF),
                             float(EXP_FLOOR), num, den)
    return torch.from_numpy(num), torch.from_numpy(den)


def _nlm_stream(x: torch.Tensor, g: torch.Tensor, patch_size, window, h, sigma,
                threads: int | None = None) -> torch.Tensor:
    """Σ_j K_ij x_j / Σ_j K_ij for one image ``x`` (C, H, W), accumulating offset by offset.

    The partial sums come from :func:`_stream_rows_numba` or :func:`_stream_rows` (torch ops),
    as :func:`nlm_backend` says. On CPU with ``threads`` > 1 the window rows are shared among that
    many Python threads, each running single-threaded code (torch and the numba kernel release the
    GIL), and the partial sums are added: this uses the cores without OpenMP's spinning barriers,
    which behave badly on a loaded machine.
    """
    C, H, W = x.shape
    r = window // 2
    if nlm_backend(x.device) == "numba":
        stream_rows = _stream_rows_numba
        x = x.detach()   # no autograd through the kernel: no gradient rather than a partial one
    else:
        stream_rows = _stream_rows
    if threads is None:
        threads = torch.get_num_threads()
    threads = max(1, min(int(threads), r + 1))
    if x.device.type != "cpu" or threads == 1:
        num, den = stream_rows(x, g, patch_size, window, h, sigma, range(0, r + 1))
        return (num + x) / (den + 1)   # + the centre term K_ii = 1
    import threading

    # deal the rows dy = 0..r round-robin in pairs (cost is the same for every dy > 0)
    parts = [list(range(t, r + 1, threads)) for t in range(threads)]
    results: list = [None] * threads
    errors: list = []

    def work(t):
        try:
            torch.set_num_threads(1)   # this thread's OpenMP setting only
            results[t] = stream_rows(x, g, patch_size, window, h, sigma, parts[t])
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    num = x + sum(res[0] for res in results)
    den = 1 + sum(res[1] for res in results)
    return num / den


def _stream_rows(x, g, patch_size, window, h, sigma, rows):
    """Partial sums (Σ_j K_ij x_j, Σ_j K_ij) over the offsets of the window rows ``rows`` and
    their mirrors, without the centre term."""
    C, H, W = x.shape
    r = window // 2
    xv = F.pad(x, (r, r, r, r)).unfold(2, W, 1)               # xv[c, y, j, x] = x[c, y − r, x + j − r]
    num = torch.zeros_like(x)
    den = torch.zeros((H, W), device=x.device)
    tbuf = pbuf = None
    for dy, j0, j1, y0, y1, kpad in _kernel_chunks(g, patch_size, window, h, sigma, rows):
        n, nj = y1 - y0, j1 - j0
        k = kpad[:, :, r: r + W]
        if tbuf is None or tbuf.shape[1] < n or tbuf.shape[2] != nj:
            tbuf = torch.zeros((C, n, nj, W + 2 * r), device=x.device)
            pbuf = torch.empty((C, n, nj, W), device=x.device)
        # + δ: num[i] += K[i, i+δ] x[i+δ],  den[i] += K[i, i+δ]
        prod = torch.mul(k[None], xv[:, y0 + r + dy: y1 + r + dy, j0:j1], out=pbuf[:, :n])
        num[:, y0:y1] += prod.sum(2)
        den[y0:y1] += k.sum(1)
        # − δ: num[i + δ] += K[i, i+δ] x[i]   (the mirror pair has the same K value).
        # With a column-padded buffer t, m[.., y, jj, x'] = t[.., y, jj, x' + 2r − j0 − jj] is what
        # column x' receives from column x' − dx: a strided (diagonal) view, no copy.
        t = tbuf[:, :n]
        torch.mul(k[None], x[:, y0:y1, None, :], out=t[:, :, :, r: r + W])
        st = t.stride()
        m = t.as_strided((C, n, nj, W), (st[0], st[1], st[2] - 1, 1), t.storage_offset() + 2 * r - j0)
        num[:, y0 + dy: y1 + dy] += m.sum(2)
        sk = kpad.stride()
        mk = kpad.as_strided((n, nj, W), (sk[0], sk[1] - 1, 1), kpad.storage_offset() + 2 * r - j0)
        den[y0 + dy: y1 + dy] += mk.sum(1)
    return num, den


def nlm_denoise(x: torch.Tensor, sigma: float, patch_size: int = 7, window: int = 21,
                h: float | None = None, threads: int | None = None) -> torch.Tensor:
    """Plain NLM denoising of ``x`` (its own guide), with h tied to the noise level.

    Parameters
    ----------
    x : torch.Tensor
        Noisy ``(B, C, H, W)`` images in [0, 1] (each image is its own guide).
    sigma : float
        Noise standard deviation on the [0, 1] scale (e.g. ``25/255``).
    patch_size, window : int
        Patch and search-window sides (odd).
    h : float, optional
        Kernel width; defaults to ``H_FACTOR * sigma`` = 0.75 σ (fitted on Set12) for grey
        images and ``colour_h_factor(sigma) * sigma`` (0.85 σ at σ = 5/255 down to 0.45 σ at
        50/255, fitted on CBSD432) for colour ones.
    threads : int, optional
        CPU worker threads (see :func:`nlm_apply`).

    Examples
    --------
    >>> from pnp_lessons.metrics import psnr
    >>> g = torch.Generator().manual_seed(0)
    >>> clean = torch.zeros(1, 1, 32, 32); clean[..., 8:24, 8:24] = 1
    >>> noisy = clean + 0.1 * torch.randn(clean.shape, generator=g)
    >>> psnr(nlm_denoise(noisy, 0.1, patch_size=5, window=11), clean) > psnr(noisy, clean) + 8
    True
    """
    sigma = check_positive(sigma, "sigma", allow_zero=False)
    if h is None:
        h = (colour_h_factor(sigma) if x.dim() == 4 and x.shape[1] == 3 else H_FACTOR) * sigma
    return nlm_apply(x, None, patch_size, window, h, sigma, threads)


@dataclass
class NLM:
    """An NLM configuration for PnP: builds W from a guide (``NLM(...).weights(guide)``).

    Parameters
    ----------
    patch_size, window : int
        Patch and search-window sides.
    h : float
        Kernel width (on the [0, 1] scale).
    sigma : float, optional
        Noise level of the guide for the 2σ² offset (``None``: plain Gaussian kernel, as in the paper).

    Examples
    --------
    >>> cfg = NLM(patch_size=3, window=5, h=0.1)
    >>> cfg.weights(torch.rand(1, 1, 8, 8)).weights.shape
    torch.Size([25, 8, 8])
    """

    patch_size: int = 7
    window: int = 21
    h: float = 0.1
    sigma: float | None = None

    def __post_init__(self):
        _check_params(self.patch_size, self.window, self.h, self.sigma)

    def weights(self, guide) -> KernelWeights:
        """W = D⁻¹K from ``guide``."""
        return nlm_weights(guide, self.patch_size, self.window, self.h, self.sigma)

    def __call__(self, x: torch.Tensor, guide=None) -> torch.Tensor:
        """W(guide) x without storing W (guide defaults to x: the adaptive, non-linear NLM)."""
        return nlm_apply(x, guide, self.patch_size, self.window, self.h, self.sigma)


class NLMDenoiser:
    """NLM as a denoiser for the noise level σ: ``D(x, sigma)`` = W(x) x with h = H_FACTOR·σ (W from x itself,
    adaptive; :func:`nlm_denoise`), the contract of :mod:`pnp_lessons.denoisers.base`.

    Examples
    --------
    >>> D = NLMDenoiser(patch_size=3, window=5)
    >>> D(torch.rand(1, 1, 8, 8), 25 / 255).shape
    torch.Size([1, 1, 8, 8])
    """

    def __init__(self, patch_size: int = 7, window: int = 21):
        self.patch_size, self.window = check_odd(patch_size, "patch_size"), check_odd(window, "window")

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        return nlm_denoise(x, check_positive(sigma, "sigma"), self.patch_size, self.window)

    def __repr__(self):
        return f"NLMDenoiser(patch_size={self.patch_size}, window={self.window})"
