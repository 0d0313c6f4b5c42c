"""Lesson 01, the widgets: the four forward models y = Ax + ε, and why the naive inverse of a blur fails.

* :class:`ForwardModelExplorer` — operator (denoising, inpainting, deblurring, SR), noise σ·255,
  ratio missing, kernel type and size; shows x, y and the kernel.
* :class:`NaiveInverseExplorer` — blur + noise; the blur's spectrum log₁₀|K̂|, the naive inverse
  ŷ/K̂ and the Tikhonov inverse (AᵀA + μI)⁻¹Aᵀy. Both inverses are the data prox of the
  operator, ``op.prox_data(0, y, τ)`` = argmin ½‖Ax − y‖² + ‖x‖²/(2τ), with τ = 1/μ (τ → ∞ is the
  naive inverse).
"""

from __future__ import annotations

import ipywidgets as W
import torch

from ...figures import OKABE_ITO, new_figure
from ...images import sample
from ...metrics import psnr
from ...operators import Blur
from ...widgets.lesson_base import FigureSlot, ImageSlot, LessonWidget, Slider
from ...widgets.panel import ImageGrid
from .compute import (
    KERNELS,
    OPERATORS,
    PARAMS,
    _kernel_png,
    image_size,
    make_kernel,
    make_operator,
    naive_inverse,
    spectrum,
)

__all__ = ["ForwardModelExplorer", "NaiveInverseExplorer"]


DESC = {"description_width": "170px"}


class ForwardModelExplorer(LessonWidget):
    """y = Ax + ε for the four operators, with sliders for σ, the missing ratio and the kernel."""

    def __init__(self, image: str = "camera", operator: str = "inpaint", autostart: bool = True):
        self.x = sample(image, size=image_size(), grey=True)
        self.operator = W.Dropdown(options=[(v, k) for k, v in OPERATORS.items()], value=operator,
                                   description="operator A", style=DESC, layout=W.Layout(width="420px"))
        self.noise = Slider(PARAMS["noise"], 10.0)
        self.missing = Slider(PARAMS["missing"], 50.0)
        self.kernel = W.Dropdown(options=[(v, k) for k, v in KERNELS.items()], value="gaussian",
                                 description="blur kernel", style=DESC, layout=W.Layout(width="420px"))
        self.kernel_size = Slider(PARAMS["kernel_size"], 9)
        self.truth = ImageSlot("Ground truth x")
        self.observation = ImageSlot("Observation y = Ax + ε")
        self.kernel_view = ImageSlot("Blur kernel k", 128)
        controls = W.VBox([self.operator, self.missing, self.kernel, self.kernel_size, self.noise])
        super().__init__([controls, ImageGrid([self.truth, self.observation, self.kernel_view], 3)], autostart=False)
        for w in (self.operator, self.kernel, self.noise, self.missing, self.kernel_size):
            w.observe(self._changed, "value")
        self._update_visibility()
        if autostart:
            self.refresh()
            self.wait(120)

    def _changed(self, _=None):
        self._update_visibility()
        self.refresh()

    def _update_visibility(self):
        op = self.operator.value
        blur = op in ("deblur", "sr")
        self.missing.layout.display = None if op == "inpaint" else "none"
        self.kernel.layout.display = None if blur else "none"
        self.kernel_size.layout.display = None if blur else "none"
        self.kernel_view.layout.display = None if blur else "none"

    def settings(self):
        return dict(operator=self.operator.value, noise=self.noise.value, missing=self.missing.value,
                    kernel=self.kernel.value, kernel_size=self.kernel_size.value)

    def compute(self, s):
        op = make_operator(s["operator"], s["missing"], s["kernel"], s["kernel_size"])
        y = op.observe(self.x, s["noise"] / 255, seed=0)
        return dict(s=s, op=op, y=y)

    def render(self, r):
        s, op, y = r["s"], r["op"], r["y"]
        n = self.x.shape[-1]
        self.truth.show(self.x, f"the clean image x, {n}×{n} pixels (grey, values in [0, 1]).")
        noise = f"plus white Gaussian noise of σ·255 = {s['noise']:.1f}"
        if s["operator"] == "denoise":
            cap = f"y = x + ε: the image {noise}. Every pixel is observed, only noisy."
        elif s["operator"] == "inpaint":
            cap = (f"y = Ax + ε: {s['missing']:.0f} % of the pixels are missing (black), the others are kept, "
                   f"{noise}.")
        elif s["operator"] == "deblur":
            cap = (f"y = k ∗ x + ε: the image blurred by the {s['kernel_size']}×{s['kernel_size']} "
                   f"{s['kernel']} kernel (circular convolution), {noise}. Fine details are gone.")
        else:
            cap = (f"y = ↓₂(k ∗ x) + ε: blurred by the {s['kernel']} kernel, then one pixel in 2 kept along "
                   f"each axis ({y.shape[-1]}×{y.shape[-1]} pixels, shown enlarged), {noise}.")
        self.observation.show(y.clamp(0, 1), cap)
        if s["operator"] in ("deblur", "sr"):
            k = op.kernel
            self.kernel_view.show(_kernel_png(k), f"the {k.shape[0]}×{k.shape[1]} kernel k (white = largest weight); "
                                                  "its entries are ≥ 0 and sum to 1.")


