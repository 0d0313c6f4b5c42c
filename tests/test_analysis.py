"""Convergence analysis of PnP-ISTA with a fixed W (pnp_lessons.analysis), mirroring the paper's theory."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pnp_lessons.analysis import (ata_matrix, check_assumption_2, gershgorin, inpainting_inf_norm,
                                  largest_stable_gamma, rho_vs_gamma, spectral_radius, system_matrix,
                                  theorem5_bound)
from pnp_lessons.denoisers.nlm import nlm_weights
from pnp_lessons.operators import Blur, Denoising, Inpainting, SuperResolution, gaussian_kernel, uniform_kernel
from pnp_lessons.solvers.base import run
from pnp_lessons.solvers.pnp_ista import pnp_ista

H = W = 16


def _guide(seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    return (0.5 + 0.3 * torch.sin(7 * xx) * torch.cos(5 * yy) + 0.05 * torch.randn(H, W, generator=g))[None, None]


def _sharp_W():
    """A sharp W (small h): close to the NLM of the paper, far from a box average."""
    return nlm_weights(_guide(), patch_size=3, window=5, h=0.05)


def _dense(P):
    return np.abs(np.linalg.eigvals(P.toarray())).max()


@pytest.mark.parametrize("op", [Inpainting(ratio=0.7, seed=0), Blur(uniform_kernel(3))], ids=["inpaint", "deblur"])
@pytest.mark.parametrize("gamma", [0.5, 1.9])
def test_arpack_and_power_match_dense_eigvals(op, gamma):
    P = system_matrix(_sharp_W(), op, gamma)
    ref = _dense(P)
    rho, info = spectral_radius(P, return_info=True)
    assert info["method"] == "arpack" and abs(rho - ref) < 1e-7
    assert abs(spectral_radius(P, method="power") - ref) < 1e-3
    assert abs(spectral_radius(P, method="dense") - ref) < 1e-12


def test_operator_form_and_ata_matrices():
    Wk = _sharp_W()
    v = np.random.default_rng(0).standard_normal(H * W)
    for op in (Inpainting(ratio=0.5, seed=3), Blur(uniform_kernel(4)), Blur(gaussian_kernel(5, 1.0)), Denoising(),
               SuperResolution(gaussian_kernel(3, 0.8), factor=2)):
        M = ata_matrix(op, (H, W))
        x = torch.from_numpy(v.reshape(1, 1, H, W))
        assert np.allclose(M @ v, op.AtA(x).numpy().ravel(), atol=1e-9), op
        if isinstance(op, SuperResolution):
            continue
        P = system_matrix(Wk, op, 0.8)
        Pop = system_matrix(Wk, op, 0.8, as_operator=True)
        assert np.allclose(P @ v, Pop.matvec(v), atol=1e-12)


def test_inpainting_theory_assumption_rho_gershgorin_and_convergence():
    """Windows that each see an observed pixel: Prop. 3 -> Assumption 2(iii); Theorem 5 -> γ < 1 converges."""
    Wk = _sharp_W()
    op = Inpainting(ratio=0.7, seed=0)
    mask = op.mask_for(torch.zeros(1, 1, H, W))
    rep = check_assumption_2(Wk, op)
    assert rep.holds and rep.i_holds and rep.ii_holds and rep.iii_holds, rep.message
    assert np.all(rep.outside == 0) and np.all(rep.inside > 0)     # proof of Prop. 3: Q_ij = W_ij m_j
    assert theorem5_bound(Wk, op) == 1.0
    x = _guide(1)
    y = op.observe(x, 0.01, seed=0)
    for gamma in (0.1, 0.5, 0.9):
        P = system_matrix(Wk, op, gamma)
        assert spectral_radius(P) < 1
        G = gershgorin(P)
        assert G.all_inside and G.max_reach <= inpainting_inf_norm(Wk, op, gamma) + 1e-12
        res = run(pnp_ista(op, y, Wk, gamma=gamma, x0=y, tol=1e-6, max_iter=5000))
        assert res.status == "converged" and res.last.info["rel_residual"] < 1e-6
    assert mask.sum() > 0


def test_inf_norm_bound_extends_to_gamma_below_two():
    """‖P‖_∞ = max_i 1 − (1 − |1 − γ|) s_i < 1 on (0, 2): ρ(P) < 1 there, beyond Theorem 5's γ < 1."""
    Wk = _sharp_W()
    op = Inpainting(ratio=0.7, seed=0)
    for gamma in (1.2, 1.6, 1.99):
        bound = inpainting_inf_norm(Wk, op, gamma)
        P = system_matrix(Wk, op, gamma)
        assert bound < 1 and spectral_radius(P) <= bound + 1e-6
        assert abs(bound - abs(P).sum(axis=1).max()) < 1e-6     # the bound is computed in float32
        assert gershgorin(P).all_inside
    assert inpainting_inf_norm(Wk, op, 2.1) > 1
    assert largest_stable_gamma(Wk, op, hi=6.0, tol=1e-2) >= 1.99


