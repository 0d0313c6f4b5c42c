"""DRUNet-light and the Gradient-Step denoiser (Hurault, Leclaire, Papadakis, ICLR 2022).

The network ``N_sigma`` is the light DRUNet of the GS-PnP paper: a 4-level U-Net whose
levels hold ``nb`` residual blocks ``x + conv3x3(ELU(conv3x3(x)))`` (no bias), a 2x2
stride-2 convolution going down, a 2x2 stride-2 transposed convolution going up, level
skips *added* (not concatenated), and the noise level sigma fed as one extra constant
input channel (2 input channels for grey images, 4 for colour).

The Gradient-Step denoiser builds on it (Hurault et al. 2022, the gradient-step denoiser)::

    g_sigma(x) = 1/2 || x - N_sigma(x) ||^2
    D_sigma(x) = x - grad g_sigma(x)

and ``grad g_sigma`` is computed by automatic differentiation, so ``D_sigma`` is an
explicit gradient step on a known potential: the property GS-PnP's convergence proof
relies on.

Sizes not divisible by 8 (three 2x downsamplings) are padded on the bottom and right by
*replicating* the border (as the reference ``ResUNet`` does) and the output is cropped
back. The potential and its gradient are then those of the padded-then-cropped network,
which is still an exact gradient of ``g`` as defined on the image itself.

Module attribute names (``m_head``, ``m_down1`` ... ``m_tail``, ``res``) follow the
reference implementations so that their checkpoints load with a plain prefix strip, see
:mod:`pnp_lessons.denoisers.weights`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
import torch.nn.functional as F

#: Width (channels per level) and depth (residual blocks per level) of each preset.
PRESETS: dict[str, dict] = {
    # The paper's DRUNet-light: 64/128/256/512 channels, 2 blocks per level (~17.0 M params).
    "paper": {"nc": (64, 128, 256, 512), "nb": 2},
    # CPU-sized for the lessons: <= 1 M params and <= 100 ms per 256x256 grey forward pass
    # on a 2-core laptop CPU (see benchmarks/gsdrunet.py).
    "small": {"nc": (16, 32, 64, 112), "nb": 2},
}


def _check_image(x: torch.Tensor, channels: int, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is a finite (B, channels, H, W) floating tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (B, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(
            f"{name} has {x.shape[1]} channels but this network expects {channels} "
            f"({'grey' if channels == 1 else 'colour' if channels == 3 else 'image'} images)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def _sigma_map(sigma, x: torch.Tensor) -> torch.Tensor:
    """Noise level as a (B, 1, H, W) constant map; ``sigma`` is a float or a (B,) tensor."""
    b, _, h, w = x.shape
    if isinstance(sigma, torch.Tensor):
        s = sigma.detach().to(device=x.device, dtype=x.dtype).reshape(-1)
        if s.numel() == 1:
            s = s.expand(b)
        if s.numel() != b:
            raise ValueError(f"sigma must be a scalar or hold one value per image ({b}), got {s.numel()} values")
    else:
        try:
            sf = float(sigma)
        except (TypeError, ValueError):
            raise TypeError(f"sigma must be a number or a tensor, got {type(sigma).__name__}") from None
        s = torch.full((b,), sf, device=x.device, dtype=x.dtype)
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"sigma must be finite and >= 0 (on the [0, 1] scale), got {s.tolist()}")
    return s.view(b, 1, 1, 1).expand(b, 1, h, w)


class ResBlock(nn.Module):
    """Residual block ``x + conv3x3(ELU(conv3x3(x)))`` without bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.ELU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res(x)