class NaiveInverseExplorer(LessonWidget):
    """Blur + noise → spectrum of the blur, naive inverse ŷ/K̂, Tikhonov inverse."""

    def __init__(self, image: str = "camera", autostart: bool = True):
        self.x = sample(image, size=image_size(), grey=True)
        self.kernel = W.Dropdown(options=[(v, k) for k, v in KERNELS.items()], value="uniform",
                                 description="blur kernel", style=DESC, layout=W.Layout(width="420px"))
        self.kernel_size = Slider(PARAMS["kernel_size"], 9)
        self.noise = Slider(PARAMS["small_noise"], 1.0)
        self.eps = Slider(PARAMS["eps"], 1e-2)
        self.spec = FigureSlot("300px")
        self.observation = ImageSlot("Observation y")
        self.naive = ImageSlot("Naive inverse F⁻¹(ŷ / K̂)")
        self.tikhonov = ImageSlot("Tikhonov (AᵀA + μI)⁻¹Aᵀy")
        controls = W.HBox([W.VBox([self.kernel, self.kernel_size, self.noise, self.eps]), self.spec])
        super().__init__([controls, ImageGrid([self.observation, self.naive, self.tikhonov], 3)], autostart=False)
        for w in (self.kernel, self.kernel_size, self.noise, self.eps):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(120)

    def settings(self):
        return dict(kernel=self.kernel.value, kernel_size=self.kernel_size.value, noise=self.noise.value,
                    eps=self.eps.value)

    def compute(self, s):
        op = Blur(make_kernel(s["kernel"], s["kernel_size"]))
        y = op.observe(self.x, s["noise"] / 255, seed=0)
        naive = naive_inverse(op, y, 0.0)
        tik = naive_inverse(op, y, s["eps"])
        K = spectrum(op, self.x.shape[-2:])
        fig = new_figure(3.2, 2.8)
        ax = fig.add_subplot()
        n = K.shape[-1]
        im = ax.imshow(torch.log10(K.clamp_min(1e-12)).numpy(), cmap="magma", vmin=-6, vmax=0,
                       extent=(-n // 2, n - n // 2, n - n // 2, -n // 2))
        fig.colorbar(im, ax=ax, shrink=0.85, label="log₁₀ |K̂|")
        ax.set_title("spectrum of the blur |K̂|", fontsize=10)
        ax.set_xlabel("horizontal frequency")
        ax.set_ylabel("vertical frequency")
        kmin = float(K.min())
        return dict(s=s, y=y, naive=naive, tik=tik, fig=fig, kmin=kmin, amp=1 / max(kmin, 1e-300))

    def render(self, r):
        s = r["s"]
        self.spec.show_figure(
            r["fig"], f"log₁₀|K̂| of the {s['kernel_size']}×{s['kernel_size']} {s['kernel']} kernel on the "
            f"{self.x.shape[-1]}² grid, zero frequency in the centre (|K̂| = 1 there). Dark = nearly zero: "
            f"the smallest value is {r['kmin']:.1e}, so dividing by K̂ multiplies the noise at that frequency "
            f"by {min(r['amp'], 1e30):.1e}.")
        self.observation.show(r["y"].clamp(0, 1), f"blurred image with noise σ·255 = {s['noise']:.2f}; "
                                                  f"PSNR {psnr(r['y'], self.x):.1f} dB.")
        nv = r["naive"]
        size = float(nv.abs().max())
        p = psnr(nv.clamp(0, 1), self.x)
        if s["noise"] == 0:
            cap = (f"with no noise, dividing by K̂ undoes the blur: PSNR {p:.1f} dB." if p > 30 else
                   f"even without noise K̂ has near-zeros (rounding errors are amplified): PSNR {p:.1f} dB.")
        else:
            cap = (f"the noise divided by tiny |K̂| explodes: values reach {size:.1e} (images live in [0, 1]); "
                   f"PSNR {p:.1f} dB after clipping.")
        self.naive.show(nv.clamp(0, 1), cap)
        pt = psnr(r["tik"].clamp(0, 1), self.x)
        self.tikhonov.show(r["tik"].clamp(0, 1),
                           f"μ = {s['eps']:.1e} damps the frequencies where |K̂|² < μ: PSNR {pt:.1f} dB. Too "
                           "small a μ lets the noise through, too large a μ leaves the blur.")


def spectrum_profiles(n: int = 128, size: int = 9, noise255: float = 1.0):
    """A static figure (with text alternative): |K̂| along the horizontal frequency axis for the three
    kernel types of size ``size`` on an ``n``-pixel grid, against the noise level, on a log scale."""
    from ...figures import figure_html

    fig = new_figure(6.4, 2.9)
    ax = fig.add_subplot()
    lows = {}
    for kind, colour, dash in (("gaussian", OKABE_ITO[0], "-"), ("uniform", OKABE_ITO[1], "--"),
                               ("motion", OKABE_ITO[2], ":")):
        K = spectrum(Blur(make_kernel(kind, size)), (n, n))
        prof = K[n // 2, n // 2:].numpy()
        lows[kind] = float(prof.min())
        ax.semilogy(range(len(prof)), prof.clip(1e-12), color=colour, ls=dash, label=f"{kind} {size}×{size}")
    level = noise255 / 255
    ax.axhline(level, color="#555", ls="--", lw=1)
    ax.text(1, level * 1.4, f"noise level σ = {noise255:g}/255", fontsize=8, color="#555")
    ax.set_xlabel("horizontal frequency index (0 = constant image, right = finest detail)")
    ax.set_ylabel("|K̂|")
    ax.set_ylim(1e-8, 2)
    ax.legend(fontsize=8, loc="lower left")
    alt = (f"Line plot, log scale: the modulus of the transfer function |K̂| of a Gaussian, a uniform and a "
           f"motion kernel of size {size}×{size}, along the horizontal frequency axis of a {n}-pixel image. All "
           f"three start at 1 at frequency 0 and fall with frequency; the Gaussian drops to "
           f"{lows['gaussian']:.0e}, the uniform kernel oscillates with near-zeros down to {lows['uniform']:.0e}. "
           f"Wherever a curve is below the dashed noise level (σ = {noise255:g}/255), the blurred signal is "
           f"smaller than the noise, and dividing by K̂ there amplifies mostly noise.")
    return figure_html(fig, alt)
