"""GS-PnP (Hurault et al. 2022): F decreases, iterates settle, too large a τ is caught and explained."""

import pytest
import torch

from pnp_lessons.images import sample
from pnp_lessons.operators import Blur, Inpainting, SuperResolution, gaussian_kernel, motion_kernel
from pnp_lessons.metrics import psnr
from pnp_lessons.solvers import fista, gs_pnp, pnp_hqs, run
from pnp_lessons.solvers.gs_pnp import StartMemo, potential_and_grad, preset


@pytest.fixture(scope="module")
def D():
    from pnp_lessons.denoisers.weights import load_denoiser

    return load_denoiser("gsdrunet-small-grey", device="cpu")


@pytest.fixture(scope="module")
def image():
    return sample("camera", size=96, grey=True)


def monotone(F, rtol=1e-6):
    return all(b <= a + rtol * abs(a) for a, b in zip(F, F[1:], strict=False))


def test_deblurring_decreases_F_and_settles(D, image):
    op = Blur(motion_kernel(9, seed=1))
    y = op.observe(image, 7.65 / 255, seed=0)
    res = run(gs_pnp(op, y, D, ref=image, **preset("deblur-motion", 7.65 / 255, max_iter=60)))
    F = res.curve("objective")
    assert monotone(F), F
    r = res.curve("residual")
    assert r[-1] < 0.1 * r[0]
    assert res.status in ("converged", "max_iter") and res.last.info["F_increases"] == 0


def test_super_resolution_decreases_F(D, image):
    op = SuperResolution(gaussian_kernel(7, 1.2), 2)
    y = op.observe(image, 2.55 / 255, seed=0)
    res = run(gs_pnp(op, y, D, ref=image, **preset("sr", 2.55 / 255, max_iter=40)))
    assert monotone(res.curve("objective"))
    assert res.history[-1]["psnr"] > psnr(op.bicubic_up(y), image)


def test_backtracking_rejects_trials_when_tau_is_too_large(D, image):
    op = Blur(gaussian_kernel(9, 1.6))
    y = op.observe(image, 2.55 / 255, seed=0)
    res = run(gs_pnp(op, y, D, sigma=2 * 2.55 / 255, lam=0.075, tau=200.0, max_iter=15, tol=0))
    assert res.last.info["rejected_total"] > 0
    assert monotone(res.curve("objective"))
    assert "backtracking trials rejected" in res.message


def test_without_backtracking_too_large_tau_increases_F_and_says_so(D, image):
    op = Blur(gaussian_kernel(9, 1.6))
    y = op.observe(image, 2.55 / 255, seed=0)
    res = run(gs_pnp(op, y, D, sigma=2 * 2.55 / 255, lam=0.075, tau=200.0, max_iter=15, tol=0,
                     backtracking=False))
    F = res.curve("objective")
    assert not monotone([f for f in F if f is not None])
    assert "F increased" in res.message and "Theorem 1" in res.message


def test_result_beats_observation_and_tv_fista(D, image):
    op = Blur(gaussian_kernel(9, 1.6))
    y = op.observe(image, 7.65 / 255, seed=0)
    res = run(gs_pnp(op, y, D, ref=image, **preset("deblur-gaussian", 7.65 / 255, max_iter=80)))
    z = res.last.info["z"]
    tv = max(run(fista(op, y, lam=lam, ref=image, max_iter=80)).history[-1]["psnr"] for lam in (0.005, 0.01, 0.02))
    assert psnr(z, image) > psnr(y, image) + 2
    assert psnr(z, image) > tv


def test_z_is_the_gradient_step_of_the_last_x(D, image):
    op = Inpainting(ratio=0.5, seed=0)
    y = op.observe(image, 0.0)
    res = run(gs_pnp(op, y, D, ref=image, **preset("inpainting", max_iter=12)))
    assert res.iterations == 12 and res.history[0]["sigma"] == pytest.approx(50 / 255)
    assert res.history[-1]["sigma"] == pytest.approx(10 / 255)
    assert psnr(res.x, image) > psnr(y + 0.5 * (1 - op.mask_for(y)), image) + 3


def test_noise_free_inpainting_keeps_the_observed_pixels_exactly(D, image):
    """The reference's hard data constraint for noise-free inpainting: x = m·y + (1 − m)·z, so f(x) = 0."""
    op = Inpainting(ratio=0.5, seed=0)
    y = op.observe(image, 0.0)
    p = preset("inpainting", 0.0, max_iter=12)
    assert p["hard_data"] is True and preset("inpainting", 5 / 255)["hard_data"] is False
    res = run(gs_pnp(op, y, D, ref=image, **p))
    m = op.mask_for(y)
    assert torch.equal(m * res.x, m * y) and res.history[-1]["f"] == 0.0
    with pytest.raises(ValueError, match="hard_data=True is for inpainting"):
        next(gs_pnp(Blur(gaussian_kernel(5, 1.0)), image, D, sigma=0.02, lam=0.1, hard_data=True))


