import numpy as np
import pytest
import torch

from pnp_lessons.prox import (div2d, grad2d, moreau_envelope, project_box, project_l2_ball, scalar_prox,
                              soft_threshold, tv, tv_prox, tv_prox_gap)


def rnd(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_div_is_minus_adjoint_of_grad():
    x, p = rnd(2, 3, 9, 11, seed=1), rnd(2, 3, 2, 9, 11, seed=2)
    assert float((grad2d(x) * p).sum() + (x * div2d(p)).sum()) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("C", [1, 3])
def test_tv_prox_reaches_small_duality_gap_and_beats_perturbations(C):
    z = rnd(2, C, 32, 32, seed=3)
    lam = 0.1
    x, info = tv_prox(z, lam, max_iter=2000, tol=1e-6, return_info=True)
    assert info["gap"] < 1e-6
    _, gap = tv_prox_gap(z, lam, info["p"])
    assert 0 <= gap < 1e-6

    def P(u):
        return 0.5 * float(((u - z) ** 2).sum()) + lam * tv(u)

    base = P(x)
    for _seed in range(5):
        assert P(x + 1e-3 * torch.randn_like(x)) >= base - 1e-9


def test_tv_prox_is_batched_consistently():
    z = rnd(3, 2, 16, 16, seed=4)
    xb = tv_prox(z, 0.05, max_iter=3000, tol=1e-9)
    for b in range(3):
        xi = tv_prox(z[b:b + 1], 0.05, max_iter=3000, tol=1e-9)
        assert torch.allclose(xb[b:b + 1], xi, atol=1e-4)


def test_soft_threshold_is_the_l1_prox():
    z, tau = torch.linspace(-2, 2, 41, dtype=torch.float64), 0.7
    x = soft_threshold(z, tau)
    # optimality: z − x ∈ τ ∂|x|
    nz = x != 0
    assert torch.allclose((z - x)[nz], tau * torch.sign(x[nz]))
    assert bool(((z - x)[~nz].abs() <= tau + 1e-12).all())


def test_projections():
    z = torch.tensor([[3.0, 4.0], [0.1, 0.2]])
    p = project_l2_ball(z, 1.0)
    assert torch.allclose(p[0], torch.tensor([0.6, 0.8])) and torch.equal(p[1], z[1])
    assert float(project_box(torch.tensor([-1.0, 2.0])).sum()) == 1.0


@pytest.mark.parametrize("name", ["abs", "square", "box"])
@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5])
def test_scalar_prox_and_moreau_match_brute_force(name, tau):
    """prox_{τh}(x) and M_{τh}(x) against a minimisation over a fine grid."""
    from pnp_lessons.prox import scalar_value

    u = np.linspace(-4, 4, 80001)
    hu = scalar_value(name, u)
    for x in (-3.0, -0.4, 0.0, 0.8, 2.7):
        obj = hu + (x - u) ** 2 / (2 * tau)
        i = np.argmin(obj)
        assert scalar_prox(name, x, tau) == pytest.approx(u[i], abs=2e-4)
        assert moreau_envelope(name, x, tau) == pytest.approx(obj[i], abs=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: tv_prox(torch.rand(8, 8), 0.1), "(B, C, H, W)"),
    (lambda: tv_prox(torch.rand(1, 1, 8, 8), -0.1), "lam must be a finite number >= 0"),
    (lambda: soft_threshold(torch.rand(3), float("nan")), "tau must be"),
    (lambda: scalar_prox("cube", 1.0, 1.0), "function must be one of"),
    (lambda: scalar_prox("abs", 1.0, 0.0), "tau must be a finite number > 0"),
])
def test_bad_inputs(call, message):
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    assert message in str(e.value)
