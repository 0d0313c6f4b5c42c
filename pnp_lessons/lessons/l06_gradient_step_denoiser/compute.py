"""The computations of lesson 06 (The gradient-step denoiser), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from ...figures import new_figure
from ...metrics import psnr
from ...params import Param
from ...runtime import is_fast, lean_call, live_size

__all__ = ["PARAMS", "PAPER_TABLE", "potential_path", "path_figure", "gradient_check", "score_figure",
           "network_figure", "colour_figure", "image_size", "PAPER_SIGMAS", "ROOT"]


PARAMS = {"sigma": Param("sigma", "σ·255", "noise level", 1.0, 50.0, 0.5, digits=1)}


PAPER_SIGMAS = (5, 15, 25, 50)


PAPER_TABLE = {
    "FFDNet": (39.95, 33.53, 30.84, 27.54),
    "DnCNN": (39.80, 33.55, 30.87, 27.52),
    "DRUNet": (40.31, 33.97, 31.32, 28.08),
    "DRUNet light": (40.19, 33.89, 31.25, 28.00),
    "GS-DRUNet": (40.26, 33.90, 31.26, 28.01),
}
"""Denoising PSNR (dB) on CBSD68 for σ·255 = 5, 15, 25, 50, as printed in Hurault et al. 2022 (the denoising
table reproduced in the review, ``shared/papers/gradient-step-denoiser-review.md``)."""


ROOT = Path(__file__).resolve().parents[3]


def image_size() -> int:
    """Side of the lesson's images: 64 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=64)


def _device(D) -> torch.device:
    return next(D.parameters()).device


