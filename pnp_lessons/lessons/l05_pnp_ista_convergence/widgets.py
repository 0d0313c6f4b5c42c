"""Lesson 05, the widgets: PnP-ISTA with a fixed kernel denoiser as the linear system x_{k+1} = P x_k + q.

* :func:`~.compute.small_problem` — a small inpainting or deblurring problem and its NLM W (frozen from the
  paper's guide), small enough for explicit matrices (:mod:`pnp_lessons.analysis`);
* :func:`rho_curves` — static figure of ρ(P(γ)) against γ for a few kernel widths h;
* :class:`GershgorinExplorer` — γ slider: the Gershgorin discs of P, its eigenvalues and the unit
  circle (the proof of Theorem 4, Fig. 3), with ρ(P) against γ beside it;
* :class:`PnPIstaRuns` — the paper's Fig. 1–2: PnP-ISTA (NLM, W fixed or adaptive) live under a γ
  slider, PSNR and log-residual curves of every finished run overlaid.
"""

from __future__ import annotations

import html
import math

import ipywidgets as W
import numpy as np

from ... import analysis as an
from ...denoisers.nlm import NLM
from ...figures import figure_html, new_figure, svg_chart
from ...metrics import psnr
from ...runtime import is_fast
from ...solvers.pnp_ista import pnp_ista
from ...widgets.lesson_base import FigureSlot, ImageSlot, LessonWidget, Slider
from ...solvers import guarantees
from ...widgets.badge import badge_html
from ...widgets.panel import ImageGrid
from .compute import (NLM_PATCH, NLM_WINDOW, PALETTE, PARAMS, PROBLEMS, STATUS, gamma_grid, image_size, iterations,
                      make_problem, small_problem)

__all__ = ["rho_curves", "GershgorinExplorer", "PnPIstaRuns"]


DESC = {"description_width": "170px"}


def rho_curves(h_values=(20.0, 30.0, 45.0), kind: str = "inpaint", gammas=None):
    """Static figure: ρ(P(γ)) against γ for NLM weights of several widths h, with text alternative."""
    gammas = gamma_grid() if gammas is None else np.asarray(gammas)
    fig = new_figure(6.2, 3.0)
    ax = fig.add_subplot()
    summary = []
    for h, colour in zip(h_values, PALETTE, strict=False):
        pb = small_problem(kind, h)
        rho = an.rho_vs_gamma(pb.W, pb.op, gammas)
        ax.plot(gammas, rho, "o-", ms=3, color=colour, label=f"h·255 = {h:g}")
        unstable = gammas[rho >= 1 - 1e-9]
        summary.append(f"h·255 = {h:g}: ρ stays below 1 up to γ = "
                       f"{gammas[rho < 1 - 1e-9].max():.1f}" + (f" and reaches {rho.max():.2f} at γ = {gammas[-1]:.1f}"
                                                                if len(unstable) else ", the whole range"))
    ax.axhline(1, color="#555", lw=1, ls="--")
    ax.axvspan(0, 1, color="#2ca02c", alpha=0.08)
    ax.text(0.12, ax.get_ylim()[1] * 0.98 if ax.get_ylim()[1] < 2 else 1.9, "Theorem 5: γ < 1", fontsize=8,
            color="#2ca02c", va="top")
    ax.set_xlabel("step size γ")
    ax.set_ylabel("spectral radius ρ(P)")
    ax.legend(fontsize=8)
    n = pb.W.n
    alt = (f"Line plot of the spectral radius ρ(P) of P = W(I − γAᵀA) against the step size γ from {gammas[0]:g} to "
           f"{gammas[-1]:g}, for {'inpainting' if kind == 'inpaint' else 'deblurring'} on a "
           f"{int(math.sqrt(n))}×{int(math.sqrt(n))} image and NLM weights of three "
           f"widths; the dashed line is ρ = 1, the green band γ < 1 is Theorem 5's guarantee. "
           + "; ".join(summary) + ".")
    return figure_html(fig, alt)