def test_unobserved_hole_breaks_assumption_2():
    Wk = _sharp_W()
    m = torch.ones(H, W)
    m[3:11, 4:12] = 0                                   # an 8×8 hole: window 5 around its centre sees nothing
    op = Inpainting(mask=m)
    rep = check_assumption_2(Wk, op)
    assert not rep.iii_holds and not rep.holds and "(iii) fails" in rep.message
    expected = [y * W + x for y in range(5, 9) for x in range(6, 10)]   # pixels whose whole window is missing
    assert sorted(rep.failing_rows.tolist()) == expected
    assert theorem5_bound(Wk, op) == 0.0
    # Assumption 2 is sufficient, not necessary: the hole's rows reach observed pixels through chains of
    # overlapping windows, so here ρ(P) < 1 all the same
    assert spectral_radius(system_matrix(Wk, op, 0.5), method="dense") < 1


def test_rho_above_one_makes_pnp_ista_diverge():
    Wk = _sharp_W()
    op = Inpainting(ratio=0.7, seed=0)
    g_max = largest_stable_gamma(Wk, op, hi=6.0, tol=1e-2)
    gamma = g_max + 0.5
    assert spectral_radius(system_matrix(Wk, op, gamma)) > 1
    x = _guide(1)
    y = op.observe(x, 0.01, seed=0)
    res = run(pnp_ista(op, y, Wk, gamma=gamma, x0=y, ref=x, max_iter=3000))
    assert res.status == "diverged" and "diverged" in res.message


def test_deblurring_rho_vs_gamma_is_reported():
    """No theorem for deblurring (Assumption 2(iii) is not known to hold): the curve is just reported."""
    Wk = _sharp_W()
    op = Blur(uniform_kernel(3))
    gammas = [0.5, 1.0, 1.5, 2.0, 2.5]
    rho = rho_vs_gamma(Wk, op, gammas)
    assert rho.shape == (5,) and np.all(np.isfinite(rho))
    assert rho[0] < 1 + 1e-9
    rep = check_assumption_2(Wk, op)
    assert rep.i_holds and rep.ii_holds                     # non-negative kernel: (ii) holds
    assert len(rep.inside) == H * W


def test_bad_inputs():
    Wk = _sharp_W()
    with pytest.raises(ValueError, match="more than max_pixels"):
        system_matrix(Wk, Denoising(), 0.5, max_pixels=100)
    with pytest.raises(ValueError, match=r"gamma \(the step size γ\) must be a finite number >= 0"):
        system_matrix(Wk, Denoising(), -1.0)
    with pytest.raises(TypeError, match="W must be a KernelWeights"):
        system_matrix(np.eye(4), Denoising(), 0.5)
    with pytest.raises(TypeError, match="theorem5_bound is for inpainting"):
        theorem5_bound(Wk, Denoising())
    with pytest.raises(ValueError, match="P must be square"):
        spectral_radius(np.ones((2, 3)))
    with pytest.raises(ValueError, match="method must be"):
        spectral_radius(np.eye(3), method="qr")
    with pytest.raises(ValueError, match="need 0 <= lo < hi"):
        largest_stable_gamma(Wk, Denoising(), lo=2, hi=1)
    assert gershgorin(sp.identity(3)).all_inside is False


def test_gershgorin_decides_in_float64_with_a_tolerance():
    """80 % missing and a 3×3 window: some windows see no observed pixel, so Assumption 2(iii) fails on their rows
    and their discs reach the unit circle exactly (|P_ii| + R_i = 1). In float32 W those reaches compute as
    1 ± 1e-7, about half of them below 1; the test must call them undecided, never inside."""
    from pnp_lessons.images import sample

    Wk = nlm_weights(sample("camera", size=24, grey=True), 3, 3, 30 / 255)
    op = Inpainting(ratio=0.8, seed=0)
    rep = check_assumption_2(Wk, op)
    assert not rep.iii_holds and len(rep.failing_rows) > 0
    S32 = Wk.to_sparse().astype(np.float32)             # the float32 weights as computed
    P32 = S32 - 0.9 * (S32 @ ata_matrix(op, Wk.shape).astype(np.float32))
    reach32 = np.asarray(abs(P32).sum(axis=1)).ravel()
    assert (reach32[rep.failing_rows] < 1).any()        # what a bare `reach < 1` test would have called inside
    assert not gershgorin(P32).inside[rep.failing_rows].any()      # float32 P: tolerance 1e-6
    P = system_matrix(Wk, op, 0.9)                      # float64, rows of W renormalised
    G = gershgorin(P)
    assert not G.all_inside
    assert not G.inside[rep.failing_rows].any() and G.undecided[rep.failing_rows].all()
    # rows that do see an observed pixel are inside at γ = 0.9 (eq. (7): 1 − γ·(observed weight) < 1)
    ok = np.setdiff1d(np.arange(Wk.n), rep.failing_rows)
    assert G.inside[ok].all()