class DRUNetLight(nn.Module):
    """The light DRUNet ``N(x, sigma)`` of GS-PnP.

    Parameters
    ----------
    channels : int
        Image channels: 1 (grey) or 3 (colour). The network sees ``channels + 1`` inputs,
        the last one a constant map holding ``sigma``.
    nc : sequence of 4 ints
        Channels of the 4 levels (the paper: 64, 128, 256, 512).
    nb : int
        Residual blocks per level (the paper: 2; DRUNet proper has 4).

    Examples
    --------
    >>> net = DRUNetLight(channels=1, nc=(8, 8, 8, 8), nb=1)
    >>> net(torch.rand(2, 1, 16, 16), 0.1).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, channels: int = 1, nc: Sequence[int] = (64, 128, 256, 512), nb: int = 2):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (colour), got {channels}")
        nc = tuple(int(c) for c in nc)
        if len(nc) != 4 or min(nc) < 1:
            raise ValueError(f"nc must hold 4 positive channel counts, got {nc}")
        if int(nb) < 1:
            raise ValueError(f"nb must be >= 1, got {nb}")
        self.channels, self.nc, self.nb = channels, nc, int(nb)

        def blocks(c):
            return [ResBlock(c) for _ in range(self.nb)]

        def down(ci, co):  # 2x2 stride-2 convolution
            return nn.Conv2d(ci, co, 2, stride=2, bias=False)

        def up(ci, co):  # 2x2 stride-2 transposed convolution
            return nn.ConvTranspose2d(ci, co, 2, stride=2, bias=False)

        self.m_head = nn.Conv2d(channels + 1, nc[0], 3, padding=1, bias=False)
        self.m_down1 = nn.Sequential(*blocks(nc[0]), down(nc[0], nc[1]))
        self.m_down2 = nn.Sequential(*blocks(nc[1]), down(nc[1], nc[2]))
        self.m_down3 = nn.Sequential(*blocks(nc[2]), down(nc[2], nc[3]))
        self.m_body = nn.Sequential(*blocks(nc[3]))
        self.m_up3 = nn.Sequential(up(nc[3], nc[2]), *blocks(nc[2]))
        self.m_up2 = nn.Sequential(up(nc[2], nc[1]), *blocks(nc[1]))
        self.m_up1 = nn.Sequential(up(nc[1], nc[0]), *blocks(nc[0]))
        self.m_tail = nn.Conv2d(nc[0], channels, 3, padding=1, bias=False)

    @classmethod
    def from_preset(cls, preset: str = "small", channels: int = 1) -> DRUNetLight:
        """Build a network from a preset name (``'paper'`` or ``'small'``).

        Examples
        --------
        >>> DRUNetLight.from_preset("small", channels=3).nc
        (16, 32, 64, 112)
        """
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        return cls(channels=channels, **PRESETS[preset])

    def config(self) -> dict:
        """The constructor arguments, for cards and checkpoints."""
        return {"channels": self.channels, "nc": list(self.nc), "nb": self.nb}

    def _unet(self, x0: torch.Tensor) -> torch.Tensor:
        x1 = self.m_head(x0)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        x = self.m_body(x4)
        x = self.m_up3(x + x4)  # additive level skips
        x = self.m_up2(x + x3)
        x = self.m_up1(x + x2)
        return self.m_tail(x + x1)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``N(x, sigma)``; ``sigma`` a float or a (B,) tensor, on the [0, 1] scale.

        Computed in the dtype of the weights and returned in the dtype of ``x``.
        """
        w0 = self.m_head.weight
        if x.device != w0.device:
            raise ValueError(f"x is on {x.device} but the network is on {w0.device}; move one of them")
        h, w = x.shape[-2:]
        xin = x.to(w0.dtype)
        inp = torch.cat([xin, _sigma_map(sigma, xin)], dim=1)  # sigma as one extra constant channel
        ph, pw = (-h) % 8, (-w) % 8
        if ph or pw:  # replicate-pad bottom/right to a multiple of 8, crop after
            inp = F.pad(inp, (0, pw, 0, ph), mode="replicate")
        return self._unet(inp)[..., :h, :w].to(x.dtype)


def grey_to_colour_state(state: dict) -> dict:
    """The weights of a grey :class:`DRUNetLight` laid out for the colour network of the same size.

    A start for training a colour model from a trained grey one (``pnp-lessons train
    --channels 3 --init-from gsdrunet-small-grey``): the head's image-input filter ``w`` becomes
    ``w/3`` on each of R, G, B, so the network sees the channel mean ``m`` (with the sigma map
    unchanged), and the tail's single output filter is copied to the three outputs. The colour
    network then starts as ``N(x) = N_grey(m)`` in every channel, and the GS denoiser as
    ``D(x) = D_grey(m)`` in every channel (``J_N^T`` sums the three equal residuals and divides by
    3): a grey picture, with all the trained inner filters in place. Training has to learn colour.

    Examples
    --------
    >>> g = DRUNetLight(1, (8, 8, 8, 8), 1)
    >>> c = DRUNetLight(3, (8, 8, 8, 8), 1)
    >>> _ = c.load_state_dict(grey_to_colour_state(g.state_dict()))
    >>> x = torch.rand(1, 3, 16, 16)
    >>> m = x.mean(1, keepdim=True)
    >>> torch.allclose(c(x, 0.1), g(m, 0.1).expand(-1, 3, -1, -1), atol=1e-6)
    True
    """
    head, tail = state["m_head.weight"], state["m_tail.weight"]
    if head.shape[1] != 2 or tail.shape[0] != 1:
        raise ValueError(f"state must be a grey network's (head input 2, tail output 1), "
                         f"got head {tuple(head.shape)} and tail {tuple(tail.shape)}")
    out = dict(state)
    out["m_head.weight"] = torch.cat([head[:, :1].repeat(1, 3, 1, 1) / 3, head[:, 1:]], dim=1)
    out["m_tail.weight"] = tail.repeat(3, 1, 1, 1)
    return out


def count_parameters(net: nn.Module) -> int:
    """Number of trainable scalars.

    Examples
    --------
    >>> count_parameters(DRUNetLight(1, (8, 8, 8, 8), 1))
    9816
    """
    return sum(p.numel() for p in net.parameters())