class GershgorinExplorer(LessonWidget):
    """γ slider → Gershgorin discs and eigenvalues of P = W(I − γAᵀA) in the complex plane; ρ(P) against γ."""

    def __init__(self, kind: str = "inpaint", gamma: float = 0.9, h255: float = 30.0, autostart: bool = True):
        self.gamma = Slider(PARAMS["gamma"], gamma)
        self.h = Slider(PARAMS["h"], h255, continuous_update=False)
        self.kind = W.Dropdown(options=[(v, k) for k, v in PROBLEMS.items()], value=kind, description="problem",
                               style=DESC, layout=W.Layout(width="460px"))
        self.figure = FigureSlot("820px")
        self.readout = W.HTML("")
        self._cache: dict = {}
        super().__init__([self.kind, self.h, self.gamma, self.figure, self.readout], autostart=False)
        for w in (self.gamma, self.h, self.kind):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(300)

    def settings(self):
        return dict(kind=self.kind.value, h=float(self.h.value), gamma=float(self.gamma.value))

    def _base(self, kind, h):
        key = (kind, h)
        if key not in self._cache:
            pb = small_problem(kind, h)
            gammas = gamma_grid()
            rho = an.rho_vs_gamma(pb.W, pb.op, gammas)
            a2 = an.check_assumption_2(pb.W, pb.op)
            self._cache = {key: (pb, gammas, rho, a2)}
        return self._cache[key]

    def compute(self, s):
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Circle

        pb, gammas, rhos, a2 = self._base(s["kind"], s["h"])
        g = s["gamma"]
        P = an.system_matrix(pb.W, pb.op, g)
        G = an.gershgorin(P)
        ev = np.linalg.eigvals(P.toarray())
        rho = float(np.abs(ev).max())
        fig = new_figure(8.2, 3.4)
        a1, a2x = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        t = np.linspace(0, 2 * np.pi, 400)
        a1.plot(np.cos(t), np.sin(t), color="#333", lw=1.6, zorder=4)
        inside = [Circle((c, 0), r) for c, r, ok in zip(G.centres, G.radii, G.inside, strict=False) if ok]
        outside = [Circle((c, 0), r) for c, r, ok in zip(G.centres, G.radii, G.inside, strict=False) if not ok]
        a1.add_collection(PatchCollection(inside, facecolor="none", edgecolor="#1f77b4", alpha=0.25, lw=0.6))
        if outside:
            a1.add_collection(PatchCollection(outside, facecolor="none", edgecolor="#d62728", alpha=0.35, lw=0.6))
        a1.plot(ev.real, ev.imag, ".", color="#111", ms=3, zorder=5)
        a1.set_xlim(-1.7, 1.4)
        a1.set_ylim(-1.3, 1.3)
        a1.set_aspect("equal")
        a1.set_xlabel("Re")
        a1.set_ylabel("Im")
        a1.set_title(f"discs of P and its eigenvalues, γ = {g:.2f}", fontsize=9)
        a2x.plot(gammas, rhos, "o-", ms=3, color="#1f77b4")
        a2x.axhline(1, color="#555", ls="--", lw=1)
        a2x.axvspan(0, 1, color="#2ca02c", alpha=0.08)
        a2x.plot([g], [rho], "o", color="#d62728", ms=7)
        a2x.set_xlabel("step size γ")
        a2x.set_ylabel("ρ(P)")
        a2x.set_title("spectral radius against γ", fontsize=9)
        return dict(s=s, fig=fig, G=G, rho=rho, n=pb.W.n, a2=a2, ev_real=bool(np.abs(ev.imag).max() < 1e-8),
                    lo=float((G.centres - G.radii).min()), hi=float((G.centres + G.radii).max()),
                    t5=an.theorem5_bound(pb.W, pb.op) if pb.task == "inpaint" else None)

    def render(self, r):
        s, G = r["s"], r["G"]
        nout = int((~G.inside).sum())
        verdict = ("all discs lie inside the unit circle, so ρ(P) < 1 by Gershgorin's theorem"
                   if G.all_inside else f"{nout} of {r['n']} discs reach the unit circle or beyond (red), so the "
                                        "disc test proves nothing")
        cap = (f"Left: the {r['n']} Gershgorin discs of P = W(I − γAᵀA) for {PROBLEMS[s['kind']].lower()} on a "
               f"{int(math.sqrt(r['n']))}² crop, γ = {s['gamma']:.2f}, centres P_ii on the real axis, with the "
               f"eigenvalues of P (black dots) and the unit circle: {verdict}. The discs span "
               f"[{r['lo']:.3f}, {r['hi']:.3f}] on the real axis. Right: ρ(P) against γ (red dot: current γ = "
               f"{s['gamma']:.2f}, ρ = {r['rho']:.4f}); the dashed line is ρ = 1, the green band is γ < 1.")
        self.figure.show_figure(r["fig"], cap)
        rows = [("ρ(P)", f"{r['rho']:.5f} → " + ("converges (Theorem 1)" if r["rho"] < 1 - 1e-9 else "no convergence")),
                ("max_i P_ii + R_i", f"{r['hi']:.5f} (must be < 1)"),
                ("min_i P_ii − R_i", f"{r['lo']:.5f} (must be > −1)"),
                ("Assumption 2", r["a2"].message)]
        if r["t5"] is not None:
            rows.append(("Theorem 5", "every window sees an observed pixel: convergence guaranteed for γ ∈ (0, 1)"
                         if r["t5"] == 1.0 else "a window has no observed pixel: Theorem 5 does not apply"))
        self.readout.value = ("<table class='pnp-readout' aria-label='Gershgorin readout'>"
                              + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
                              + "</table>")


