"""Lesson 07, the widgets: GS-PnP, a plug-and-play algorithm that provably decreases F = f + λ g_σ.

* :func:`~.compute.make_problem` — motion deblurring (a Levin et al. kernel when the data folder is present, else a
  generated camera-shake kernel) at noise 7.65/255, and super-resolution ×2 (Gaussian kernel, std 1.2) at
  2.55/255, with the reference's parameters from :func:`pnp_lessons.solvers.gs_pnp.preset`.
* :class:`GSPnPExplorer` — GS-PnP streamed live by the shared :class:`~pnp_lessons.widgets.runner.LiveRunner`
  under λ, σ and initial-τ sliders (backtracking on or off): xₖ, zₖ, F(xₖ) decreasing, τₖ and the rejected trials.
* :func:`~.compute.backtracking_runs` / :func:`~.compute.backtracking_figure` — F and τ of runs started at
  several τ, with the iterations where trial steps were rejected marked.
* :func:`~.compute.compare_with_pnp_ista` — GS-PnP and PnP-ISTA with a fixed NLM W on the same problem.

The math is in :mod:`pnp_lessons.solvers.gs_pnp`.
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
from ...solvers import guarantees
from ...widgets.badge import badge_html
from .compute import PARAMS, TASKS, Problem, defaults, make_problem, solve

__all__ = ["GSPnPExplorer", "comparison_html"]


DESC = {"description_width": "170px"}


def _charts(history: list[dict]) -> str:
    F = [h.get("objective") for h in history]
    tau = [h.get("tau") for h in history]
    px = [h.get("psnr") for h in history]
    pz = [h.get("psnr_z") for h in history]
    rej = [h.get("rejected") or 0 for h in history]
    flagged = [i + 1 for i, r in enumerate(rej) if r]     # iterations where backtracking rejected a trial
    charts = [svg_chart("F(xₖ) = f + λg_σ", [(F, "#1f77b4", False)], marks=flagged,
                        mark_label="rejected"),
              svg_chart("step τₖ (log)", [(tau, "#2ca02c", False)], log=True, marks=flagged,
                        mark_label="rejected"),
              svg_chart("PSNR (dB): xₖ solid, zₖ dashed", [(px, "#1f77b4", False), (pz, "#ff7f0e", True)])]
    k = len(history)
    Fv = [v for v in F if v is not None and math.isfinite(v)]
    dec = all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(Fv, Fv[1:], strict=False))
    where = [f"{i + 1} ({r})" for i, r in enumerate(rej) if r]
    alt = (f"Three line charts over iterations 1 to {k}. F(xₖ) goes from {Fv[0]:.4g} to {Fv[-1]:.4g} and "
           f"{'never increases' if dec else 'increases at least once'}. "
           f"The step τ goes from {tau[0]:.3g} to {tau[-1]:.3g}. "
           + (f"Rejected trial steps at iterations (count): {', '.join(where[:12])}{' …' if len(where) > 12 else ''}. "
              if where else "No trial step was rejected. ")
           + (f"PSNR of xₖ: {px[-1]:.2f} dB, of zₖ: {pz[-1]:.2f} dB at the last iteration." if px[-1] is not None
              and pz[-1] is not None else ""))
    return ("<div style='display:flex;gap:6px;flex-wrap:wrap'>" + "".join(charts) + "</div>"
            f"<div class='pnp-caption'>{html.escape(alt)}</div>")


class GSPnPExplorer(LessonWidget):
    """GS-PnP live: z = x − τλ∇g_σ(x), x⁺ = prox_{τf}(z), with Armijo backtracking on τ."""

    wait_first = False

    def __init__(self, D, task: str = "deblur-motion", lam: float | None = None, sigma: float | None = None,
                 tau_lam: float = 1.0, backtracking: bool = True, autostart: bool = True):
        self.D = D
        self._problems: dict = {}
        d = defaults(task)
        self.task = W.Dropdown(options=[(v, k) for k, v in TASKS.items()], value=task, description="problem",
                               style=DESC, layout=W.Layout(width="520px"))
        self.lam = Slider(PARAMS["lam"], lam if lam is not None else d["lam"])
        self.sigma = Slider(PARAMS["sigma"], sigma if sigma is not None else d["sigma"])
        self.tau_lam = Slider(PARAMS["tau_lam"], tau_lam)
        self.backtracking = W.Checkbox(value=backtracking, description="Armijo backtracking (γ_bt = 0.1, η = 0.9)",
                                       indent=False)
        self.preset_button = W.Button(description="paper's λ and σ", icon="undo",
                                      tooltip="set λ and σ to the reference's values for this problem")
        self.preset_button.on_click(lambda _: self.use_preset())
        self.observation = ImageSlot("Observation y", name="observation")
        self.x_view = ImageSlot("xₖ = prox_τf(zₖ₋₁)", name="iterate")
        self.z_view = ImageSlot("zₖ = xₖ − τλ∇g_σ(xₖ)", name="z")
        self.truth = ImageSlot("Ground truth x", name="truth")
        self.error_view = ImageSlot("Error |zₖ − x|", name="error")
        self.curves = W.HTML("")
        self.outcome = W.HTML("")
        self.badge = W.HTML("")      # the theory for the current settings
        super().__init__([self.task, self.lam, self.sigma, self.tau_lam,
                          W.HBox([self.backtracking, self.preset_button, self.badge]),
                          ImageGrid([self.observation, self.x_view, self.z_view, self.truth, self.error_view], 5),
                          self.curves, self.outcome], autostart=False)
        self.task.observe(self._task_changed, "value")
        for w in (self.lam, self.sigma, self.tau_lam):
            w.observe(self.refresh, "value")
        self.backtracking.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            if is_fast():
                self.wait(150)

    def use_preset(self):
        d = defaults(self.task.value)
        self.runner.stop()
        self.lam.set(d["lam"])
        self.sigma.set(d["sigma"])
        self.refresh()

    def _task_changed(self, _=None):
        self.use_preset()

    def problem(self, task: str) -> Problem:
        if task not in self._problems:
            self._problems[task] = make_problem(task, device=next(self.D.parameters()).device)
        return self._problems[task]

    def settings(self):
        return dict(task=self.task.value, lam=float(self.lam.value), sigma=float(self.sigma.value),
                    tau_lam=float(self.tau_lam.value), backtracking=bool(self.backtracking.value))

    def iterate(self, s):
        pb = self.problem(s["task"])
        return solve(pb, self.D, s["sigma"], s["lam"], s["tau_lam"], s["backtracking"])

    def on_frame(self, f):
        s = f.settings
        pb = self.problem(s["task"])
        if f.frame_index == 1 or f.final:
            self.badge.value = badge_html(*guarantees.gs_pnp(s))
            self.observation.show(pb.y_display, f"{pb.describe()}: the input of GS-PnP.")
            self.truth.show(pb.x_true, "the clean image, for comparison.")
        rec = f.record
        if rec is None:
            return
        info = rec.info
        self.x_view.show(rec.x.clamp(0, 1), f"x after k = {rec.k} iterations: PSNR {rec.psnr:.2f} dB, "
                                            f"F = {rec.objective:.5g}.")
        if "z" in info:
            self.z_view.show(info["z"].clamp(0, 1), f"z = x − τλ∇g_σ(x) at k = {rec.k}: PSNR "
                                                    f"{info.get('psnr_z', float('nan')):.2f} dB.")
            self.error_view.show_error(info["z"].clamp(0, 1), pb.x_true, f"zₖ at k = {rec.k} (what GS-PnP returns)")
        self.curves.value = _charts(f.history)
        line = (f"k = {rec.k}: τ = {info.get('tau', float('nan')):.3g}, rejected trials in this iteration "
                f"{info.get('rejected', 0)}, in total {info.get('rejected_total', 0)}; F increased at "
                f"{info.get('F_increases', 0)} iterations.")
        if f.final:
            colour = "#e7f6e7" if f.status == "converged" else ("#fde2e1" if f.status in ("diverged", "error")
                                                               else "#eef6ff")
            self.outcome.value = (f"<div class='pnp-message' role='status' style='background:{colour};padding:4px 8px'>"
                                  f"<b>{html.escape(f.status.replace('_', ' '))}</b>: {html.escape(f.message)}<br>"
                                  f"{html.escape(line)}</div>")
        else:
            self.outcome.value = f"<div class='pnp-message' role='status'>running — {html.escape(line)}</div>"


def comparison_html(rows, problem: Problem):
    """The comparison as a table plus the images, each with a caption (IPython HTML)."""
    import base64

    from IPython.display import HTML

    from ...images import to_png_bytes

    body = "".join(f"<tr><td>{html.escape(r['method'])}</td><td>{r['psnr']:.2f}</td><td>{r['iterations']}</td>"
                   f"<td>{r['seconds']:.1f}</td><td>{html.escape(r['status'])}</td><td>{html.escape(r['objective'])}</td></tr>"
                   for r in rows)
    table = ("<table class='pnp-readout' aria-label='GS-PnP against PnP-ISTA with NLM'><tr><th>method</th>"
             "<th>PSNR (dB)</th><th>iterations</th><th>seconds</th><th>status</th><th>objective</th></tr>" + body
             + "</table>")

    def fig(img, cap):
        b = base64.b64encode(to_png_bytes(img.clamp(0, 1))).decode()
        return (f"<figure style='margin:0 8px 0 0;width:170px'><img src='data:image/png;base64,{b}' "
                f"alt='{html.escape(cap, quote=True)}' style='width:170px;image-rendering:pixelated'/>"
                f"<figcaption class='pnp-caption'>{html.escape(cap)}</figcaption></figure>")

    figs = [fig(problem.y_display,
                f"observation: {problem.describe()}, PSNR {psnr(problem.y_display, problem.x_true):.2f} dB"
                if problem.task != "sr" else f"observation: {problem.describe()}")]
    figs += [fig(r["image"], f"{r['method']}: {r['psnr']:.2f} dB") for r in rows]
    figs.append(fig(problem.x_true, "ground truth"))
    return HTML(table + "<div style='display:flex;flex-wrap:wrap;margin-top:6px'>" + "".join(figs) + "</div>")