def test_rho_equal_to_one_with_convergent_iterates():
    """Theorem 1 is sufficient, not necessary: a closed set of unobserved pixels (rows of W that only reach
    unobserved pixels) gives P the eigenvalue 1 — ρ(P) = 1 — yet the iterates converge."""
    g = torch.zeros(1, 1, H, W)
    g[..., W // 2:] = 1.0                                   # two flat halves; with h = 0.03 the weights between
    Wk = nlm_weights(g, patch_size=1, window=5, h=0.03)     # them underflow to 0: each half is closed under W
    m = torch.ones(H, W)
    m[:, W // 2:] = 0                                        # the right half is unobserved
    op = Inpainting(mask=m)
    P = system_matrix(Wk, op, 0.9)
    assert abs(spectral_radius(P, method="dense") - 1) < 1e-6
    x = torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(0))
    y = op.observe(x, 0.0)
    res = run(pnp_ista(op, y, Wk, gamma=0.9, x0=torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(1)),
                       max_iter=5000, tol=1e-7))
    assert res.status == "converged", res.message


def test_dsg_nlm_is_symmetric_doubly_stochastic_but_not_psd_with_a_window():
    """Lesson 04: the symmetrised NLM of the lesson (camera 64², noise 20/255, patch 5, window 11, h = 30/255) is
    symmetric and doubly stochastic, its eigenvalues lie in [−1, 1] but not in [0, 1] (λ_min ≈ −0.19), so it is
    the prox of no convex function; with a window covering the whole image it is positive semidefinite."""
    from pnp_lessons.analysis import eigenvalue_range
    from pnp_lessons.lessons.l04_kernel_denoisers.compute import noisy_sample

    _, y = noisy_sample("camera", size=64, noise255=20)
    Ws = nlm_weights(y, patch_size=5, window=11, h=30 / 255).symmetrize()
    S = Ws.to_sparse()
    assert abs(S - S.T).max() < 1e-9
    assert np.allclose(np.asarray(S.sum(axis=0)).ravel(), 1, atol=1e-5)
    assert np.allclose(np.asarray(S.sum(axis=1)).ravel(), 1, atol=1e-5)
    lo, hi = eigenvalue_range(Ws)
    assert -1 <= lo < -0.15 and abs(hi - 1) < 1e-6
    lo_full, _ = eigenvalue_range(nlm_weights(y[..., :12, :12], patch_size=5, window=23, h=30 / 255).symmetrize())
    assert lo_full >= -1e-8


@pytest.mark.slow
def test_lesson05_explorer_numbers_at_its_128_size():
    """What lesson 05 says of its explorer (128² camera, 80 % missing, noise 10/255, W fixed): with h·255 = 20,
    ρ(P) = 1 − 1.5e-4 at γ = 0.9 and the run does not reach its tolerance in 150 iterations, while γ = 2.1
    diverges (ρ ≈ 1.10); with h·255 = 30, ρ(P) ≈ 0.945 and both γ = 0.9 and γ = 2.1 converge."""
    from pnp_lessons.denoisers.nlm import NLM
    from pnp_lessons.lessons.l05_pnp_ista_convergence import compute as C

    pb = C.make_problem("inpaint", size=128)
    seen = {}
    for h, g in [(20, 0.9), (20, 2.1), (30, 0.9), (30, 2.1)]:
        W = nlm_weights(pb.x0, C.NLM_PATCH, C.NLM_WINDOW, h=h / 255)
        rho = spectral_radius(system_matrix(W, pb.op, g, max_pixels=128 * 128))
        res = run(pnp_ista(pb.op, pb.y, NLM(C.NLM_PATCH, C.NLM_WINDOW, h=h / 255), gamma=g, x0=pb.x0, guide=pb.x0,
                           ref=pb.x_true, mode="fixed", max_iter=150, tol=1e-7))
        seen[h, g] = (rho, res.status)
    assert 1 - seen[20, 0.9][0] == pytest.approx(1.5e-4, abs=0.05e-4) and seen[20, 0.9][1] == "max_iter"
    assert seen[20, 2.1][0] == pytest.approx(1.10, abs=0.01) and seen[20, 2.1][1] == "diverged"
    for g in (0.9, 2.1):
        assert seen[30, g][0] == pytest.approx(0.945, abs=0.002) and seen[30, g][1] == "converged"
