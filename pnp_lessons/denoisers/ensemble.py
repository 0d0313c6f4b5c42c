"""Dihedral self-ensemble of a Gradient-Step denoiser, which is again a Gradient-Step denoiser.

Let ``T_1 .. T_8`` be the eight symmetries of the square grid (rotations by multiples of 90°,
with and without a transpose); each is a permutation of the pixels, so ``T^{-1} = T^T``. For a
GS potential ``g_sigma`` (GS-PnP paper, eq. (9)) define the averaged potential

    g_ens(x) = 1/8 sum_k g_sigma(T_k x),   so   grad g_ens(x) = 1/8 sum_k T_k^T grad g_sigma(T_k x).

Then ``D_ens = Id - grad g_ens`` is the usual average of the eight transformed denoisings
``T_k^T D_sigma(T_k x)`` (the "x8" test-time ensemble of DRUNet/SwinIR) *and* a gradient step
on a potential: ``g_ens >= 0`` when ``g_sigma >= 0``, and ``grad g_ens`` is L-Lipschitz whenever
``grad g_sigma`` is (each term is, and the ``T_k`` are isometries). The hypotheses of GS-PnP's
convergence theorem (Theorem 1) therefore carry over unchanged; the
price is eight network evaluations (and eight backward passes) per denoising.
"""

from __future__ import annotations

import torch

from .gsdrunet import GSDenoiser

#: (k, t): rotate by k*90 degrees after transposing when t. The eight elements of the dihedral group.
DIHEDRAL = tuple((k, t) for t in (False, True) for k in range(4))


def transform(x: torch.Tensor, k: int, t: bool) -> torch.Tensor:
    """``T x``: transpose the last two axes when ``t``, then rotate by ``k`` quarter turns."""
    if t:
        x = x.transpose(-2, -1)
    return torch.rot90(x, k, dims=(-2, -1))


def inverse_transform(x: torch.Tensor, k: int, t: bool) -> torch.Tensor:
    """``T^{-1} x = T^T x`` for :func:`transform` (undo the rotation, then the transpose)."""
    x = torch.rot90(x, -k, dims=(-2, -1))
    return x.transpose(-2, -1) if t else x


class DihedralGSDenoiser(GSDenoiser):
    """GS denoiser of the averaged potential ``g_ens(x) = 1/8 sum_k g_sigma(T_k x)``.

    Shares the network (and so the weights) of the GS denoiser it is built from; ``potential``,
    ``grad`` and ``denoise`` keep the meaning and signatures of :class:`GSDenoiser`.

    Parameters
    ----------
    base : GSDenoiser
        The denoiser to symmetrise.

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight
    >>> torch.manual_seed(0) and None
    >>> D = DihedralGSDenoiser(GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1)))
    >>> x = torch.rand(1, 1, 16, 24)
    >>> y = D.denoise(x, 0.1)
    >>> bool(torch.allclose(D.denoise(x.flip(-1), 0.1), y.flip(-1), atol=1e-5))  # equivariant
    True
    """

    def __init__(self, base: GSDenoiser):
        if not isinstance(base, GSDenoiser):
            raise TypeError(f"base must be a GSDenoiser, got {type(base).__name__}")
        super().__init__(base.net)
        if hasattr(base, "card"):
            self.card = base.card
        self.train(base.training)

    def _plain_potential(self, x: torch.Tensor, sigma) -> torch.Tensor:
        # g_sigma itself (GSDenoiser.potential), not the averaged one this class overrides it with
        return GSDenoiser.potential(self, x, sigma)

    def potential(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``g_ens(x) = 1/8 sum_k g_sigma(T_k x)`` per image, shape (B,)."""
        self._check(x, sigma)
        return sum(self._plain_potential(transform(x, k, t), sigma) for k, t in DIHEDRAL) / len(DIHEDRAL)

    def grad(self, x: torch.Tensor, sigma, create_graph: bool | None = None) -> torch.Tensor:
        """``grad g_ens(x) = 1/8 sum_k T_k^T grad g_sigma(T_k x)``, one transform at a time.

        Same contract as :meth:`GSDenoiser.grad` (works under ``torch.no_grad()``): eight
        forward and eight backward passes; without ``create_graph`` the peak memory is that of
        one plain gradient.
        """
        if create_graph is None:
            create_graph = torch.is_grad_enabled() and self.training
        self._check(x, sigma)
        out = None
        with torch.enable_grad():
            for k, t in DIHEDRAL:
                xt = transform(x, k, t)
                xg = xt if (create_graph and xt.requires_grad) else xt.detach().requires_grad_(True)
                (dg,) = torch.autograd.grad(self._plain_potential(xg, sigma).sum(), xg, create_graph=create_graph)
                dg = inverse_transform(dg if create_graph else dg.detach(), k, t)
                out = dg if out is None else out + dg
        return out / len(DIHEDRAL)


def dihedral_ensemble(denoiser: GSDenoiser) -> DihedralGSDenoiser:
    """Return the x8 self-ensemble of ``denoiser`` (see :class:`DihedralGSDenoiser`).

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight
    >>> type(dihedral_ensemble(GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1)))).__name__
    'DihedralGSDenoiser'
    """
    return DihedralGSDenoiser(denoiser)


__all__ = ["DIHEDRAL", "transform", "inverse_transform", "DihedralGSDenoiser", "dihedral_ensemble"]
