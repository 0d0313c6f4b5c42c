"""DRUNet-light network and the Gradient-Step denoiser: gradient, shapes, independence, errors."""

import pytest
import torch

from pnp_lessons.denoisers.gsdrunet import (
    PRESETS,
    DRUNetDenoiser,
    DRUNetLight,
    GSDenoiser,
    build_denoiser,
    count_parameters,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(channels=1, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return DRUNetLight(channels, (4, 6, 6, 8), 1).to(dtype)


def rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


# ----------------------------------------------------------------------------- sizes


def test_paper_preset_has_17_0M_parameters():
    # 64/128/256/512, 2 blocks per level, no bias: the reference's ~17.0 M parameters.
    assert count_parameters(DRUNetLight.from_preset("paper", 1)) == 17_008_320
    assert count_parameters(DRUNetLight.from_preset("paper", 3)) == 17_008_320 + 2 * 64 * 9 + 2 * 64 * 9


def test_small_preset_is_under_one_million():
    for c in (1, 3):
        assert count_parameters(DRUNetLight.from_preset("small", c)) <= 1_000_000


def test_architecture_is_the_reference_one():
    net = DRUNetLight.from_preset("paper", 3)
    assert net.m_head.weight.shape == (64, 4, 3, 3)  # image + sigma channel
    assert net.m_tail.weight.shape == (3, 64, 3, 3)
    assert net.m_down1[2].weight.shape == (128, 64, 2, 2) and net.m_down1[2].stride == (2, 2)
    assert isinstance(net.m_up3[0], torch.nn.ConvTranspose2d) and net.m_up3[0].weight.shape == (512, 256, 2, 2)
    assert isinstance(net.m_body[0].res[1], torch.nn.ELU)
    assert all(m.bias is None for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
    assert len(net.m_body) == 2 and len(net.m_down2) == 3 and len(net.m_up1) == 3
    assert set(PRESETS) == {"paper", "small"}


# ----------------------------------------------------------------------------- gradient


@pytest.mark.parametrize("shape", [(2, 1, 8, 8), (1, 1, 9, 11), (1, 3, 8, 16)])
def test_grad_matches_central_finite_differences(shape, grad_matches_fd):
    net = tiny(shape[1])
    D = GSDenoiser(net).eval()
    x = rand(*shape, dtype=torch.float64)
    sigma = 0.1
    gx = grad_matches_fd(D, x, sigma)  # random directions: <grad g, v> against (g(x+ev) - g(x-ev)) / 2e
    assert gx.dtype == torch.float64
    eps = 1e-6
    # a few coordinates one by one, including the padded border of odd sizes
    idx = [(0, 0, 0, 0), (0, shape[1] - 1, shape[2] - 1, shape[3] - 1), (0, 0, shape[2] // 2, 1)]
    for i in idx:
        e = torch.zeros_like(x)
        e[i] = 1
        with torch.no_grad():
            fd = ((D.potential(x + eps * e, sigma) - D.potential(x - eps * e, sigma)) / (2 * eps)).sum()
        assert abs(float(fd) - float(gx[i])) <= 1e-4 * max(abs(float(gx[i])), 1e-6)


def test_grad_is_right_under_no_grad_and_detached():
    D = GSDenoiser(tiny()).eval()
    x = rand(2, 1, 8, 8, dtype=torch.float64)
    ref = D.grad(x, 0.05)
    with torch.no_grad():
        g = D.grad(x, 0.05)
        d = D.denoise(x, 0.05)
    assert torch.equal(g, ref)
    assert torch.equal(d, x - ref)
    assert not g.requires_grad and not d.requires_grad


def test_denoise_is_x_minus_grad_and_potential_is_half_squared_residual():
    net = tiny()
    D = GSDenoiser(net).eval()
    x = rand(2, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(D.denoise(x, 0.1), x - D.grad(x, 0.1))
    with torch.no_grad():
        r = x - net(x, 0.1)
        assert torch.allclose(D.potential(x, 0.1), 0.5 * (r ** 2).sum(dim=(1, 2, 3)))
    assert D.potential(x, 0.1).shape == (2,)


def test_training_mode_keeps_the_graph():
    net = tiny(dtype=torch.float32)
    D = GSDenoiser(net).train()
    x = rand(2, 1, 8, 8)
    out = D.denoise(x, torch.tensor([0.1, 0.2]))
    assert out.requires_grad
    out.pow(2).mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    # in eval mode nothing is kept
    assert not GSDenoiser(net).eval().denoise(x, 0.1).requires_grad


# ----------------------------------------------------------------------------- shape, dtype, batch


@pytest.mark.parametrize("kind", ["gs", "drunet"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_preserved(kind, dtype):
    D = build_denoiser(kind, tiny(1, torch.float32)).eval()
    x = rand(3, 1, 13, 10, dtype=dtype)
    y = D.denoise(x, 25 / 255)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device


@pytest.mark.parametrize("kind", ["gs", "drunet"])
def test_batch_items_are_independent(kind):
    D = build_denoiser(kind, tiny(3)).eval()
    x = rand(3, 3, 8, 8, dtype=torch.float64)
    sig = torch.tensor([0.05, 0.1, 0.2], dtype=torch.float64)
    full = D.denoise(x, sig)
    for i in range(3):
        one = D.denoise(x[i : i + 1], float(sig[i]))
        assert torch.allclose(full[i : i + 1], one, atol=1e-12)
    # changing image 0 leaves the others untouched
    x2 = x.clone()
    x2[0] = 1 - x2[0]
    assert torch.allclose(D.denoise(x2, sig)[1:], full[1:], atol=1e-12)


def test_plain_drunet_denoiser_is_the_network():
    net = tiny()
    x = rand(1, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(DRUNetDenoiser(net).denoise(x, 0.1), net(x, 0.1))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    net = tiny(3, torch.float32)
    x = rand(2, 3, 24, 24)
    cpu = GSDenoiser(net).eval().denoise(x, 0.1)
    gpu = GSDenoiser(net.cuda()).eval().denoise(x.cuda(), 0.1)
    assert gpu.device.type == "cuda"
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "x, sigma, exc, msg",
    [
        (torch.rand(1, 8, 8), 0.1, ValueError, "x must be 4-D"),
        (torch.rand(1, 3, 8, 8), 0.1, ValueError, "x has 3 channels but this network expects 1"),
        (torch.full((1, 1, 8, 8), float("nan")), 0.1, ValueError, "x contains NaN"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.int64), 0.1, TypeError, "x must be a floating-point"),
        ([[0.0]], 0.1, TypeError, "x must be a torch.Tensor"),
        (torch.rand(1, 1, 8, 8), -0.1, ValueError, "sigma must be finite and >= 0"),
        (torch.rand(1, 1, 8, 8), float("inf"), ValueError, "sigma must be finite"),
        (torch.rand(2, 1, 8, 8), torch.tensor([0.1, 0.2, 0.3]), ValueError, "one value per image"),
        (torch.rand(1, 1, 8, 8), "high", TypeError, "sigma must be a number"),
    ],
)
@pytest.mark.parametrize("kind", ["gs", "drunet"])
def test_bad_inputs_raise_clear_errors(kind, x, sigma, exc, msg):
    D = build_denoiser(kind, tiny(1, torch.float32))
    with pytest.raises(exc, match=msg):
        D.denoise(x, sigma)
    if kind == "gs":
        with pytest.raises(exc, match=msg):
            D.potential(x, sigma)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="channels must be 1"):
        DRUNetLight(channels=2)
    with pytest.raises(ValueError, match="nc must hold 4"):
        DRUNetLight(1, (8, 8, 8))
    with pytest.raises(ValueError, match="nb must be >= 1"):
        DRUNetLight(1, (8, 8, 8, 8), 0)
    with pytest.raises(ValueError, match="preset must be one of"):
        DRUNetLight.from_preset("huge")
    with pytest.raises(ValueError, match="kind must be 'gs' or 'drunet'"):
        build_denoiser("nlm", tiny())
    with pytest.raises(TypeError, match="net must be a DRUNetLight"):
        GSDenoiser(torch.nn.Identity())