class _Denoiser(nn.Module):
    """Shared input checks for the two denoisers."""

    def __init__(self, net: DRUNetLight):
        super().__init__()
        if not isinstance(net, DRUNetLight):
            raise TypeError(f"net must be a DRUNetLight, got {type(net).__name__}")
        self.net = net

    @property
    def channels(self) -> int:
        return self.net.channels

    def _check(self, x, sigma):
        _check_image(x, self.channels, "x")
        _sigma_map(sigma, x[:, :1, :1, :1])  # validates sigma (finite, >= 0, right count)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        return self.denoise(x, sigma)


class DRUNetDenoiser(_Denoiser):
    """Plain DRUNet-light denoiser ``D_sigma(x) = N_sigma(x)``.

    The paper's "DRUNet light" baseline, on the same network code as :class:`GSDenoiser`.

    Examples
    --------
    >>> D = DRUNetDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1))
    >>> D.denoise(torch.rand(1, 1, 12, 20), 25 / 255).shape
    torch.Size([1, 1, 12, 20])
    """

    kind = "drunet"

    def denoise(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Return ``N_sigma(x)`` (same shape, dtype and device as ``x``); in eval mode without an autograd graph
        (a solver that iterates it must not chain the graphs of every step), like :meth:`GSDenoiser.denoise`."""
        self._check(x, sigma)
        if self.training:
            return self.net(x, sigma)
        with torch.no_grad():
            return self.net(x, sigma)


class GSDenoiser(_Denoiser):
    """Gradient-Step denoiser ``D_sigma = Id - grad g_sigma``, ``g_sigma = 1/2 ||x - N_sigma(x)||^2``.

    Parameters
    ----------
    net : DRUNetLight
        The network ``N``.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> D = GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1))
    >>> x = torch.rand(2, 1, 16, 16)
    >>> D.potential(x, 0.1).shape
    torch.Size([2])
    >>> with torch.no_grad():  # the gradient is still right under no_grad
    ...     y = D.denoise(x, 0.1)
    >>> y.shape, y.requires_grad
    (torch.Size([2, 1, 16, 16]), False)
    """

    kind = "gs"

    def potential(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``g_sigma(x) = 1/2 ||x - N_sigma(x)||^2`` per image, shape (B,) (the GS potential)."""
        self._check(x, sigma)
        return self._g(x, sigma)

    def _g(self, x: torch.Tensor, sigma) -> torch.Tensor:
        # eq. (9) of the GS-PnP paper on images the network takes, without the input checks
        r = x - self.net(x, sigma)
        return 0.5 * r.flatten(1).pow(2).sum(dim=1)

    def grad(self, x: torch.Tensor, sigma, create_graph: bool | None = None) -> torch.Tensor:
        """``grad g_sigma(x)`` by automatic differentiation.

        Parameters
        ----------
        x : torch.Tensor
            (B, C, H, W) images.
        sigma : float or torch.Tensor
            Noise level on the [0, 1] scale, a number or one per image.
        create_graph : bool, optional
            Keep the graph of the gradient (needed to train through ``D``). Defaults to
            ``True`` when gradients are enabled and the module is in training mode.

        Returns
        -------
        torch.Tensor
            Same shape, dtype and device as ``x``. Works under ``torch.no_grad()``
            (the gradient is taken inside ``torch.enable_grad()``), and each image's
            gradient depends on that image only, since ``g`` sums per-image terms.

        Examples
        --------
        >>> D = GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1))
        >>> D.grad(torch.rand(1, 1, 8, 8), 0.05).shape
        torch.Size([1, 1, 8, 8])
        """
        if create_graph is None:
            create_graph = torch.is_grad_enabled() and self.training
        self._check(x, sigma)
        with torch.enable_grad():
            xg = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
            g = self.potential(xg, sigma).sum()  # images are independent: grad of the sum
            (dg,) = torch.autograd.grad(g, xg, create_graph=create_graph)
        return dg if create_graph else dg.detach()

    def denoise(self, x: torch.Tensor, sigma, create_graph: bool | None = None) -> torch.Tensor:
        """``D_sigma(x) = x - grad g_sigma(x)`` (the gradient-step denoiser)."""
        return x - self.grad(x, sigma, create_graph=create_graph)


def build_denoiser(kind: str, net: DRUNetLight) -> _Denoiser:
    """``'gs'`` -> :class:`GSDenoiser`, ``'drunet'`` -> :class:`DRUNetDenoiser`.

    Examples
    --------
    >>> type(build_denoiser("gs", DRUNetLight(1, (8, 8, 8, 8), 1))).__name__
    'GSDenoiser'
    """
    if kind == "gs":
        return GSDenoiser(net)
    if kind == "drunet":
        return DRUNetDenoiser(net)
    raise ValueError(f"kind must be 'gs' or 'drunet', got {kind!r}")


__all__ = [
    "PRESETS",
    "ResBlock",
    "DRUNetLight",
    "DRUNetDenoiser",
    "GSDenoiser",
    "build_denoiser",
    "count_parameters",
    "grey_to_colour_state",
]
