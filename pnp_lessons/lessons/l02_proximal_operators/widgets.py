"""Lesson 02, the widgets: prox and Moreau envelope of scalar functions, the TV prox, ISTA vs FISTA.

* :class:`MoreauExplorer` — h ∈ {|x|, ½x², ι_[−1,1]} and a τ slider: h, its Moreau envelope M_τh
  and the prox map prox_τh (from :mod:`pnp_lessons.prox`).
* :class:`TVProxExplorer` — a noisy image and prox_{λTV} under a λ slider.
* :class:`IstaFistaRace` — ISTA and FISTA on TV deblurring, side by side, streamed live by the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner` with objective and PSNR curves.
"""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
import torch

from ...figures import new_figure, svg_chart
from ...images import sample
from ...metrics import psnr
from ...operators import Blur, uniform_kernel
from ...prox import moreau_envelope, scalar_prox, scalar_value, tv, tv_prox
from ...runtime import is_fast
from ...widgets.lesson_base import FigureSlot, ImageSlot, LessonWidget, Slider
from ...widgets.panel import ImageGrid
from .compute import FUNCTIONS, PARAMS, image_size, race

__all__ = ["MoreauExplorer", "TVProxExplorer", "IstaFistaRace"]


DESC = {"description_width": "170px"}


class MoreauExplorer(LessonWidget):
    """h, its Moreau envelope and its prox, for three scalar functions, under a τ slider."""

    def __init__(self, function: str = "abs", tau: float = 1.0, autostart: bool = True):
        self.function = W.Dropdown(options=[(v, k) for k, v in FUNCTIONS.items()], value=function,
                                   description="function h", style=DESC, layout=W.Layout(width="460px"))
        self.tau = Slider(PARAMS["tau"], tau)
        self.figure = FigureSlot("720px")
        super().__init__([self.function, self.tau, self.figure], autostart=False)
        self.function.observe(self.refresh, "value")
        self.tau.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(60)

    def settings(self):
        return dict(function=self.function.value, tau=float(self.tau.value))

    def compute(self, s):
        f, tau = s["function"], s["tau"]
        x = np.linspace(-3, 3, 601)
        h = scalar_value(f, x)
        m = moreau_envelope(f, x, tau)
        p = scalar_prox(f, x, tau)
        fig = new_figure(7.2, 2.8)
        a1, a2 = fig.subplots(1, 2)
        hh = np.where(np.isfinite(h), h, np.nan)
        a1.plot(x, hh, color="#333", lw=2, label="h(x)")
        if f == "box":
            a1.vlines([-1, 1], 0, 3.2, color="#333", lw=2)
            a1.text(1.6, 2.6, "+∞", fontsize=11)
            a1.text(-2.4, 2.6, "+∞", fontsize=11)
        a1.plot(x, m, color="#1f77b4", lw=2, label=f"Moreau envelope M_τh, τ = {tau:.2f}")
        a1.set_ylim(-0.2, 3.2)
        a1.set_xlabel("x")
        a1.legend(fontsize=8, loc="upper center")
        a1.set_title("h and its Moreau envelope", fontsize=10)
        a2.plot(x, x, color="#bbb", ls="--", lw=1, label="identity x")
        a2.plot(x, p, color="#d62728", lw=2, label=f"prox_τh(x), τ = {tau:.2f}")
        a2.set_xlabel("x")
        a2.set_ylim(-3, 3)
        a2.legend(fontsize=8, loc="upper left")
        a2.set_title("the proximal map", fontsize=10)
        if f == "abs":
            cap = (f"Left: |x| (black) and its Moreau envelope (blue), the Huber function: x²/(2τ) for |x| ≤ τ = "
                   f"{tau:.2f}, then |x| − τ/2 — a smooth version of |x| that lies below it. Right: the prox is "
                   f"soft-thresholding, flat at 0 on [−{tau:.2f}, {tau:.2f}] and shifted towards 0 by τ outside.")
        elif f == "square":
            cap = (f"Left: ½x² (black) and its Moreau envelope x²/(2(1 + τ)) (blue), a flatter parabola. Right: "
                   f"the prox is the linear shrinkage x/(1 + τ) = x/{1 + tau:.2f}, a line through 0 of slope "
                   f"{1 / (1 + tau):.2f}.")
        else:
            cap = ("Left: the indicator of [−1, 1] (0 inside, a wall at ±1, +∞ outside) and its Moreau envelope "
                   "dist(x, [−1, 1])²/(2τ) (blue), 0 inside and a parabola outside that is steeper for small τ. "
                   "Right: the prox is the projection onto [−1, 1], the same for every τ (it clips x).")
        return dict(fig=fig, caption=cap)

    def render(self, r):
        self.figure.show_figure(r["fig"], r["caption"])


