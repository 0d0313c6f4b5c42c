"""NLM as an explicit kernel denoiser W = D⁻¹K (pnp_lessons.denoisers.nlm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pnp_lessons.denoisers import nlm as nlm_module
from pnp_lessons.denoisers.nlm import KernelWeights, NLM, nlm_apply, nlm_backend, nlm_denoise, nlm_weights


def _img(H=20, W=17, C=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    base = (0.5 + 0.4 * torch.sin(6 * xx) * torch.cos(4 * yy))[None].repeat(C, 1, 1)
    return (base + 0.1 * torch.randn((C, H, W), generator=g))[None]


def _valid_mask(window, H, W):
    """Expected support: offset o at pixel (y, x) is inside the window iff (y+dy, x+dx) is in the image."""
    r = window // 2
    m = torch.zeros(window * window, H, W, dtype=torch.bool)
    for o in range(window * window):
        dy, dx = o // window - r, o % window - r
        m[o, max(0, -dy): H - max(0, dy), max(0, -dx): W - max(0, dx)] = True
    return m


def _brute_force_K(g, p, window, h, sigma=None):
    """K from its definition, pair by pair, in float64 (reflect-padded patches, in-image window)."""
    C, H, W = g.shape
    lo, hi = (p - 1) // 2, p // 2
    gp = np.pad(g.double().numpy(), ((0, 0), (lo, hi), (lo, hi)), mode="reflect")
    r = window // 2
    n = H * W
    K = np.zeros((n, n))
    for y in range(H):
        for x in range(W):
            P1 = gp[:, y: y + p, x: x + p]
            for y2 in range(max(0, y - r), min(H, y + r + 1)):
                for x2 in range(max(0, x - r), min(W, x + r + 1)):
                    d2 = ((P1 - gp[:, y2: y2 + p, x2: x2 + p]) ** 2).mean()
                    if sigma:
                        d2 = max(d2 - 2 * sigma ** 2, 0)
                    K[y * W + x, y2 * W + x2] = math.exp(max(-d2 / h ** 2, -80))
    return K


@pytest.mark.parametrize("C", [1, 3])
def test_rows_sum_to_one_and_support_is_the_window(C):
    g = _img(C=C)
    Wk = nlm_weights(g, patch_size=5, window=7, h=0.15)
    assert (Wk.weights.sum(0) - 1).abs().max() < 1e-6
    assert torch.equal(Wk.weights > 0, _valid_mask(7, 20, 17))     # Assumption 2(i), even in float32
    assert Wk.weights.dtype == torch.float32 and Wk.weights.shape == (49, 20, 17)


@pytest.mark.parametrize("p,sigma", [(3, None), (4, None), (5, 0.05)])
def test_matches_the_definition(p, sigma):
    g = _img(9, 8, seed=1)[0]
    h = 0.2
    K = _brute_force_K(g, p, 5, h, sigma)
    W_ref = K / K.sum(1, keepdims=True)
    Wk = nlm_weights(g, patch_size=p, window=5, h=h, sigma=sigma)
    assert np.abs(Wk.to_sparse().toarray() - W_ref).max() < 1e-5
    assert np.abs(Wk.to_sparse(which="K").toarray() - K).max() < 1e-5


def test_K_symmetric_W_not():
    Wk = nlm_weights(_img(), patch_size=5, window=7, h=0.15)
    K = Wk.to_sparse(which="K")
    W = Wk.to_sparse()
    assert abs(K - K.T).max() <= 1e-6 * abs(K).max()
    assert abs(W - W.T).max() > 1e-3                                 # row-stochastic, not symmetric
    assert np.allclose(np.asarray(W.sum(1)).ravel(), 1, atol=1e-6)
    assert not np.allclose(np.asarray(W.sum(0)).ravel(), 1, atol=1e-3)


def test_dsg_nlm_symmetric_doubly_stochastic():
    Wk = nlm_weights(_img(), patch_size=5, window=7, h=0.15)
    S = Wk.symmetrize()
    assert S.symmetric and (S.weights > 0).equal(Wk.weights > 0)
    M = S.to_sparse()
    assert abs(M - M.T).max() < 1e-7
    assert np.abs(np.asarray(M.sum(1)).ravel() - 1).max() < 1e-6
    assert np.abs(np.asarray(M.sum(0)).ravel() - 1).max() < 1e-6
    assert S.symmetrize() is S


def test_apply_equals_sparse_matvec_grey_colour_batch():
    g = _img(C=3)
    Wk = nlm_weights(g, patch_size=3, window=5, h=0.2)
    x = torch.rand(2, 3, 20, 17, generator=torch.Generator().manual_seed(3))
    out = Wk.apply(x)
    M = Wk.to_sparse()
    for b in range(2):
        for c in range(3):
            ref = M @ x[b, c].double().numpy().ravel()
            assert np.abs(out[b, c].double().numpy().ravel() - ref).max() < 1e-5
    v = x[0, 0].double().numpy().ravel()
    assert np.allclose(Wk.matvec(v), M @ v, atol=1e-5)


@pytest.mark.parametrize("p,C,sigma", [(7, 1, 0.1), (6, 1, None), (3, 3, 0.05)])
def test_streaming_equals_stored(p, C, sigma):
    x = _img(33, 29, C=C, seed=4)
    a = nlm_apply(x, patch_size=p, window=9, h=0.2, sigma=sigma)
    b = nlm_weights(x, patch_size=p, window=9, h=0.2, sigma=sigma).apply(x)
    assert (a - b).abs().max() < 1e-5
    c = nlm_apply(x, patch_size=p, window=9, h=0.2, sigma=sigma, threads=2)
    assert (a - c).abs().max() < 1e-6


def test_row_map_and_window_larger_than_image():
    g = _img(6, 5)
    Wk = nlm_weights(g, patch_size=3, window=21, h=0.3)        # the window covers the whole image
    assert (Wk.weights.sum(0) - 1).abs().max() < 1e-6
    m = Wk.row(2, 3)
    assert m.shape == (6, 5) and bool((m > 0).all())
    assert torch.allclose(m.reshape(-1).double(), torch.from_numpy(Wk.to_sparse()[2 * 5 + 3].toarray().ravel()))


def test_nlm_denoise_improves_and_nlm_config():
    g = torch.Generator().manual_seed(0)
    clean = _img(48, 48, seed=5).clamp(0, 1)
    clean = torch.nn.functional.avg_pool2d(clean, 3, 1, 1)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=g)
    from pnp_lessons.metrics import psnr

    den = nlm_denoise(noisy, 0.1, patch_size=5, window=11)
    assert psnr(den, clean) > psnr(noisy, clean) + 5
    cfg = NLM(patch_size=5, window=11, h=0.06, sigma=0.1)
    assert torch.allclose(cfg(noisy), nlm_apply(noisy, None, 5, 11, 0.06, 0.1))
    assert isinstance(cfg.weights(noisy), KernelWeights)


def test_nlm_denoise_default_h_depends_on_channels():
    """Grey images get h = 0.75 σ; colour ones an h / σ fitted on CBSD432 that narrows as σ grows."""
    g = torch.Generator().manual_seed(1)
    col = torch.rand(1, 3, 24, 24, generator=g)
    grey = col[:, :1]
    s = 25 / 255
    assert torch.equal(nlm_denoise(col, s, 5, 11), nlm_apply(col, None, 5, 11, 0.55 * s, s))
    assert torch.equal(nlm_denoise(grey, s, 5, 11), nlm_apply(grey, None, 5, 11, nlm_module.H_FACTOR * s, s))
    f = [nlm_module.colour_h_factor(v / 255) for v in (1, 5, 10, 15, 25, 50, 80)]
    assert f == sorted(f, reverse=True) and f[0] == f[1] == 0.85 and f[-1] == f[-2] == 0.45 and f[2] == 0.75


def test_bad_inputs_raise_clear_errors():
    g = _img(8, 8)
    with pytest.raises(ValueError, match="window must be a positive odd integer"):
        nlm_weights(g, window=4)
    with pytest.raises(ValueError, match="patch_size must be a positive integer"):
        nlm_weights(g, patch_size=0)
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        nlm_weights(g, h=0.0)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        nlm_weights(g, sigma=-1.0)
    with pytest.raises(ValueError, match="guide contains NaN"):
        nlm_weights(g * float("nan"))
    with pytest.raises(ValueError, match="guide must hold one image"):
        nlm_weights(torch.rand(2, 1, 8, 8))
    with pytest.raises(TypeError, match="guide must be a torch.Tensor"):
        nlm_weights([[0.0]])
    Wk = nlm_weights(g, patch_size=3, window=3, h=0.2)
    with pytest.raises(ValueError, match=r"x has size \(9, 9\) but the weights were built for \(8, 8\)"):
        Wk.apply(torch.rand(1, 1, 9, 9))
    with pytest.raises(ValueError, match="row index i must be an integer in"):
        Wk.row(8, 0)
    with pytest.raises(ValueError, match="more than max_pixels=16"):
        Wk.to_sparse(max_pixels=16)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        nlm_denoise(g, 0.0)
    with pytest.raises(ValueError, match="guide has size"):
        nlm_apply(g, torch.rand(1, 1, 7, 8))


# --------------------------------------------------------------------------- numba and torch backends
def _with_backend(monkeypatch, backend, fn, *args, **kw):
    monkeypatch.setenv("PNP_LESSONS_NLM_BACKEND", backend)
    assert nlm_backend("cpu") == backend
    return fn(*args, **kw)


@pytest.mark.parametrize("H,W,Cx,Cg,p,window,sigma", [
    (33, 29, 1, 1, 7, 9, None),       # odd sizes, grey, plain Gaussian kernel
    (33, 29, 1, 1, 7, 9, 0.1),        # with the 2σ² offset
    (20, 17, 3, 3, 5, 7, 0.05),       # colour guide and image
    (20, 17, 3, 1, 3, 7, None),       # grey guide, colour image
    (20, 17, 1, 3, 3, 7, 0.05),       # colour guide, grey image
    (24, 23, 1, 1, 6, 11, 0.1),       # even patch (spans −2 … 3)
    (18, 16, 1, 1, 4, 5, None),       # even patch, small window
    (6, 5, 1, 1, 3, 21, 0.05),        # window larger than the image in both directions
    (30, 8, 2, 1, 5, 21, None),       # W < window only
    (7, 40, 1, 1, 7, 21, 0.1),        # H < window only
    (1, 12, 1, 1, 3, 5, None),        # a single row
    (9, 1, 1, 1, 1, 5, None),         # a single column, 1 × 1 patch
])
def test_numba_matches_torch(monkeypatch, H, W, Cx, Cg, p, window, sigma):
    pytest.importorskip("numba")
    x = _img(H, W, C=Cx, seed=7).clamp(0, 1)
    g = _img(H, W, C=Cg, seed=8).clamp(0, 1)
    h = 0.15
    ref = _with_backend(monkeypatch, "torch", nlm_apply, x, g, p, window, h, sigma, threads=1)
    for threads in (1, 2):
        out = _with_backend(monkeypatch, "numba", nlm_apply, x, g, p, window, h, sigma, threads=threads)
        assert out.shape == ref.shape and out.dtype == ref.dtype
        assert (out - ref).abs().max() < 1e-5


def test_numba_matches_the_definition(monkeypatch):
    """Σ_j K_ij x_j / Σ_j K_ij with K from its definition (float64, pair by pair)."""
    pytest.importorskip("numba")
    g = _img(9, 8, seed=1)[0].clamp(0, 1)
    K = _brute_force_K(g, 4, 5, 0.2, 0.05)
    out = _with_backend(monkeypatch, "numba", nlm_apply, g[None], None, 4, 5, 0.2, 0.05)
    ref = K @ g.double().numpy().ravel() / K.sum(1)
    assert np.abs(out.double().numpy().ravel() - ref).max() < 1e-5


@pytest.mark.parametrize("sigma_scale", [0.6, 1.0])
def test_numba_matches_torch_nlm_denoise_and_cutoff(monkeypatch, sigma_scale):
    """nlm_denoise on a 64² noisy image (the realistic exponent range), with and without the
    exponent cut-off (exponents ≤ −CUTOFF set to EXP_FLOOR)."""
    pytest.importorskip("numba")
    sigma = 25 / 255
    clean = torch.nn.functional.avg_pool2d(_img(64, 64, seed=5).clamp(0, 1), 3, 1, 1)
    noisy = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    for cutoff in (None, 5.0):
        monkeypatch.setattr(nlm_module, "CUTOFF", cutoff)
        a = _with_backend(monkeypatch, "torch", nlm_denoise, noisy, sigma, h=sigma_scale * sigma, threads=1)
        b = _with_backend(monkeypatch, "numba", nlm_denoise, noisy, sigma, h=sigma_scale * sigma, threads=1)
        assert (a - b).abs().max() < 1e-5


def test_backend_selection(monkeypatch):
    monkeypatch.setenv("PNP_LESSONS_NLM_BACKEND", "torch")
    assert nlm_backend("cpu") == "torch"
    monkeypatch.setenv("PNP_LESSONS_NLM_BACKEND", "numba")
    assert nlm_backend("cuda") == "torch"            # numba is a CPU kernel: CUDA always uses torch
    monkeypatch.setenv("PNP_LESSONS_NLM_BACKEND", "fortran")
    with pytest.raises(ValueError, match="must be 'auto', 'numba' or 'torch'"):
        nlm_backend("cpu")
    monkeypatch.delenv("PNP_LESSONS_NLM_BACKEND")
    numba_ok = nlm_module._load_numba() is not None
    assert nlm_backend("cpu") == ("numba" if numba_ok else "torch")
    # numba missing: auto falls back to torch, forcing numba says why
    monkeypatch.setattr(nlm_module, "_numba_kernel", None)
    monkeypatch.setattr(nlm_module, "_numba_error", ImportError("No module named 'numba'"))
    assert nlm_backend("cpu") == "torch"
    x = _img(10, 10)
    assert (nlm_apply(x, patch_size=3, window=5, h=0.2) - x).abs().max() > 0
    monkeypatch.setenv("PNP_LESSONS_NLM_BACKEND", "numba")
    with pytest.raises(ImportError, match="numba cannot be imported"):
        nlm_apply(x, patch_size=3, window=5, h=0.2)


@pytest.mark.data
def test_quality_close_to_skimage_on_two_crops(data_root):
    """Cheap CI version of benchmarks/nlm.py --quality: two 96×96 Set12 crops at σ = 15 and 25.

    Same search window and the same 6×6 patch support as skimage's fast mode with patch_size=7;
    each method at its best h on a small grid; mean over the two crops within 0.1 dB or better."""
    from PIL import Image
    from skimage.restoration import denoise_nl_means

    crops = []
    for name, (y0, x0) in (("01", (60, 80)), ("08", (200, 220))):
        a = np.asarray(Image.open(data_root / "Set12" / f"{name}.png").convert("L"), dtype=np.float32) / 255
        crops.append(a[y0: y0 + 96, x0: x0 + 96])

    def ps(a, b):
        return 10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - b) ** 2))

    for s255 in (15, 25):
        sigma = s255 / 255
        rng = np.random.default_rng(s255)
        noisy = [(c + sigma * rng.standard_normal(c.shape)).astype(np.float32) for c in crops]
        ours = max(np.mean([ps(nlm_denoise(torch.from_numpy(y)[None, None], sigma, 6, 21, h=f * sigma)[0, 0], c)
                            for y, c in zip(noisy, crops, strict=False)]) for f in (0.7, 0.8, 0.9))
        peer = max(np.mean([ps(denoise_nl_means(y, patch_size=7, patch_distance=10, h=f * sigma, sigma=sigma,
                                                fast_mode=True), c) for y, c in zip(noisy, crops, strict=False)])
                   for f in (0.6, 0.7, 0.8))
        assert ours >= peer - 0.1, f"σ={s255}: ours {ours:.2f} dB vs skimage {peer:.2f} dB"


@pytest.mark.cuda
def test_cpu_and_cuda_agree():
    g = _img(40, 37, C=3)
    a = nlm_weights(g, patch_size=5, window=9, h=0.2, sigma=0.05)
    b = nlm_weights(g.cuda(), patch_size=5, window=9, h=0.2, sigma=0.05)
    assert (a.weights - b.weights.cpu()).abs().max() < 1e-5
    x = torch.rand(2, 3, 40, 37)
    assert (a.apply(x) - b.apply(x.cuda()).cpu()).abs().max() < 1e-5
    assert (nlm_apply(x, g, 5, 9, 0.2) - nlm_apply(x.cuda(), g.cuda(), 5, 9, 0.2).cpu()).abs().max() < 1e-5