# --------------------------------------------------------------------------- potential along a path
@lean_call
def potential_path(D, x: torch.Tensor, sigma: float, ts=None, seed: int = 0) -> dict:
    """g_σ(x + t·σ·n) for t in ``ts`` (n a fixed standard Gaussian image): t = 0 is the clean image, t = 1 a
    noisy image of noise level σ. Returns ``{"t", "g", "grad_norm"}`` (lists)."""
    if ts is None:
        ts = [i / 10 for i in range(0, 16)] if not is_fast() else [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    x = x.to(_device(D))
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    gs, norms = [], []
    for t in ts:
        xt = x + t * sigma * n
        with torch.no_grad():
            g = float(D.potential(xt, sigma).sum())
        dg = D.grad(xt, sigma)
        gs.append(g)
        norms.append(float(dg.norm()))
    return {"t": list(ts), "g": gs, "grad_norm": norms}


def path_figure(path: dict, sigma: float):
    """(figure, alt text) of :func:`potential_path`."""
    fig = new_figure(6.4, 2.6)
    a1, a2 = fig.subplots(1, 2)
    a1.plot(path["t"], path["g"], marker="o", color="#1f77b4")
    a1.set_xlabel("t   (x_t = x + t·σ·n)")
    a1.set_title("potential g_σ(x_t)", fontsize=10)
    a2.plot(path["t"], path["grad_norm"], marker="o", color="#d62728")
    a2.set_xlabel("t")
    a2.set_title("‖∇g_σ(x_t)‖", fontsize=10)
    g, t = path["g"], path["t"]
    i1 = min(range(len(t)), key=lambda i: abs(t[i] - 1.0))
    rising = all(b >= a for a, b in zip(g, g[1:], strict=False))
    alt = (f"Two line plots against t from {t[0]:g} to {t[-1]:g}, for σ·255 = {sigma * 255:.0f}. Left: the potential "
           f"g_σ goes from {g[0]:.3g} at the clean image (t = 0) to {g[i1]:.3g} at the noisy image (t = 1) and "
           f"{g[-1]:.3g} at t = {t[-1]:g}; it {'rises monotonically' if rising else 'does not rise monotonically'} "
           f"along the path. Right: the gradient norm goes from {path['grad_norm'][0]:.3g} to "
           f"{path['grad_norm'][-1]:.3g}.")
    return fig, alt


# --------------------------------------------------------------------------- gradient check
@lean_call
def gradient_check(D, x: torch.Tensor, sigma: float, eps=(1e-1, 1e-2, 1e-3, 1e-4), seed: int = 0) -> list[dict]:
    """Directional derivative of g_σ at ``x`` along a random unit direction v: autograd ⟨∇g_σ(x), v⟩
    against the central difference (g(x + εv) − g(x − εv)) / (2ε), in float64 (a float64 copy of D)."""
    D64 = copy.deepcopy(D).double()
    x = x.to(_device(D64), torch.float64)
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(x.device)
    v = v / v.norm()
    auto = float((D64.grad(x, sigma) * v).sum())
    rows = []
    for e in eps:
        with torch.no_grad():
            gp = float(D64.potential(x + e * v, sigma).sum())
            gm = float(D64.potential(x - e * v, sigma).sum())
        fd = (gp - gm) / (2 * e)
        rows.append({"eps": e, "finite_difference": fd, "autograd": auto,
                     "rel_error": abs(fd - auto) / max(abs(auto), 1e-300)})
    return rows


# --------------------------------------------------------------------------- score
@lean_call
def score_figure(D, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, correlation): the noisy y, ∇g_σ(y) = y − D_σ(y) and the true noise y − x."""
    x = x.to(_device(D))
    noise = sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    y = x + noise
    dg = D.grad(y, sigma)
    a, b = dg.flatten().double(), noise.flatten().double()
    corr = float(((a - a.mean()) * (b - b.mean())).sum() / ((a - a.mean()).norm() * (b - b.mean()).norm() + 1e-30))
    fig = new_figure(7.2, 2.6)
    axes = fig.subplots(1, 3)
    lim = 3 * sigma
    axes[0].imshow(y[0, 0].detach().cpu().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("noisy y", fontsize=10)
    axes[1].imshow(dg[0, 0].detach().cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title("∇g_σ(y) = y − D_σ(y)", fontsize=10)
    axes[2].imshow(noise[0, 0].detach().cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("true noise y − x", fontsize=10)
    for ax in axes:
        ax.axis("off")
    alt = (f"Three images at σ·255 = {sigma * 255:.0f}: the noisy image, the gradient ∇g_σ(y) and the true noise "
           f"(red positive, blue negative, same colour scale ±3σ). The correlation between ∇g_σ(y) and the true noise "
           f"is {corr:.2f} (1 would mean the denoiser recovers the noise exactly; 0 no relation).")
    return fig, alt, corr


# --------------------------------------------------------------------------- N_σ is not D_σ
@lean_call
def network_figure(D, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, PSNRs): the noisy y, the network's own output N_σ(y) and D_σ(y) = y − ∇g_σ(y).

    The training loss is on D_σ only (E‖D_σ(x + σn) − x‖², the review's training section), so N_σ(y) need
    not look like the clean image. The PSNRs (dB, against ``x``, outputs clipped to [0, 1]) are under the keys
    ``noisy``, ``N`` and ``D``.
    """
    x = x.to(_device(D))
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    with torch.no_grad():
        n_out = D.net(y, sigma).clamp(0, 1)
    d_out = D.denoise(y, sigma).detach().clamp(0, 1)
    vals = {"noisy": psnr(y.clamp(0, 1), x), "N": psnr(n_out, x), "D": psnr(d_out, x)}
    fig = new_figure(7.2, 2.6)
    axes = fig.subplots(1, 3)
    for ax, img, title in zip(axes, (y.clamp(0, 1), n_out, d_out),
                              (f"noisy y: {vals['noisy']:.2f} dB", f"N_σ(y) alone: {vals['N']:.2f} dB",
                               f"D_σ(y) = y − ∇g_σ(y): {vals['D']:.2f} dB"), strict=False):
        ax.imshow(img[0, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    alt = (f"Three images at σ·255 = {sigma * 255:.0f}: the noisy image ({vals['noisy']:.2f} dB), the output of the "
           f"network N_σ used alone ({vals['N']:.2f} dB) and the gradient-step denoiser D_σ ({vals['D']:.2f} dB).")
    return fig, alt, vals


# --------------------------------------------------------------------------- colour
@lean_call
def colour_figure(D_colour, D_grey, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, PSNRs): a noisy colour image and three colour GS denoisers.

    The grey GS denoiser run on R, G and B one at a time; the same grey denoiser run on the opponent
    channels (luminance and two colour differences, :class:`~pnp_lessons.denoisers.colour.OpponentGSDenoiser`);
    and the colour GS denoiser (one network, three channels in and out). ``x`` is a ``(1, 3, H, W)`` image in
    [0, 1]. The PSNRs (dB against ``x``, over the three channels, outputs clipped to [0, 1]) are under
    ``noisy``, ``rgb``, ``opponent`` and ``colour``.
    """
    from ...denoisers.colour import opponent_colour

    if x.dim() != 4 or x.shape[:2] != (1, 3):
        raise ValueError(f"x must be one colour image of shape (1, 3, H, W), got {tuple(x.shape)}")
    if getattr(D_colour.net, "channels", None) != 3 or getattr(D_grey.net, "channels", None) != 1:
        raise ValueError("D_colour must be a 3-channel GS denoiser and D_grey a 1-channel one")
    x = x.to(_device(D_colour))
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    yg = y.to(_device(D_grey))
    outs = {"noisy": y,
            "rgb": D_grey.denoise(yg.transpose(0, 1), sigma).transpose(0, 1),  # R, G, B as 3 grey images
            "opponent": opponent_colour(D_grey).denoise(yg, sigma),
            "colour": D_colour.denoise(y, sigma)}
    outs = {k: v.detach().to(x.device).clamp(0, 1) for k, v in outs.items()}
    vals = {k: psnr(v, x) for k, v in outs.items()}
    titles = {"noisy": "noisy y", "rgb": "grey D_σ on R, G, B", "opponent": "grey D_σ, opponent basis",
              "colour": "colour D_σ"}
    fig = new_figure(9.6, 2.8)
    axes = fig.subplots(1, 4)
    for ax, k in zip(axes, outs, strict=False):
        ax.imshow(outs[k][0].permute(1, 2, 0).cpu().numpy())
        ax.set_title(f"{titles[k]}\n{vals[k]:.2f} dB", fontsize=9)
        ax.axis("off")
    alt = (f"Four colour images at σ·255 = {sigma * 255:.0f}: the noisy image ({vals['noisy']:.2f} dB); the grey "
           f"gradient-step denoiser applied to the red, green and blue channels separately ({vals['rgb']:.2f} dB); "
           f"the same grey denoiser applied to the luminance and the two colour differences ({vals['opponent']:.2f} "
           f"dB); and the colour gradient-step denoiser ({vals['colour']:.2f} dB).")
    return fig, alt, vals


# --------------------------------------------------------------------------- tables
def _evaluation_table(text: str, header: str = "") -> tuple[list[list[str]], str]:
    """The first Markdown table of ``text`` whose header names noise levels (``σ=``) and contains ``header``,
    as rows of cells, and the ``PSNR (dB), mean over …`` line that ``pnp-lessons evaluate-denoisers`` writes
    under it ('' when absent).

    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and "σ" in lines[i] and header in lines[i]:
            rows, j = [], i
            while j < len(lines) and lines[j].startswith("|"):
                if not set(lines[j]) <= set("|-: "):
                    rows.append([c.strip() for c in lines[j].strip().strip("|").split("|")])
                j += 1
            source = next((ln.strip() for ln in lines[j:j + 3] if ln.strip().startswith("PSNR")), "")
            return rows, source
        i += 1
    return [], ""
