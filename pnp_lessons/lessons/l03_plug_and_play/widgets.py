"""Lesson 03, the widgets: plug-and-play — replace the prox of ISTA by a denoiser.

* :func:`~.compute.make_problem` — the lesson's two problems (inpainting as in Gavaskar & Chaudhury, Gaussian
  deblurring), small in CI-fast mode.
* :func:`~.compute.make_denoiser` — D for PnP-ISTA: the TV prox (PnP-ISTA is then ISTA), NLM with W fixed,
  NLM with W recomputed every step (adaptive), or the GS-DRUNet denoiser used as a plain D.
* :class:`PnPIstaExplorer` — PnP-ISTA streamed live by the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner` under γ and σ sliders, with the residual and PSNR
  curves and the solver's own message (``'diverged'`` included).
* :func:`~.compute.guarantee_table` — the same runs to completion for a few (denoiser, γ) pairs: where there is
  a guarantee and where there is none, with the residual curves as a figure with a text alternative.

The math is in :mod:`pnp_lessons.solvers.pnp_ista`; nothing here computes more than a call.
"""

from __future__ import annotations

import html
import math

import ipywidgets as W

from ...figures import svg_chart
from ...metrics import psnr
from ...runtime import is_fast
from ...widgets.lesson_base import LessonWidget, Slider
from ...widgets.panel import ImageGrid, ImageSlot
from ...widgets.badge import badge_html
from .compute import DENOISERS, PARAMS, SHORT, TASKS, Problem, guarantee, iterations, make_problem, solve

__all__ = ["PnPIstaExplorer", "rho_table_html"]


DESC = {"description_width": "170px"}


def _status_html(status: str, message: str) -> str:
    colour = {"diverged": "#fde2e1", "error": "#fde2e1", "converged": "#e7f6e7"}.get(status, "#eef6ff")
    return (f"<div class='pnp-message' role='status' style='background:{colour};padding:4px 8px;border-radius:4px'>"
            f"<b>{html.escape(status.replace('_', ' '))}</b>: {html.escape(message)}</div>")


def _curves_html(history: list[dict], title_extra: str = "") -> str:
    res = [h.get("residual") for h in history]
    ps = [h.get("psnr") for h in history]
    charts = [svg_chart("residual ‖xₖ − xₖ₋₁‖ (log)", [(res, "#1f77b4", False)], log=True),
              svg_chart("PSNR (dB)", [(ps, "#1f77b4", False)])]
    k = len(history)
    fin = [v for v in res if v is not None and math.isfinite(v)]
    trend = ""
    if len(fin) >= 4:
        trend = ("decreasing" if fin[-1] < 0.5 * min(fin[:3]) else
                 "growing" if fin[-1] > 2 * min(fin) else "not decreasing")
    last_p = next((p for p in reversed(ps) if p is not None), None)
    alt = (f"Two line charts over iterations 1 to {k}{title_extra}: the residual ‖xₖ − xₖ₋₁‖ on a log scale"
           + (f" ({trend}; last value {fin[-1]:.3g})" if fin else "")
           + (f" and the PSNR (last value {last_p:.2f} dB)." if last_p is not None else "."))
    return ("<div style='display:flex;gap:6px;flex-wrap:wrap'>" + "".join(charts) + "</div>"
            f"<div class='pnp-caption'>{html.escape(alt)}</div>")


