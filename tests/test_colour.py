"""A grey GS denoiser in the opponent colour basis is a colour GS denoiser (colour.py)."""

import math

import pytest
import torch

from pnp_lessons.denoisers.colour import (
    OPPONENT,
    SCALE,
    OpponentGSDenoiser,
    from_opponent,
    opponent_colour,
    to_opponent,
)
from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser, DRUNetLight, GSDenoiser

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_gs(channels=1):
    """A small float64 GS denoiser (finite differences need the precision)."""
    torch.manual_seed(0)
    return GSDenoiser(DRUNetLight(channels, (4, 6, 6, 8), 1).double()).eval()


def rand(*shape, seed=0):
    """Uniform float64 images."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_basis_is_orthonormal_and_the_transform_scales_norms_by_one_over_root_3():
    assert torch.allclose(OPPONENT @ OPPONENT.T, torch.eye(3), atol=1e-6)
    x, y = rand(2, 3, 6, 7), rand(2, 3, 6, 7, seed=1)
    d = to_opponent(x) - to_opponent(y)  # the offsets cancel
    assert torch.allclose(d.norm(), (x - y).norm() * SCALE)
    assert torch.allclose(from_opponent(to_opponent(x)), x)
    z = to_opponent(x)
    assert z.min() >= 0 and z.max() <= 1  # every opponent channel of an image in [0, 1] stays in [0, 1]


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 3, 9, 12)])
def test_opponent_grad_matches_finite_differences_of_its_potential(shape, grad_matches_fd):
    grad_matches_fd(opponent_colour(tiny_gs()), rand(*shape), 0.1)


def test_opponent_denoiser_is_the_grey_one_on_each_opponent_channel():
    grey = tiny_gs()
    D = OpponentGSDenoiser(grey)
    x = rand(2, 3, 12, 20)
    z = to_opponent(x)
    s = 0.1
    per_channel = torch.stack([grey.denoise(z[:, c:c + 1], s * SCALE)[:, 0] for c in range(3)], 1)
    with torch.no_grad():  # and still right under no_grad
        y = D.denoise(x, s)
    torch.testing.assert_close(y, from_opponent(per_channel))
    # the gradient is A^{-1} grad g_{σ/√3}(Ax + b): its norm is √3 times that of the opponent-space gradient
    dz = z - per_channel
    torch.testing.assert_close(D.grad(x, s).norm(), dz.norm() * math.sqrt(3))


def test_one_sigma_per_image_and_images_are_independent():
    D = opponent_colour(tiny_gs())
    x = rand(2, 3, 8, 8)
    both = D.denoise(x, torch.tensor([0.05, 0.2], dtype=torch.float64))
    torch.testing.assert_close(both[:1], D.denoise(x[:1], 0.05))
    torch.testing.assert_close(both[1:], D.denoise(x[1:], 0.2))


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="grey"):
        OpponentGSDenoiser(tiny_gs(channels=3))
    with pytest.raises(TypeError, match="grey"):
        OpponentGSDenoiser(DRUNetDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1)))
    D = opponent_colour(tiny_gs())
    with pytest.raises(ValueError, match="1 channels but this network expects 3"):
        D.denoise(rand(1, 1, 8, 8), 0.1)
    with pytest.raises(ValueError):
        D.denoise(rand(1, 3, 8, 8), float("nan"))


def test_shipped_grey_weights_in_the_opponent_basis_beat_them_on_r_g_b_apart():
    """The lesson's claim on the shipped grey weights and a bundled colour image."""
    from pnp_lessons.denoisers.weights import list_shipped, load_denoiser
    from pnp_lessons.images import sample
    from pnp_lessons.metrics import psnr

    if "gsdrunet-small-grey" not in list_shipped():
        pytest.skip("gsdrunet-small-grey is not in data/weights")
    grey = load_denoiser("gsdrunet-small-grey", device="cpu")
    x = sample("astronaut", size=64)
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    rgb = grey.denoise(y.transpose(0, 1), 25 / 255).transpose(0, 1)
    opp = opponent_colour(grey).denoise(y, 25 / 255)
    assert psnr(opp.clamp(0, 1), x) > psnr(rgb.clamp(0, 1), x) + 0.5