class TVProxExplorer(LessonWidget):
    """A noisy image z and prox_{λTV}(z) = argmin_x ½‖x − z‖² + λ TV(x) under a λ slider."""

    def __init__(self, image: str = "camera", lam: float = 0.08, noise: float = 25.0, autostart: bool = True):
        self.x = sample(image, size=image_size(), grey=True)
        self.lam = Slider(PARAMS["lam_tv"], lam)
        self.noise = Slider(PARAMS["noise"], noise)
        self.noisy = ImageSlot("Noisy image z")
        self.result = ImageSlot("prox_λTV(z)")
        self.truth = ImageSlot("Ground truth x")
        super().__init__([self.lam, self.noise, ImageGrid([self.noisy, self.result, self.truth], 3)], autostart=False)
        self.lam.observe(self.refresh, "value")
        self.noise.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(120)

    def settings(self):
        return dict(lam=float(self.lam.value), noise=float(self.noise.value))

    def compute(self, s):
        g = torch.Generator().manual_seed(0)
        z = self.x + s["noise"] / 255 * torch.randn(self.x.shape, generator=g)
        out, info = tv_prox(z, s["lam"], max_iter=300, tol=1e-5, return_info=True)
        return dict(s=s, z=z, out=out, info=info, tv_z=tv(z), tv_out=tv(out))

    def render(self, r):
        s = r["s"]
        self.truth.show(self.x, "the clean image, for comparison.")
        self.noisy.show(r["z"].clamp(0, 1),
                        f"z = x + noise of σ·255 = {s['noise']:.1f}: PSNR {psnr(r['z'], self.x):.1f} dB, "
                                             f"total variation TV(z) = {r['tv_z']:.0f}.")
        p = psnr(r["out"], self.x)
        self.result.show(r["out"].clamp(0, 1),
                         f"λ = {s['lam']:.3g}: PSNR {p:.1f} dB, TV = {r['tv_out']:.0f}. Small λ keeps the noise; large "
                         f"λ gives flat, cartoon-like regions with sharp edges (staircasing). "
                         f"{r['info']['iterations']} dual iterations.")


class IstaFistaRace(LessonWidget):
    """ISTA vs FISTA on TV deblurring: live iterates and curves; λ, noise and K sliders."""

    wait_first = False

    def __init__(self, image: str = "camera", lam: float = 0.002, noise: float = 2.0, iters: int | None = None,
                 autostart: bool = True):
        self.x = sample(image, size=48 if is_fast() else 96, grey=True)
        self.op = Blur(uniform_kernel(9))
        self.lam = Slider(PARAMS["lam"], lam)
        self.noise = Slider(PARAMS["noise_blur"], noise)
        self.iters = Slider(PARAMS["iters"], iters or (15 if is_fast() else 100))
        self.observation = ImageSlot("Observation y (blurred, noisy)")
        self.ista_view = ImageSlot("ISTA iterate xₖ")
        self.fista_view = ImageSlot("FISTA iterate xₖ")
        self.curves = W.HTML("")
        super().__init__([self.lam, self.noise, self.iters,
                          ImageGrid([self.observation, self.ista_view, self.fista_view], 3), self.curves],
                         autostart=False)
        for w in (self.lam, self.noise, self.iters):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            if is_fast():
                self.wait(120)

    def settings(self):
        return dict(lam=float(self.lam.value), noise=float(self.noise.value), iters=int(self.iters.value))

    def iterate(self, s):
        y = self.op.observe(self.x, s["noise"] / 255, seed=0)
        self._y = y
        return race(self.op, y, s["lam"], x0=y, ref=self.x, max_iter=s["iters"])

    def on_frame(self, f):
        rec = f.record
        if rec is None:
            return
        s = f.settings
        if f.frame_index == 1 or f.final:
                self.observation.show(self._y.clamp(0, 1), "the image blurred by a 9×9 uniform kernel with noise "
                                  f"σ·255 = {s['noise']:.1f}: PSNR {psnr(self._y, self.x):.1f} dB.")
        h = f.history
        k = rec.k
        self.ista_view.show(rec.info["ista_x"].clamp(0, 1), f"ISTA after k = {k} iterations: PSNR "
                            f"{rec.info['ista_psnr']:.2f} dB, F = {rec.info['ista_objective']:.4g}.")
        self.fista_view.show(rec.x.clamp(0, 1), f"FISTA after k = {k} iterations: PSNR {rec.psnr:.2f} dB, "
                                                f"F = {rec.objective:.4g}.")
        io, fo = [r.get("ista_objective") for r in h], [r.get("fista_objective") for r in h]
        ip, fp = [r.get("ista_psnr") for r in h], [r.get("fista_psnr") for r in h]
        ir, fr = [r.get("ista_residual") for r in h], [r.get("fista_residual") for r in h]
        charts = [svg_chart("objective F(xₖ)", [(io, "#d62728", False), (fo, "#1f77b4", False)]),
                  svg_chart("residual ‖xₖ − xₖ₋₁‖ (log)", [(ir, "#d62728", False), (fr, "#1f77b4", False)],
                            log=True),
                  svg_chart("PSNR (dB)", [(ip, "#d62728", False), (fp, "#1f77b4", False)])]
        state = "running" if not f.final else html.escape(f.status.replace("_", " "))
        alt = (f"Three line charts over the iterations k = 1 … {k} ({state}): the objective F(xₖ), the residual "
               f"‖xₖ − xₖ₋₁‖ (log scale) and the PSNR, for ISTA (red) and FISTA (blue). After {k} iterations "
               f"ISTA has F = {io[-1]:.4g} and {ip[-1]:.2f} dB, FISTA F = {fo[-1]:.4g} and {fp[-1]:.2f} dB.")
        self.curves.value = ("<div style='display:flex;gap:6px;flex-wrap:wrap'>" + "".join(charts) + "</div>"
                             "<div style='font-size:12px'><span style='color:#d62728'>━ ISTA</span> &nbsp; "
                             "<span style='color:#1f77b4'>━ FISTA</span></div>"
                             f"<div class='pnp-caption'>{html.escape(alt)}</div>")
