"""Fused CPU kernel of streaming NLM (numba): the partial sums of :func:`nlm._stream_rows` in one pass.

This is the numba twin of ``nlm._kernel_chunks`` + ``nlm._stream_rows``: for the half of the window
offsets δ = (dy, dx) with dy > 0 (every dx) or dy = 0, dx > 0, it accumulates

    num[i]     += K[i, i+δ] x[i+δ],   den[i]     += K[i, i+δ],
    num[i + δ] += K[i, i+δ] x[i],     den[i + δ] += K[i, i+δ]      (K symmetric: the mirror pair)

for every pixel i whose neighbour i + δ is inside the image, with

    K[i, i+δ] = exp(clamp(b − Σ_patch Σ_c (g̃(i + t) − g̃(i + δ + t))², EXP_FLOOR, 0)),

where g̃ is the reflect-padded guide already scaled by 1/sqrt(C p² h²) and b = 2σ²/h² (0 without σ),
i.e. the same exponent as the torch path (module docstring of :mod:`pnp_lessons.denoisers.nlm`).
The centre term K_ii = 1 is added by the caller.

Loop order (why it is fast): image rows outside, offsets inside. For each offset the vertical
p-row sums V of the squared differences are kept from one image row to the next and updated by
one added and one removed row (a running box sum, in float64 so that no rounding drift builds up
over the image height); the horizontal p-column sum (float32, as the torch path), the exponent,
the exponential and the four accumulations then run over one image row, all in L1/L2 cache
(the V rows of the (window² − 1)/2 offsets take 0.9 MB at W = 512, window 21, p = 7).
Every inner loop is a plain elementwise loop over x that LLVM vectorises; the exponential is
Cephes' ``expf`` written out (range reduction + degree-6 polynomial + exponent bits) so that it
vectorises too: there is no SVML in numba's pip wheels, and a libm ``expf`` call per element
would stop the vectorisation. No ``fastmath``: the results are IEEE float32/float64 arithmetic.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["accumulate", "EXP_MIN"]

EXP_MIN = -87.0
"""Smallest exponent :func:`_exp_row` handles (e⁻⁸⁷ is still a normal float32)."""

# Cephes expf constants (S. L. Moshier, Cephes Math Library, expf.c)
_LOG2E = np.float32(1.44269504088896341)
_C1 = np.float32(0.693359375)
_C2 = np.float32(-2.12194440e-4)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


def _jit(**options):
    """``numba.njit(cache=True, **options)``, or without the on-disk cache where numba finds no
    writable cache directory (neither ``__pycache__`` next to this file nor the user cache dir,
    see ``NUMBA_CACHE_DIR``): the kernel is then compiled once per process instead of once per machine."""
    def deco(f):
        try:
            return numba.njit(cache=True, **options)(f)
        except RuntimeError:          # "cannot cache function ...: no locator available"
            return numba.njit(cache=False, **options)(f)
    return deco


@_jit(nogil=True)
def _exp_row(t, out, ibits, n):
    """out[i] = exp(t[i]) for i < n, for t in [EXP_MIN, 0] (float32; < 1 ulp measured on [−87, 0]).

    Cephes ``expf``: m = round(t log₂e), r = t − m ln 2 (ln 2 split in two for exactness),
    exp(r) by its degree-6 polynomial, times 2ᵐ built from the exponent bits. ``ibits`` is an
    int32 scratch row; both loops vectorise (no libm call).
    """
    fbits = ibits.view(np.float32)
    for i in range(n):
        v = t[i]
        m = np.floor(v * _LOG2E + _HALF)
        r = v - m * _C1 - m * _C2
        r2 = r * r
        p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * r2 + r + _ONE
        ibits[i] = (np.int32(m) + np.int32(127)) << np.int32(23)   # the float32 bits of 2ᵐ
        out[i] = p
    for i in range(n):
        out[i] *= fbits[i]


@_jit(nogil=True)
def accumulate(gp, xs, dys, patch, window, b, cutoff, floor, num, den):
    """Add the contributions of the window rows ``dys`` (and their mirrors) to ``num`` and ``den``.

    Parameters
    ----------
    gp : ndarray, float32, (C, H + 2R, W + 2R)
        Guide, scaled by 1/sqrt(C p² h²) and reflect-padded by R = window // 2 + patch // 2.
    xs : ndarray, float32, (Cx, H, W)
        The image that is averaged.
    dys : ndarray, int64
        Window rows dy ∈ [0, window // 2] to process (dy = 0 means the offsets dx > 0 only).
    patch, window : int
        Patch side p (any ≥ 1; it spans −(p−1)//2 … p//2) and window side (odd).
    b : float
        Exponent offset 2σ²/h² (0 for the plain Gaussian kernel).
    cutoff : float
        Exponents ≤ −cutoff are set to ``floor`` (``inf``: no cut-off), as ``F.threshold_``.
    floor : float
        Lower clamp of the exponent (``EXP_FLOOR``), in [EXP_MIN, 0].
    num : ndarray, float32, (Cx, H, W)
        Σ K_ij x_j accumulator (added to, centre term excluded).
    den : ndarray, float32, (H, W)
        Σ K_ij accumulator (added to, centre term excluded).

    Notes
    -----
    Inner loops run over 0-based ranges on slices: with a start that may be negative (to numba),
    every index would carry a negative-index wrap-around test that stops LLVM from vectorising.
    """
    C = gp.shape[0]
    Cx, H, W = xs.shape
    r = window // 2
    lo = (patch - 1) // 2
    hi = patch // 2
    R = r + hi
    Wp = W + patch - 1            # columns of the vertical sums: x − lo … x + hi for every x
    c0 = R - lo                   # padded column of V[0]
    # the offsets of the requested window rows: dy > 0 with every dx, dy = 0 with dx > 0
    n_off = 0
    for dy in dys:
        if dy < H:
            n_off += r if dy == 0 else window
    ody = np.empty(n_off, np.int64)
    odx = np.empty(n_off, np.int64)
    o = 0
    for dy in dys:
        if dy < H:
            for dx in range(1 if dy == 0 else -r, r + 1):
                ody[o] = dy
                odx[o] = dx
                o += 1
    V = np.zeros((n_off, Wp), np.float64)     # V[o, v] = Σ_{rows of the patch} Σ_c d², running
    Vf = np.empty(Wp, np.float32)
    S = np.empty(W, np.float32)
    t = np.empty(W, np.float32)
    k = np.empty(W, np.float32)
    ibits = np.empty(W, np.int32)
    bf = np.float32(b)
    fb = np.float32(floor)
    fc = np.float32(-cutoff)                  # −inf without cut-off: the test below is never true
    zero = np.float32(0.0)
    for y in range(H):
        for o in range(n_off):
            dy = ody[o]
            dx = odx[o]
            if y + dy >= H:       # neighbour below the image: K = 0
                continue
            Vo = V[o]
            # vertical running sum over the patch rows y − lo … y + hi (padded row + R)
            if y == 0:
                for a in range(patch):
                    u = R - lo + a
                    for c in range(C):
                        ga = gp[c, u, c0: c0 + Wp]
                        gb = gp[c, u + dy, c0 + dx: c0 + dx + Wp]
                        for v in range(Wp):
                            d = ga[v] - gb[v]
                            Vo[v] += d * d
            else:
                un = y + R + hi           # row entering the patch
                uo = y - 1 + R - lo       # row leaving it
                for c in range(C):
                    gan = gp[c, un, c0: c0 + Wp]
                    gbn = gp[c, un + dy, c0 + dx: c0 + dx + Wp]
                    gao = gp[c, uo, c0: c0 + Wp]
                    gbo = gp[c, uo + dy, c0 + dx: c0 + dx + Wp]
                    for v in range(Wp):
                        dn = gan[v] - gbn[v]
                        do = gao[v] - gbo[v]
                        Vo[v] += np.float64(dn * dn) - np.float64(do * do)
            # only the pixels x0 ≤ x < x1 whose neighbour x + dx is inside the image
            x0 = max(0, -dx)
            x1 = min(W, W - dx)
            n = x1 - x0
            if n <= 0:
                continue
            # horizontal box sum over the patch columns x − lo … x + hi (V index x … x + p − 1),
            # in float32 like the torch path (V rounded once: its running sum stays in float64)
            Vs = Vo[x0: x0 + n + patch - 1]
            for i in range(n + patch - 1):
                Vf[i] = np.float32(Vs[i])
            for i in range(n):
                S[i] = Vf[i]
            for j in range(1, patch):
                Vj = Vf[j: j + n]
                for i in range(n):
                    S[i] += Vj[i]
            # exponent b − d²/h², cut off and clamped to [floor, 0] as in nlm._kernel_chunks
            for i in range(n):
                e = bf - S[i]
                e = fb if e <= fc else e
                t[i] = min(max(e, fb), zero)
            _exp_row(t, k, ibits, n)
            # + δ: pixel x gets K x[x + δ];  − δ: pixel x + δ gets K x[x] (K is symmetric)
            dr = den[y, x0: x1]
            ds = den[y + dy, x0 + dx: x1 + dx]
            for i in range(n):
                dr[i] += k[i]
            for i in range(n):
                ds[i] += k[i]
            for c in range(Cx):
                nr = num[c, y, x0: x1]
                ns = num[c, y + dy, x0 + dx: x1 + dx]
                xr = xs[c, y, x0: x1]
                xd = xs[c, y + dy, x0 + dx: x1 + dx]
                for i in range(n):
                    nr[i] += k[i] * xd[i]
                for i in range(n):
                    ns[i] += k[i] * xr[i]
