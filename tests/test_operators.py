import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from pnp_lessons.operators import (Blur, Denoising, Inpainting, SuperResolution, gaussian_kernel, load_kernels,
                                   motion_kernel, uniform_kernel)


def make_ops():
    return {
        "denoising": Denoising(),
        "inpainting": Inpainting(ratio=0.6, seed=1),
        "blur-gauss": Blur(gaussian_kernel(9, 1.6)),
        "blur-motion": Blur(motion_kernel(11, seed=2)),
        "blur-even": Blur(uniform_kernel(4)),
        "sr2": SuperResolution(gaussian_kernel(7, 1.2), 2),
        "sr3": SuperResolution(gaussian_kernel(9, 1.6), 3),
        "sr4": SuperResolution(uniform_kernel(5), 4),
    }


OPS = make_ops()


def rnd(*shape, seed=0, device="cpu"):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("C", [1, 3])
def test_adjoint_identity(name, C):
    """⟨Ax, y⟩ = ⟨x, Aᵀy⟩ to 1e-10 relative, grey and colour, float64."""
    op = OPS[name]
    x = rnd(2, C, 36, 48, seed=1)
    y = torch.randn_like(op.A(x))
    lhs = float((op.A(x) * y).sum())
    rhs = float((x * op.A_adjoint(y)).sum())
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("C", [1, 3])
def test_prox_data_optimality(name, C):
    """The gradient of ½‖Ax − y‖² + ‖x − z‖²/(2τ) vanishes at prox_data(z, y, τ)."""
    op = OPS[name]
    z = rnd(2, C, 36, 48, seed=2)
    y = op.A(rnd(2, C, 36, 48, seed=3))
    for tau in (0.05, 1.0, 20.0):
        x = op.prox_data(z, y, tau)
        g = op.A_adjoint(op.A(x) - y) + (x - z) / tau
        assert float(g.norm()) < 1e-10 * max(1.0, float((z / tau).norm()))


@pytest.mark.parametrize("name", ["sr2", "sr3", "sr4"])
def test_sr_prox_agrees_with_conjugate_gradient(name):
    op = OPS[name]
    shape = (1, 1, 24, 24)
    z, y = rnd(*shape, seed=4), op.A(rnd(*shape, seed=5))
    tau = 0.5
    n = z.numel()

    def mv(v):
        t = torch.from_numpy(v.reshape(shape))
        return (op.AtA(t) + t / tau).numpy().ravel()

    rhs = (op.A_adjoint(y) + z / tau).numpy().ravel()
    sol, info = spla.cg(spla.LinearOperator((n, n), matvec=mv, dtype=np.float64), rhs, rtol=1e-13, maxiter=2000)
    assert info == 0
    assert np.abs(op.prox_data(z, y, tau).numpy().ravel() - sol).max() < 1e-9


@pytest.mark.parametrize("name", list(OPS))
def test_norm_is_largest_eigenvalue_of_AtA(name):
    op = OPS[name]
    u = rnd(1, 1, 48, 48, seed=6)
    for _ in range(500):
        u = op.AtA(u)
        u = u / u.norm()
    rayleigh = float((op.AtA(u) * u).sum())
    assert op.norm() == pytest.approx(rayleigh, rel=1e-6)


def test_observe_is_reproducible_and_adds_the_right_noise():
    op = Denoising()
    x = torch.full((1, 1, 128, 128), 0.5)
    y1, y2 = op.observe(x, 0.1, seed=3), op.observe(x, 0.1, seed=3)
    assert torch.equal(y1, y2)
    assert float((y1 - x).std()) == pytest.approx(0.1, rel=0.03)


def test_kernels_are_normalised():
    for k in (gaussian_kernel(25, 1.6), uniform_kernel(9), motion_kernel(19, seed=0)):
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
        assert bool((k >= 0).all())
    assert not torch.equal(motion_kernel(15, seed=0), motion_kernel(15, seed=1))


@pytest.mark.data
def test_levin_and_kernels12_load(data_root):
    levin = load_kernels(data_root / "kernels" / "Levin09.mat")
    assert [k.shape[0] for k in levin] == [19, 17, 15, 27, 13, 21, 23, 23]
    k12 = load_kernels(data_root / "kernels" / "kernels_12.mat")
    assert len(k12) == 12 and all(k.shape == (25, 25) for k in k12)
    for k in levin + k12:
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-5)
    # kernels_12 0-3 are isotropic Gaussians: symmetric under transposition
    assert torch.allclose(k12[0], k12[0].T, atol=1e-6)


def test_npy_and_png_kernels_round_trip(tmp_path):
    from PIL import Image

    k = motion_kernel(15, seed=1).numpy()
    np.save(tmp_path / "k.npy", np.stack([k, k]))
    assert len(load_kernels(tmp_path / "k.npy")) == 2
    Image.fromarray((k / k.max() * 255).astype(np.uint8)).save(tmp_path / "k.png")
    (kp,) = load_kernels(tmp_path / "k.png")
    assert kp.shape == (15, 15) and float(kp.sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: Blur(uniform_kernel(3)).A(torch.rand(8, 8)), "(B, C, H, W)"),
    (lambda: Blur(uniform_kernel(3)).A(torch.full((1, 1, 8, 8), float("nan"))), "NaN"),
    (lambda: Denoising().observe(torch.rand(1, 1, 8, 8), sigma=-0.1), "sigma must be a finite number >= 0"),
    (lambda: Denoising().prox_data(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), tau=-1),
     "tau must be a finite number > 0"),
    (lambda: Denoising().prox_data(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), tau=float("nan")), "tau must be"),
    (lambda: SuperResolution(uniform_kernel(3), factor=5), "factor must be 2, 3 or 4"),
    (lambda: SuperResolution(uniform_kernel(3), factor=2).A(torch.rand(1, 1, 9, 9)), "not a multiple of the factor"),
    (lambda: Blur(torch.ones(3, 3, 3)), "kernel must be 2-D"),
    (lambda: Blur(uniform_kernel(9)).A(torch.rand(1, 1, 4, 4)), "larger than the image"),
    (lambda: Inpainting(ratio=1.5), "ratio (fraction of missing pixels) must be in [0, 1)"),
    (lambda: Inpainting(), "needs either mask or ratio"),
    (lambda: Inpainting(mask=torch.full((4, 4), 0.5)), "only 0 and 1"),
    (lambda: Inpainting(mask=torch.ones(4, 4)).A(torch.rand(1, 1, 8, 8)), "mask has size"),
    (lambda: gaussian_kernel(0, 1.0), "size must be a positive integer"),
    (lambda: load_kernels("/nonexistent/k.mat"), "kernel file not found"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as e:
        call()
    assert message in str(e.value)


@pytest.mark.cuda
@pytest.mark.parametrize("name", list(OPS))
def test_cuda_matches_cpu(name):
    op = OPS[name]
    x = rnd(2, 3, 36, 48, seed=7)
    y = op.A(x)
    for f, args in ((op.A, (x,)), (op.A_adjoint, (y,)), (op.prox_data, (x, y, 0.3))):
        cpu = f(*args)
        gpu = f(*[a.cuda() if torch.is_tensor(a) else a for a in args]).cpu()
        assert torch.allclose(cpu, gpu, atol=1e-10)
