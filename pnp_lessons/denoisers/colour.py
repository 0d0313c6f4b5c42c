"""A grey Gradient-Step denoiser used on colour images, in an opponent colour basis: again a GS denoiser.

Let ``Q`` be the orthonormal opponent basis of R, G, B (rows ``(1, 1, 1)/√3``, ``(1, 0, -1)/√2``,
``(1, -2, 1)/√6``: luminance and two colour differences, the basis CBM3D works in) and
``A = Q/√3``, a scaled isometry (``AᵀA = I/3``). Each opponent channel of ``z = A x + b`` (``b`` moves the
colour differences to the middle of [0, 1]) carries white noise of level ``σ/√3`` when ``x`` carries ``σ``.
With the grey potential ``g_σ`` (GS-PnP paper, eq. (9)) applied to each opponent channel, define

    g_opp(x) = 3 · sum_c g_{σ/√3}((A x + b)_c),   so   ∇g_opp(x) = 3 Aᵀ ∇g_{σ/√3}(A x + b)
                                                                 = A⁻¹ ∇g_{σ/√3}(A x + b),

and ``D_opp = Id − ∇g_opp`` is ``A⁻¹(D_{σ/√3}(A x + b) − b)``: the grey denoiser run on each opponent
channel, mapped back to RGB. It is a gradient step on a potential, ``g_opp ≥ 0``, and ``∇g_opp`` is
``L``-Lipschitz when ``∇g_σ`` is (``‖3 Aᵀ u‖ = √3 ‖u‖`` and ``‖A v‖ = ‖v‖/√3``), so GS-PnP's convergence
theorem (Theorem 1) applies to it as to the grey denoiser. Running the grey denoiser on R, G and B
separately is the same construction with ``A = I``; the opponent basis does better because most of a
natural image's detail is in the luminance, where the noise is averaged down.
"""

from __future__ import annotations

import math

import torch

from .gsdrunet import GSDenoiser

#: The orthonormal opponent basis (rows): luminance, red − blue, (red + blue) − 2 green.
OPPONENT = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
OPPONENT = OPPONENT / OPPONENT.norm(dim=1, keepdim=True)
#: ``A = OPPONENT / √3``: the luminance row is the mean of R, G, B, so it stays in [0, 1].
SCALE = 1 / math.sqrt(3)
#: Offsets ``b``: the colour differences (in [−0.41, 0.41]) are moved to the middle of [0, 1].
OFFSET = (0.0, 0.5, 0.5)


def to_opponent(x: torch.Tensor) -> torch.Tensor:
    """``A x + b`` for ``(B, 3, H, W)`` RGB images.

    Examples
    --------
    >>> x = torch.rand(2, 3, 5, 5)
    >>> torch.allclose(from_opponent(to_opponent(x)), x, atol=1e-6)
    True
    >>> torch.allclose(to_opponent(x)[:, 0], x.mean(1), atol=1e-6)  # channel 0 is the mean of R, G, B
    True
    """
    A = (SCALE * OPPONENT).to(x)
    return torch.einsum("ij,bjhw->bihw", A, x) + torch.tensor(OFFSET).to(x).view(1, 3, 1, 1)


def from_opponent(z: torch.Tensor) -> torch.Tensor:
    """``A⁻¹ (z − b)`` (the inverse of :func:`to_opponent`; ``A⁻¹ = 3 Aᵀ``)."""
    A_inv = (OPPONENT.T / SCALE).to(z)
    return torch.einsum("ij,bjhw->bihw", A_inv, z - torch.tensor(OFFSET).to(z).view(1, 3, 1, 1))


class OpponentGSDenoiser(GSDenoiser):
    """GS denoiser of ``g_opp(x) = 3 Σ_c g_{σ/√3}((A x + b)_c)`` for colour images, from a grey one.

    Shares the grey network (and its weights); ``potential``, ``grad`` and ``denoise`` keep the
    meaning and signatures of :class:`GSDenoiser`, on ``(B, 3, H, W)`` images.

    Parameters
    ----------
    base : GSDenoiser
        A grey (1-channel) GS denoiser.

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight
    >>> torch.manual_seed(0) and None
    >>> grey = GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1))
    >>> D = OpponentGSDenoiser(grey)
    >>> x = torch.rand(1, 3, 16, 16)
    >>> z = to_opponent(x)
    >>> want = from_opponent(grey.denoise(z.transpose(0, 1), 0.1 / 3 ** 0.5).transpose(0, 1))
    >>> torch.allclose(D.denoise(x, 0.1), want, atol=1e-5)
    True
    """

    def __init__(self, base: GSDenoiser):
        if not isinstance(base, GSDenoiser) or base.net.channels != 1:
            raise TypeError("base must be a grey (1-channel) GSDenoiser")
        super().__init__(base.net)
        if hasattr(base, "card"):
            self.card = base.card
        self.train(base.training)

    @property
    def channels(self) -> int:
        return 3  # what _check asks of x; the grey network sees one opponent channel at a time

    def potential(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``g_opp(x)`` per image, shape (B,)."""
        self._check(x, sigma)
        B, _, H, W = x.shape
        z = to_opponent(x).reshape(B * 3, 1, H, W)  # each opponent channel as one grey image
        s = sigma * SCALE
        if torch.is_tensor(s) and s.numel() > 1:
            s = s.reshape(-1).repeat_interleave(3)  # one σ per image -> one per opponent channel
        g = self._g(z, s)  # g_{σ/√3} of each channel (eq. (9)), shape (3B,)
        return g.reshape(B, 3).sum(dim=1) / SCALE**2


def opponent_colour(denoiser: GSDenoiser) -> OpponentGSDenoiser:
    """The colour GS denoiser made of a grey one (see :class:`OpponentGSDenoiser`).

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight
    >>> opponent_colour(GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1))).channels
    3
    """
    return OpponentGSDenoiser(denoiser)


__all__ = ["OPPONENT", "SCALE", "OFFSET", "to_opponent", "from_opponent", "OpponentGSDenoiser", "opponent_colour"]