class PnPIstaExplorer(LessonWidget):
    """PnP-ISTA x_{k+1} = D(x_k − γAᵀ(Ax_k − y)) live, under γ and σ sliders, for four denoisers."""

    wait_first = False

    def __init__(self, gs=None, task: str = "inpaint", denoiser: str = "nlm", gamma: float = 0.9,
                 sigma: float = 15.0, autostart: bool = True):
        self.gs = gs
        self._problems: dict = {}
        dens = [(v, k) for k, v in DENOISERS.items() if k != "gs" or gs is not None]
        self.task = W.Dropdown(options=[(v, k) for k, v in TASKS.items()], value=task, description="problem",
                               style=DESC, layout=W.Layout(width="520px"))
        self.denoiser = W.Dropdown(options=dens, value=denoiser, description="denoiser D", style=DESC,
                                   layout=W.Layout(width="520px"))
        self.gamma = Slider(PARAMS["gamma"], gamma)
        self.sigma = Slider(PARAMS["sigma"], sigma)
        self.observation = ImageSlot("Observation y", name="observation")
        self.iterate_view = ImageSlot("PnP-ISTA iterate xₖ", name="iterate")
        self.truth = ImageSlot("Ground truth x", name="truth")
        self.error_view = ImageSlot("Error |xₖ − x|", name="error")
        self.curves = W.HTML("")
        self.outcome = W.HTML("")
        self.badge = W.HTML("")      # the theory for the current settings
        super().__init__([self.task, self.denoiser, self.gamma, self.sigma, self.badge,
                          ImageGrid([self.observation, self.iterate_view, self.truth, self.error_view], 4),
                          self.curves, self.outcome], autostart=False)
        for w in (self.task, self.denoiser):
            w.observe(self.refresh, "value")
        for w in (self.gamma, self.sigma):
            w.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            if is_fast():
                self.wait(150)

    def problem(self, task: str) -> Problem:
        if task not in self._problems:
            dev = None
            if self.gs is not None:
                dev = next(self.gs.parameters()).device
            self._problems[task] = make_problem(task, device=dev)
        return self._problems[task]

    def settings(self):
        return dict(task=self.task.value, denoiser=self.denoiser.value, gamma=float(self.gamma.value),
                    sigma=float(self.sigma.value))

    def iterate(self, s):
        pb = self.problem(s["task"])
        return solve(pb, s["denoiser"], s["gamma"], s["sigma"], self.gs)

    def on_frame(self, f):
        rec = f.record
        s = f.settings
        pb = self.problem(s["task"])
        if f.frame_index == 1 or f.final:
            self.badge.value = badge_html(*guarantee(s["task"], s["denoiser"], s["gamma"], pb))
            self.observation.show(pb.y_display, f"{pb.describe()}: PSNR {psnr(pb.y, pb.x_true):.1f} dB.")
            self.truth.show(pb.x_true, "the clean image, for comparison.")
        if rec is None:
            return
        label = SHORT[s["denoiser"]]
        self.iterate_view.show(rec.x.clamp(0, 1),
                               f"{label}, γ = {s['gamma']:.2f}, σ·255 = {s['sigma']:.1f}: iteration k = {rec.k}, "
                               f"PSNR {rec.psnr:.2f} dB" + ("" if rec.status != "diverged"
                                                           else " (last finite iterate)") + ".")
        self.error_view.show_error(rec.x.clamp(0, 1), pb.x_true, f"xₖ at k = {rec.k}")
        self.curves.value = _curves_html(f.history)
        if f.final:
            self.outcome.value = _status_html(f.status, f.message or "done")
        else:
            self.outcome.value = _status_html("running", f"iteration {rec.k} of at most {iterations()}")


def rho_table_html(rows) -> object:
    """The rows of :func:`rho_beyond_two` as an HTML table."""
    from IPython.display import HTML

    head = "<tr><th>h·255</th><th>γ</th><th>ρ(P)</th><th>PnP-ISTA run</th><th>iterations</th><th>PSNR (dB)</th></tr>"
    body = "".join(f"<tr><td>{r['h255']:g}</td><td>{r['gamma']:g}</td><td>{r['rho']:.3f}</td>"
                   f"<td><b>{html.escape(r['status'])}</b></td><td>{r['iterations']}</td>"
                   f"<td>{r['psnr']:.2f}</td></tr>" for r in rows)
    return HTML("<table class='pnp-readout' aria-label='spectral radius of P and the run at γ beyond 2'>"
                + head + body + "</table>")


def table_html(rows) -> object:
    """The rows of :func:`guarantee_table` as an HTML table (IPython display object)."""
    from IPython.display import HTML

    head = ("<tr><th>denoiser</th><th>γ</th><th>setting</th><th>status</th><th>iterations</th>"
            "<th>PSNR (dB)</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(r['denoiser'])}</td><td>{r['gamma']:g}</td><td>{html.escape(r['comment'])}</td>"
        f"<td><b>{html.escape(r['status'])}</b></td><td>{r['iterations']}</td>"
        f"<td>{'—' if r['psnr'] is None else format(r['psnr'], '.2f')}</td></tr>" for r in rows)
    msgs = "".join(f"<li><b>{html.escape(r['denoiser'])}, γ = {r['gamma']:g}</b>: {html.escape(r['message'])}</li>"
                   for r in rows if r["status"] == "diverged")
    return HTML("<table class='pnp-readout' aria-label='PnP-ISTA runs and their outcome'>" + head + body + "</table>"
                + (f"<p>What the solver said when it stopped a diverging run:</p><ul>{msgs}</ul>" if msgs else ""))
