"""The x8 dihedral self-ensemble is still a gradient-step denoiser (ensemble.py)."""

import pytest
import torch

from pnp_lessons.denoisers.ensemble import (
    DIHEDRAL,
    DihedralGSDenoiser,
    dihedral_ensemble,
    inverse_transform,
    transform,
)
from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser, DRUNetLight, GSDenoiser

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_gs(channels=1, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return GSDenoiser(DRUNetLight(channels, (4, 6, 6, 8), 1).to(dtype)).eval()


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def test_the_eight_transforms_are_distinct_isometries_with_their_inverse():
    x = rand(1, 1, 5, 7)
    seen = set()
    for k, t in DIHEDRAL:
        y = transform(x, k, t)
        assert torch.equal(inverse_transform(y, k, t), x)
        assert torch.allclose(y.norm(), x.norm())  # a permutation of the pixels
        seen.add(tuple(y.flatten().tolist()))
    assert len(seen) == 8


@pytest.mark.parametrize("shape", [(2, 1, 8, 8), (1, 1, 9, 12), (1, 3, 8, 16)])
def test_ensemble_grad_matches_finite_differences_of_the_averaged_potential(shape, grad_matches_fd):
    grad_matches_fd(dihedral_ensemble(tiny_gs(shape[1])), rand(*shape), 0.1)


def test_ensemble_is_the_average_of_the_transformed_denoisings():
    D = tiny_gs()
    E = DihedralGSDenoiser(D)
    x = rand(1, 1, 12, 20)
    ref = sum(inverse_transform(D.denoise(transform(x, k, t), 0.05), k, t) for k, t in DIHEDRAL) / 8
    with torch.no_grad():  # and still right under no_grad
        y = E.denoise(x, 0.05)
    assert torch.allclose(y, ref, atol=1e-12)
    assert y.shape == x.shape and y.dtype == x.dtype and not y.requires_grad
    # the potential is the mean of the transformed potentials and the plain one is not symmetric
    assert torch.allclose(E.potential(x, 0.05),
                          sum(D.potential(transform(x, k, t), 0.05) for k, t in DIHEDRAL) / 8)
    assert not torch.allclose(D.denoise(x.flip(-1), 0.05), D.denoise(x, 0.05).flip(-1), atol=1e-6)


@pytest.mark.parametrize("k,t", DIHEDRAL)
def test_ensemble_is_equivariant_to_every_symmetry(k, t):
    E = dihedral_ensemble(tiny_gs())
    x = rand(2, 1, 8, 16, seed=3)
    lhs = E.denoise(transform(x, k, t), 0.08)
    rhs = transform(E.denoise(x, 0.08), k, t)
    assert torch.allclose(lhs, rhs, atol=1e-12)


def test_ensemble_gradient_is_no_more_lipschitz_than_the_base_on_sampled_pairs():
    # grad g_ens = 1/8 sum T^T grad g(T x): |grad g_ens(x) - grad g_ens(y)| <= max_k L_k |x - y|,
    # and each L_k is the base's constant along the transformed pair; check it pair by pair.
    D = tiny_gs(seed=2)
    E = dihedral_ensemble(D)
    for s in range(4):
        x, y = rand(1, 1, 8, 8, seed=10 + s), rand(1, 1, 8, 8, seed=20 + s)
        lhs = (E.grad(x, 0.1) - E.grad(y, 0.1)).norm()
        worst = max((D.grad(transform(x, k, t), 0.1) - D.grad(transform(y, k, t), 0.1)).norm()
                    for k, t in DIHEDRAL)
        assert lhs <= worst * (1 + 1e-12)


def test_ensemble_shares_the_weights_and_the_card():
    D = tiny_gs()
    D.card = {"name": "x"}
    E = DihedralGSDenoiser(D)
    assert E.net is D.net and E.card == {"name": "x"}


def test_ensemble_rejects_a_plain_denoiser_and_bad_input():
    with pytest.raises(TypeError, match="base must be a GSDenoiser"):
        DihedralGSDenoiser(DRUNetDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1)))
    E = dihedral_ensemble(tiny_gs())
    with pytest.raises(ValueError):
        E.denoise(torch.full((1, 1, 8, 8), float("nan"), dtype=torch.float64), 0.1)
    with pytest.raises(ValueError):
        E.denoise(rand(1, 1, 8, 8), -1.0)


def test_gs_pnp_with_the_shipped_weights_ensemble_decreases_F():
    # lesson 07's guarantee needs only g >= 0 and a Lipschitz gradient, which the ensemble keeps
    from pnp_lessons.denoisers.weights import load_denoiser
    from pnp_lessons.images import sample
    from pnp_lessons.operators import Blur, motion_kernel
    from pnp_lessons.solvers import gs_pnp, run
    from pnp_lessons.solvers.gs_pnp import preset

    x = sample("camera", size=64, grey=True)
    op = Blur(motion_kernel(9, seed=1))
    y = op.observe(x, 7.65 / 255, seed=0)
    E = dihedral_ensemble(load_denoiser("gsdrunet-small-grey", device="cpu"))
    res = run(gs_pnp(op, y, E, ref=x, **preset("deblur-motion", 7.65 / 255, max_iter=20)))
    F = res.curve("objective")
    assert all(b <= a + 1e-6 * abs(a) for a, b in zip(F, F[1:], strict=False)), F
    assert res.last.info["F_increases"] == 0 and res.history[-1]["psnr"] > res.history[0]["psnr"]


def test_ensemble_grad_costs_eight_network_passes_not_sixty_four():
    D = tiny_gs()
    E = dihedral_ensemble(D)
    calls = []
    h = D.net.register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.no_grad():
            E.denoise(rand(1, 1, 8, 8), 0.1)
        assert len(calls) == 8
        calls.clear()
        E.potential(rand(1, 1, 8, 8), 0.1)
        assert len(calls) == 8
    finally:
        h.remove()


def test_ensemble_keeps_the_graph_in_training_mode():
    E = dihedral_ensemble(tiny_gs()).train()
    x = rand(1, 1, 8, 8).requires_grad_(True)
    d = E.denoise(x, 0.1)
    assert d.requires_grad
    (gx,) = torch.autograd.grad(d.sum(), x)  # differentiable through the eight gradient steps
    assert torch.isfinite(gx).all()