class PnPIstaRuns(LessonWidget):
    """The paper's Fig. 1–2 live: PnP-ISTA with NLM under a γ slider, W fixed or adaptive; curves overlaid."""

    wait_first = False

    def __init__(self, kind: str = "inpaint", gamma: float = 0.9, h255: float = 20.0, iters: int | None = None,
                 autostart: bool = True):
        self.size = image_size()
        self.gamma = Slider(PARAMS["gamma"], gamma)
        self.h = Slider(PARAMS["h"], h255, continuous_update=False)
        self.mode = W.ToggleButtons(options=[("W fixed (linear)", "fixed"), ("W adaptive (from xₖ)", "adaptive")],
                                    value="fixed", description="NLM weights", style={"description_width": "90px"})
        self.kind = W.Dropdown(options=[(v, k) for k, v in PROBLEMS.items()], value=kind, description="problem",
                               style=DESC, layout=W.Layout(width="460px"))
        self.iters = Slider(PARAMS["iters"], iters or iterations())
        self.presets = [W.Button(description=f"γ = {g:g}", layout=W.Layout(width="80px"),
                                 tooltip=f"run with γ = {g:g} (as in Fig. 2)") for g in (0.5, 0.9, 1.0, 2.0, 2.1)]
        for b, g in zip(self.presets, (0.5, 0.9, 1.0, 2.0, 2.1), strict=False):
            b.on_click(lambda _, g=g: self.gamma.set(g))
        self.clear_button = W.Button(description="Clear curves", icon="trash", tooltip="forget the finished runs")
        self.clear_button.on_click(lambda _: self.clear_runs())
        self.observation = ImageSlot("Observation y", name="observation")
        self.iterate_view = ImageSlot("Current iterate xₖ", name="iterate")
        self.truth = ImageSlot("Ground truth x", name="truth")
        self.error_view = ImageSlot("Error |xₖ − x|", name="error")
        self.curves = W.HTML("")
        self.runs: dict = {}
        self._problems: dict = {}
        self.badge = W.HTML("")      # the theory for the current settings
        super().__init__([self.kind, self.mode, self.gamma, self.badge, W.HBox(self.presets + [self.clear_button]),
                          self.h, self.iters,
                          ImageGrid([self.observation, self.iterate_view, self.truth, self.error_view], 4),
                          self.curves],
                         autostart=False)
        for w in (self.gamma, self.h, self.mode, self.kind, self.iters):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            if is_fast():
                self.wait(300)

    def clear_runs(self):
        self.runs = {}
        self.curves.value = ""

    def settings(self):
        return dict(kind=self.kind.value, mode=self.mode.value, gamma=float(self.gamma.value),
                    h=float(self.h.value), iters=int(self.iters.value))

    def problem(self, kind):
        if kind not in self._problems:
            self._problems[kind] = make_problem(kind, size=self.size)
        return self._problems[kind]

    def iterate(self, s):
        pb = self.problem(s["kind"])
        cfg = NLM(NLM_PATCH, NLM_WINDOW, h=s["h"] / 255)
        return pnp_ista(pb.op, pb.y, cfg, gamma=s["gamma"], x0=pb.x0, guide=pb.x0, ref=pb.x_true, mode=s["mode"],
                        max_iter=s["iters"], tol=1e-7)

    @staticmethod
    def label(s) -> str:
        return (f"γ = {s['gamma']:.2f}, h·255 = {s['h']:g}, W {s['mode']}"
                + (" (deblur)" if s["kind"] == "deblur" else ""))

    def on_frame(self, f):
        rec, s = f.record, f.settings
        if rec is None:
            return
        pb = self.problem(s["kind"])
        x, y, guide = pb.x_true, pb.y, pb.x0
        if f.frame_index == 1:
            self.badge.value = badge_html(*guarantees.pnp_ista(
                {"operator": s["kind"], "denoiser": "nlm" if s["mode"] == "fixed" else "nlm-adaptive",
                 "gamma": s["gamma"]}, pb, window=NLM_WINDOW))
            cap = ("80 % of the pixels missing (black), noise σ·255 = 10" if s["kind"] == "inpaint"
                   else "3×3 uniform blur, noise σ·255 = 2")
            self.observation.show(y.clamp(0, 1), f"{cap}; PnP-ISTA starts from the median-filtered observation "
                                                 f"(PSNR {psnr(guide, x):.2f} dB), which is also the NLM guide.")
            self.truth.show(x, f"the {x.shape[-1]}×{x.shape[-1]} ground truth.")
        label = self.label(s)
        state = {"running": "running", "converged": "converged", "max_iter": "stopped at K", "diverged": "DIVERGED",
                 "stopped": "stopped"}.get(f.status, f.status)
        self.iterate_view.show(rec.x.clamp(0, 1), f"{label}: iteration k = {rec.k}, PSNR {rec.psnr:.2f} dB, "
                                                  f"residual ‖xₖ − xₖ₋₁‖ = {rec.residual:.2e} ({state}).")
        self.error_view.show_error(rec.x.clamp(0, 1), x, f"xₖ at k = {rec.k}")
        if f.final and f.status in ("converged", "max_iter", "diverged"):
            self.runs[label] = (list(f.history), f.status)
        series_p, series_r, legend = [], [], []
        items = [(k, v) for k, v in self.runs.items() if k != label]
        if not f.final or label not in self.runs:
            items.append((label, (f.history, "running")))
        else:
            items.append((label, self.runs[label]))
        for n, (lab, (hist, status)) in enumerate(items[-len(PALETTE):]):
            c = PALETTE[n % len(PALETTE)]
            series_p.append(([h.get("psnr") for h in hist], c, "adaptive" in lab))
            series_r.append(([h.get("residual") for h in hist], c, "adaptive" in lab))
            last = hist[-1] if hist else {}
            legend.append((lab, c, status, last.get("psnr"), last.get("residual"), len(hist)))
        charts = [svg_chart("PSNR (dB)", series_p),
                  svg_chart("residual ‖xₖ − xₖ₋₁‖ (log)", series_r, log=True)]
        leg = "".join(f"<div><span style='color:{c}'>━━</span> {html.escape(lab)}: {html.escape(STATUS.get(st, st))}, "
                      f"{n} iterations, last PSNR {p if p is None else format(p, '.2f')} dB</div>"
                      for lab, c, st, p, _, n in legend)
        alt = ("Two line charts over the iterations k: PSNR of xₖ against the ground truth, and the residual "
               "‖xₖ − xₖ₋₁‖ on a log scale, one curve per run (dashed: adaptive W). A residual that falls steadily "
               "means the iterates converge; one that turns upwards means they diverge. Runs: "
               + "; ".join(f"{lab} — {STATUS.get(st, st)} after {n} iterations"
                           + (f", PSNR {p:.2f} dB" if p is not None and math.isfinite(p) else "")
                           for lab, c, st, p, _, n in legend) + ".")
        self.curves.value = ("<div style='display:flex;gap:8px;flex-wrap:wrap'>" + "".join(charts) + "</div>"
                             f"<div style='font-size:12px'>{leg}</div>"
                             f"<div class='pnp-caption'>{html.escape(alt)}</div>")
