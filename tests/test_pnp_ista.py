"""PnP-ISTA (pnp_lessons.solvers.pnp_ista) in the iterate protocol."""

from __future__ import annotations

import pytest
import torch

from pnp_lessons.analysis import fixed_point, spectral_radius, system_matrix
from pnp_lessons.denoisers.nlm import NLM, nlm_weights
from pnp_lessons.operators import Blur, Denoising, Inpainting, uniform_kernel
from pnp_lessons.solvers.base import run
from pnp_lessons.denoisers.tv import TVDenoiser
from pnp_lessons.solvers.pnp_ista import default_guide, masked_median, pnp_ista


def _scene(H=24, W=24):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    x = 0.5 + 0.3 * torch.sin(5 * xx + 2 * yy) + 0.15 * (xx > 0.5).float()
    return x[None, None].float()


def _inpainting_problem(ratio=0.6, sigma=0.02):
    x = _scene()
    op = Inpainting(ratio=ratio, seed=1)
    y = op.observe(x, sigma, seed=2)
    return x, op, y


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
def test_fixed_W_inpainting_converges_to_the_fixed_point(gamma):
    x, op, y = _inpainting_problem()
    cfg = NLM(patch_size=3, window=5, h=0.1)
    guide = default_guide(op, y)
    res = run(pnp_ista(op, y, cfg, gamma=gamma, ref=x, tol=1e-6, max_iter=3000))
    assert res.status == "converged", res.message
    assert res.last.info["rel_residual"] < 1e-6
    # Theorem 1: the limit is x* = (I − P)⁻¹ q with P, q of eq. (4)
    W = cfg.weights(guide)
    x_star = fixed_point(W, op, y, gamma)
    assert (res.x.double() - x_star).abs().max() < 1e-4
    assert spectral_radius(system_matrix(W, op, gamma)) < 1
    psnrs = res.curve("psnr")
    assert all(p is not None for p in psnrs) and psnrs[-1] > 20


def test_unstable_gamma_diverges_and_says_so():
    x, op, y = _inpainting_problem()
    cfg = NLM(patch_size=3, window=5, h=0.1)
    W = cfg.weights(default_guide(op, y))
    gamma = 5.0   # this smooth W is stable up to γ ≈ 3.4 (see largest_stable_gamma), not just 2
    assert spectral_radius(system_matrix(W, op, gamma)) > 1
    res = run(pnp_ista(op, y, cfg, gamma=gamma, ref=x, max_iter=2000))
    assert res.status == "diverged"
    assert "diverged" in res.message and "γ" in res.message
    assert torch.isfinite(res.x).all()


def test_adaptive_modes_record_which_weights():
    x, op, y = _inpainting_problem()
    cfg = NLM(patch_size=3, window=5, h=0.1)
    res = run(pnp_ista(op, y, cfg, gamma=0.9, ref=x, mode="adaptive_then_fixed", adapt_steps=3, max_iter=8, tol=0))
    assert [h["weights"] for h in res.history] == ["adaptive"] * 3 + ["fixed"] * 5
    res = run(pnp_ista(op, y, cfg, gamma=0.9, ref=x, mode="adaptive", max_iter=4, tol=0))
    assert [h["weights"] for h in res.history] == ["adaptive"] * 4
    assert res.status == "max_iter" and res.history[0]["gamma"] == 0.9


def test_first_step_is_denoised_gradient_step():
    x, op, y = _inpainting_problem()
    Wk = nlm_weights(x, patch_size=3, window=5, h=0.1)
    x0 = torch.full_like(x, 0.5)
    it = next(pnp_ista(op, y, Wk, gamma=0.7, x0=x0))
    expected = Wk.apply(x0 - 0.7 * op.A_adjoint(op.A(x0) - y))       # eq. (3) with prox -> W
    assert torch.allclose(it.x, expected, atol=1e-6)
    # the identity "denoiser" gives plain gradient descent (Landweber)
    it = next(pnp_ista(op, y, lambda z: z, gamma=0.7, x0=x0))
    assert torch.allclose(it.x, x0 - 0.7 * op.A_adjoint(op.A(x0) - y))


def test_tv_denoiser_is_ista_and_deblurring_runs():
    x = _scene()
    op = Blur(uniform_kernel(3))
    y = op.observe(x, 0.01, seed=0)
    res = run(pnp_ista(op, y, TVDenoiser(lam=0.01), gamma=1.0, ref=x, max_iter=30, tol=0))
    assert res.iterations == 30 and res.last.psnr > 25
    res = run(pnp_ista(op, y, NLM(patch_size=3, window=5, h=0.05), gamma=1.9, ref=x, max_iter=300, tol=1e-6))
    assert res.status == "converged" and res.last.psnr > 25


def test_masked_median():
    y = torch.zeros(1, 1, 9, 9)
    m = torch.zeros(1, 1, 9, 9)
    y[0, 0, 0, 0], m[0, 0, 0, 0] = 0.7, 1      # one observed pixel: every window grows until it sees it
    out = masked_median(y, m, size=3)
    assert torch.allclose(out, torch.full_like(out, 0.7))
    with pytest.raises(ValueError, match="mask has no observed pixel"):
        masked_median(y, torch.zeros_like(m))
    with pytest.raises(ValueError, match="size must be a positive odd integer"):
        masked_median(y, m, size=4)


def test_bad_arguments():
    x, op, y = _inpainting_problem()
    with pytest.raises(ValueError, match="gamma"):
        next(pnp_ista(op, y, NLM(3, 5, 0.1), gamma=0.0))
    with pytest.raises(ValueError, match="mode must be one of"):
        next(pnp_ista(op, y, NLM(3, 5, 0.1), mode="sometimes"))
    with pytest.raises(ValueError, match="needs an NLM configuration"):
        next(pnp_ista(op, y, lambda z: z, mode="adaptive"))
    with pytest.raises(ValueError, match="KernelWeights are for size"):
        next(pnp_ista(op, y, nlm_weights(torch.rand(8, 8), 3, 3, 0.1)))
    with pytest.raises(TypeError, match="op must be a pnp_lessons.operators.Operator"):
        next(pnp_ista("blur", y))
    with pytest.raises(ValueError, match="adapt_steps"):
        next(pnp_ista(Denoising(), y, NLM(3, 5, 0.1), mode="adaptive_then_fixed", adapt_steps=-1))