def test_reported_z_is_the_denoised_last_x(D, image):
    """info['z'] of a record is z_k = x_k − τλ∇g_σ(x_k) at that record's x_k: D_σ(x_k) when τλ = 1, the image the
    reference returns; info['psnr_z'] is its PSNR."""
    op = Blur(gaussian_kernel(7, 1.2))
    y = op.observe(image, 0.02, seed=1)
    res = run(gs_pnp(op, y, D, sigma=0.04, lam=0.1, ref=image, max_iter=4, tol=0, backtracking=False))
    with torch.no_grad():
        assert torch.allclose(res.last.info["z"], D.denoise(res.x, 0.04), atol=1e-5)
    assert res.history[-1]["psnr_z"] == pytest.approx(psnr(res.last.info["z"], image))


def test_a_run_past_the_precision_of_F_stops_cleanly(D):
    """Run on with tol = 0: once F changes by less than its rounding the Armijo test fails on noise. The solver
    stops, says F is stationary to its precision, and returns finite images (before, τ shrank towards 0 and the
    prox divided by it: NaN after ~50 iterations on this problem, the playground's default deblurring)."""
    x = sample("camera", size=128, grey=True)
    op = Blur(gaussian_kernel(9, 1.6))
    y = op.observe(x, 10 / 255, seed=0)
    res = run(gs_pnp(op, y, D, ref=x, **preset("deblur-gaussian", 10 / 255, tol=0.0, max_iter=400)))
    assert res.status == "converged" and "precision of F" in res.message, res.message
    assert res.iterations < 400 and torch.isfinite(res.x).all() and torch.isfinite(res.last.info["z"]).all()
    assert monotone(res.curve("objective"), rtol=1e-6)
    assert res.history[-1]["tau"] > 1e-3 / 0.075


def test_potential_and_grad_matches_the_denoiser(D, image):
    g, dg = potential_and_grad(D, image, 0.05)
    with torch.no_grad():
        assert torch.allclose(image - dg, D.denoise(image, 0.05), atol=1e-5)
    assert g.shape == (1,) and float(g) >= 0


def test_the_start_memo_saves_passes_and_changes_no_iterate(D, image):
    """The playground's cache (StartMemo): after a λ move the run restarts from the same x₀ with the same σ and
    reuses g_σ(x₀), ∇g_σ(x₀); every iterate equals a run without it, and σ or x₀ changes are not confused."""
    op = Inpainting(ratio=0.5, seed=0)
    y = op.observe(image, 10 / 255, seed=0)
    passes = []

    class Counting:
        def potential(self, x, sigma):
            passes.append(1)
            return D.potential(x, sigma)

    memo = StartMemo(Counting())
    # a first run (1 pass at x₀ + 4 iterations), two λ moves (x₀ remembered), a σ move (not)
    for lam, sigma, expected in [(0.1, 0.06, 5), (0.15, 0.06, 4), (0.1, 0.06, 4), (0.1, 0.07, 5)]:
        plain = run(gs_pnp(op, y, D, sigma=sigma, lam=lam, ref=image, max_iter=4, tol=0))
        passes.clear()
        cached = run(gs_pnp(op, y, memo, sigma=sigma, lam=lam, ref=image, max_iter=4, tol=0))
        assert torch.equal(plain.x, cached.x) and plain.curve("objective") == cached.curve("objective")
        assert len(passes) == expected, (lam, sigma, len(passes))


def test_pnp_hqs_with_gs_denoiser_equals_gs_pnp_without_backtracking(D, image):
    op = Blur(gaussian_kernel(7, 1.2))
    y = op.observe(image, 0.01, seed=1)
    lam, s = 0.1, 0.02
    a = run(gs_pnp(op, y, D, sigma=s, lam=lam, max_iter=5, tol=0, backtracking=False))
    b = run(pnp_hqs(op, y, lambda x: D.denoise(x, s), tau=1 / lam, x0=op.prox_data(y, y, 1 / lam), max_iter=5, tol=0))
    assert torch.allclose(a.x, b.x, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(sigma=-1.0, lam=0.1), "sigma must be a finite number > 0"),
    (dict(sigma=0.02, lam=float("nan")), "lam must be"),
    (dict(sigma=0.02, lam=0.1, eta=1.5), "eta must be in (0, 1)"),
])
def test_argument_errors(D, image, kwargs, message):
    with pytest.raises(ValueError) as e:
        next(gs_pnp(Blur(gaussian_kernel(5, 1.0)), image, D, **kwargs))
    assert message in str(e.value)


def test_preset_errors():
    with pytest.raises(ValueError, match="task must be one of"):
        preset("denoise-everything")


@pytest.mark.cuda
def test_gs_pnp_cuda_matches_cpu(D, image):
    op = Blur(gaussian_kernel(7, 1.2))
    y = op.observe(image, 0.01, seed=1)
    cpu = run(gs_pnp(op, y, D, sigma=0.02, lam=0.1, max_iter=3, tol=0)).x
    Dg = type(D)(D.net).to("cuda").eval()
    gpu = run(gs_pnp(op, y.cuda(), Dg, sigma=0.02, lam=0.1, max_iter=3, tol=0)).x
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)
