"""Lesson 04, the widgets: NLM as an explicit matrix W = D⁻¹K.

* :func:`~.compute.matrix_facts` — row sums, column sums, max|W − Wᵀ|, ρ(W), ‖W‖₂ and the range of the (real)
  eigenvalues of a small W (:func:`pnp_lessons.analysis.eigenvalue_range`), and
  :func:`facts_table` to show them;
* :class:`WeightViewer` — h, patch and window sliders, a pixel picked by its row i and column j:
  the guide with the window Ω_i, the weight map W[(i, j), ·] (``KernelWeights.row``) and the
  denoised image W y; a switch between NLM (W = D⁻¹K) and DSG-NLM (symmetrised).
"""

from __future__ import annotations

import html

import ipywidgets as W
import torch

from ...denoisers.nlm import KernelWeights, nlm_weights
from ...figures import figure_html, new_figure
from ...metrics import psnr
from ...params import Param
from ...widgets.lesson_base import FigureSlot, LessonWidget, Slider
from .compute import PARAMS, matrix_facts, noisy_sample

__all__ = ["WeightViewer", "facts_table"]


DESC = {"description_width": "170px"}


def facts_table(Wk: KernelWeights, name: str = "W") -> object:
    """The facts of :func:`matrix_facts` as an HTML table (a text table, readable by screen readers)."""
    from IPython.display import HTML

    f = matrix_facts(Wk)
    rows = [
        ("size", f"{f['n']} × {f['n']} (one row per pixel), {f['nnz']} non-zero entries"),
        ("row sums Σ_j W_ij", f"from {f['row_min']:.6f} to {f['row_max']:.6f}"),
        ("column sums Σ_i W_ij", f"from {f['col_min']:.4f} to {f['col_max']:.4f}"),
        ("max |W_ij − W_ji|", f"{f['asym']:.2e}" + (" (symmetric)" if f["asym"] < 1e-9 else " (not symmetric)")),
        ("smallest non-zero entry", f"{f['min_entry']:.2e} (> 0: Assumption 2(i))"),
        ("spectral radius ρ(W)", f"{f['rho']:.6f}"),
        ("spectral norm ‖W‖₂", f"{f['norm2']:.6f}"),
        ("eigenvalues (all real)", f"from λ_min = {f['lam_min']:.4f} to λ_max = {f['lam_max']:.6f}"
         + (" (some negative: not positive semidefinite)" if f["lam_min"] < -1e-8 else " (≥ 0)")),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return HTML(f"<table class='pnp-readout' aria-label='facts about {html.escape(name)}'>"
                f"<caption style='text-align:left;font-weight:600'>{html.escape(name)}</caption>{body}</table>")


class WeightViewer(LessonWidget):
    """Pick a pixel and see its NLM weights; h, patch and window sliders; NLM or DSG-NLM."""

    def __init__(self, image: str = "camera", noise255: float = 20.0, autostart: bool = True):
        self.x, self.y = noisy_sample(image, noise255=noise255)
        self.noise255 = noise255
        n = self.x.shape[-1]
        self.h = Slider(PARAMS["h"], 30.0, continuous_update=False)
        self.patch = Slider(PARAMS["patch"], 5, continuous_update=False)
        self.window = Slider(PARAMS["window"], 11, continuous_update=False)
        self.i = Slider(Param("i", "i", "pixel row", 0, n - 1, 1, integer=True), int(0.3 * n))
        self.j = Slider(Param("j", "j", "pixel column", 0, n - 1, 1, integer=True), int(0.45 * n))
        self.kind = W.ToggleButtons(options=[("NLM: W = D⁻¹K", "nlm"), ("DSG-NLM (symmetric)", "dsg")], value="nlm",
                                    description="matrix", style={"description_width": "60px", "button_width": "170px"})
        self.figure = FigureSlot("820px")
        self.readout = W.HTML("")
        self._cache: dict = {}
        controls = W.HBox([W.VBox([self.h, self.patch, self.window]), W.VBox([self.i, self.j, self.kind])])
        super().__init__([controls, self.figure, self.readout], autostart=False)
        for w in (self.h, self.patch, self.window, self.i, self.j, self.kind):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(180)

    def settings(self):
        return dict(h=float(self.h.value), patch=int(self.patch.value), window=int(self.window.value),
                    i=int(self.i.value), j=int(self.j.value), kind=self.kind.value)

    def weights(self, s) -> KernelWeights:
        key = (s["h"], s["patch"], s["window"], s["kind"])
        if key not in self._cache:
            Wk = nlm_weights(self.y, s["patch"], s["window"], h=s["h"] / 255)
            if s["kind"] == "dsg":
                Wk = Wk.symmetrize()
            self._cache = {key: (Wk, Wk.apply(self.y), matrix_facts(Wk, norms=False), Wk.to_sparse().tocsc())}
        return self._cache[key]

    def compute(self, s):
        Wk, den, facts, S = self.weights(s)
        i, j, r = s["i"], s["j"], s["window"] // 2
        m = Wk.row(i, j)
        col = float(S[:, i * Wk.shape[1] + j].sum())
        fig = new_figure(8.2, 2.9)
        a1, a2, a3 = fig.subplots(1, 3)
        a1.imshow(self.y[0, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        from matplotlib.patches import Rectangle

        a1.add_patch(Rectangle((j - r - 0.5, i - r - 0.5), 2 * r + 1, 2 * r + 1, fill=False, ec="#ffbf00", lw=1.5))
        p = s["patch"] // 2
        a1.add_patch(Rectangle((j - p - 0.5, i - p - 0.5), 2 * p + 1, 2 * p + 1, fill=False, ec="#e8413c", lw=1.2))
        a1.set_title(f"noisy guide y, pixel ({i}, {j})", fontsize=9)
        a1.axis("off")
        lo_i, hi_i = max(0, i - r), min(Wk.shape[0], i + r + 1)
        lo_j, hi_j = max(0, j - r), min(Wk.shape[1], j + r + 1)
        crop = m[lo_i:hi_i, lo_j:hi_j].numpy()
        off = m.clone()
        off[i, j] = 0
        vmax = max(float(off.max()), 1e-12)     # colour scale of the neighbours; the own weight W_ii is clipped
        im = a2.imshow(crop, cmap="viridis", vmin=0, vmax=vmax, extent=(lo_j - 0.5, hi_j - 0.5, hi_i - 0.5, lo_i - 0.5))
        a2.plot([j], [i], marker="+", color="#e8413c", ms=10)
        fig.colorbar(im, ax=a2, shrink=0.8)
        a2.set_title("weights W[(i, j), ·] in Ω_i (own weight clipped)", fontsize=8)
        a3.imshow(den[0, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        a3.set_title("denoised W y", fontsize=9)
        a3.axis("off")
        return dict(s=s, fig=fig, row_sum=float(m.sum()), col_sum=col, nnz=int((m > 0).sum()),
                    wmax=float(m.max()), wii=float(m[i, j]), facts=facts, p=psnr(den, self.x), py=psnr(self.y, self.x))

    def render(self, r):
        s, f = r["s"], r["facts"]
        name = "DSG-NLM" if s["kind"] == "dsg" else "NLM"
        cap = (f"Left: the noisy image (σ·255 = {self.noise255:g}) with pixel ({s['i']}, {s['j']}), its {s['patch']}×"
               f"{s['patch']} patch (red) and its {s['window']}×{s['window']} search window Ω_i (yellow). Middle: the "
               f"{r['nnz']} weights of this pixel's row of W, bright where the patch around a neighbour looks like "
               f"the red patch (largest weight {r['wmax']:.3f}, own weight W_ii = {r['wii']:.3f}). Right: the "
               f"{name} denoised image W y, PSNR {r['p']:.2f} dB (noisy: {r['py']:.2f} dB).")
        self.figure.show_figure(r["fig"], cap)
        rows = [("row sum Σ_j W_ij of this pixel", f"{r['row_sum']:.6f}"),
                ("column sum Σ_k W_ki of this pixel", f"{r['col_sum']:.4f}"),
                ("all row sums", f"{f['row_min']:.6f} … {f['row_max']:.6f}"),
                ("all column sums", f"{f['col_min']:.4f} … {f['col_max']:.4f}"),
                ("max |W − Wᵀ| over the matrix", f"{f['asym']:.2e}")]
        self.readout.value = ("<table class='pnp-readout' aria-label='weight facts'>"
                              + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
                              + "</table>")


def weight_maps_figure(x: torch.Tensor, y: torch.Tensor, Wk: KernelWeights, pixels, title: str = ""):
    """A static figure: the weight maps of a few pixels (with text alternative)."""
    fig = new_figure(2.2 * (len(pixels) + 1), 2.4)
    axes = fig.subplots(1, len(pixels) + 1)
    axes[0].imshow(y[0, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    for k, (i, j) in enumerate(pixels):
        axes[0].plot([j], [i], "o", ms=5, mfc="none", mec="#e8413c")
        axes[0].text(j + 1, i - 1, str(k + 1), color="#e8413c", fontsize=8)
        row = Wk.row(i, j).clone()
        own = float(row[i, j])
        row[i, j] = 0
        axes[k + 1].imshow(Wk.row(i, j).numpy(), cmap="viridis", vmin=0, vmax=max(float(row.max()), 1e-12))
        axes[k + 1].set_title(f"{k + 1}: row of pixel ({i}, {j}), W_ii = {own:.2f}", fontsize=8)
    for a in axes:
        a.axis("off")
    alt = (f"{title} Left: the noisy image with {len(pixels)} numbered pixels. Then, for each pixel, its row of W "
           "shown as an image: non-zero only in the square search window around the pixel, bright on neighbours "
           "whose patches resemble the pixel's patch — along the edge or in the flat region it belongs to. The colour "
           "scale stops at the largest weight of a neighbour; the pixel's own weight W_ii, the largest of all (its "
           "patch distance to itself is 0), is clipped and given in each title.")
    return figure_html(fig, alt)
