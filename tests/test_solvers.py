
import pytest
import torch

from pnp_lessons.images import sample
from pnp_lessons.operators import Blur, Denoising, Inpainting, gaussian_kernel
from pnp_lessons.solvers import DIVERGED, Iterate, Tracker, fista, ista, run


@pytest.fixture(scope="module")
def deblur_problem():
    x = sample("camera", size=64, grey=True).double()
    op = Blur(gaussian_kernel(9, 2.0))
    return op, op.observe(x, 0.01, seed=0), x


def test_fista_objective_below_ista_after_same_iterations(deblur_problem):
    op, y, x = deblur_problem
    r_ista = run(ista(op, y, lam=0.01, ref=x, max_iter=40, tol=0))
    r_fista = run(fista(op, y, lam=0.01, ref=x, max_iter=40, tol=0))
    assert r_ista.iterations == r_fista.iterations == 40
    assert r_fista.history[-1]["objective"] < r_ista.history[-1]["objective"]


def test_ista_objective_is_monotone_with_l1(deblur_problem):
    """ISTA with an exact prox and τ = 1/‖AᵀA‖ decreases F every step (Beck & Teboulle 2009, Lemma 2.3)."""
    op, y, x = deblur_problem
    F = run(ista(op, y, lam=0.001, reg="l1", max_iter=30, tol=0)).curve("objective")
    assert all(b <= a * (1 + 1e-12) for a, b in zip(F, F[1:], strict=False))


def test_protocol_records(deblur_problem):
    op, y, x = deblur_problem
    recs = list(fista(op, y, lam=0.01, ref=x, max_iter=5, tol=0))
    assert [r.k for r in recs] == [1, 2, 3, 4, 5]
    assert all(isinstance(r, Iterate) and r.x.shape == x.shape for r in recs)
    assert all(r.psnr is not None and r.objective is not None and r.residual >= 0 for r in recs)
    assert [r.status for r in recs] == ["running"] * 4 + ["max_iter"]


def test_converges_on_tolerance():
    y = sample("camera", size=32, grey=True)
    res = run(ista(Denoising(), y, lam=0.02, reg="l1", max_iter=500, tol=1e-6))
    assert res.status == "converged" and res.iterations < 500
    assert res.history[-1]["rel_residual"] < 1e-6


def test_too_large_step_diverges_and_is_reported(deblur_problem):
    op, y, x = deblur_problem
    res = run(ista(op, y, lam=0.01, tau=2.5 / op.norm(), max_iter=300))
    assert res.status == DIVERGED
    assert "diverged" in res.message and "step size" in res.message
    assert bool(torch.isfinite(res.x).all())


def test_tracker_catches_nan_and_keeps_last_finite_image():
    x0 = torch.zeros(1, 1, 4, 4)
    t = Tracker(x0, max_iter=10)
    x1 = torch.ones_like(x0)
    assert t.record(x1, x0).status == "running"
    it = t.record(torch.full_like(x0, float("nan")), x1)
    assert it.status == "diverged" and "NaN" in it.message and torch.equal(it.x, x1)


def test_run_callback_can_stop():
    y = sample("camera", size=32, grey=True)
    res = run(ista(Denoising(), y, lam=0.02, max_iter=100, tol=0), callback=lambda it: it.k >= 3)
    assert res.status == "stopped" and res.iterations == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_iter=0), "max_iter must be a positive integer"),
    (dict(tol=-1.0), "tol must be a finite number >= 0"),
    (dict(lam=-1.0), "lam must be a finite number >= 0"),
    (dict(reg="l2"), "reg must be one of"),
    (dict(tau=float("inf")), "tau must be a finite number > 0"),
])
def test_solver_argument_errors(kwargs, message):
    y = torch.rand(1, 1, 8, 8)
    args = dict(lam=0.1) | kwargs
    with pytest.raises((ValueError, TypeError)) as e:
        next(ista(Inpainting(ratio=0.5, seed=0), y, **args))
    assert message in str(e.value)


@pytest.mark.cuda
def test_fista_runs_on_cuda(deblur_problem):
    op, y, x = deblur_problem
    cpu = run(fista(op, y, lam=0.01, max_iter=10, tol=0)).x
    gpu = run(fista(op, y.cuda(), lam=0.01, max_iter=10, tol=0)).x
    assert gpu.device.type == "cuda" and torch.allclose(cpu, gpu.cpu(), atol=1e-8)
