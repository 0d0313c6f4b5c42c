"""Lesson 03 widgets: plug-and-play — replace the prox of ISTA by a denoiser.

* :func:`make_problem` — the lesson's two problems (inpainting as in Gavaskar & Chaudhury, Gaussian
  deblurring), small in CI-fast mode.
* :func:`make_denoiser` — D for PnP-ISTA: the TV prox (PnP-ISTA is then ISTA), NLM with W fixed,
  NLM with W recomputed every step (adaptive), or the GS-DRUNet denoiser used as a plain D.
* :class:`PnPIstaExplorer` — PnP-ISTA streamed live by the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner` under γ and σ sliders, with the residual and PSNR
  curves and the solver's own message (``'diverged'`` included).
* :func:`guarantee_table` — the same runs to completion for a few (denoiser, γ) pairs: where there is
  a guarantee and where there is none, with the residual curves as a figure with a text alternative.

The math is in :mod:`pnp_lessons.solvers.pnp_ista`; nothing here computes more than a call.
"""

from __future__ import annotations

import html
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass

import ipywidgets as W
import torch

from ...denoisers.evaluate import TV_FACTOR
from ...denoisers.nlm import NLM
from ...exercises import Exercise, register
from ...images import sample
from ...metrics import psnr
from ...operators import Blur, Inpainting, gaussian_kernel
from ...solvers import run
from ...solvers.pnp_ista import TVDenoiser, default_guide, pnp_ista
from ..curves import svg_chart
from ..panel import ImageSlot
from ..problems import Param
from .common import LessonWidget, Slider, is_fast, new_figure

__all__ = ["PARAMS", "DENOISERS", "TASKS", "Problem", "make_problem", "make_denoiser", "PnPIstaExplorer",
           "guarantee_table", "residual_figure", "rho_beyond_two", "rho_table_html", "EXERCISES", "register_exercises",
           "image_size", "iterations"]

PARAMS = {
    "gamma": Param("gamma", "γ", "step size", 0.05, 3.0, 0.05),
    "sigma": Param("sigma", "σ·255", "denoiser strength", 1.0, 60.0, 0.5, digits=1),
}
DENOISERS = {
    "tv": "TV: D = prox of γλ·TV, λ = 0.8σ (PnP-ISTA = ISTA)",
    "nlm": "NLM, W fixed (built once from the start image)",
    "nlm-adaptive": "NLM, W recomputed from xₖ at every step",
    "gs": "GS-DRUNet D_σ used as a plain denoiser",
}
TASKS = {
    "inpaint": "Inpainting: 70 % pixels missing, noise σ·255 = 10",
    "deblur": "Deblurring: 9×9 Gaussian blur (std 1.6), noise σ·255 = 5",
}
SHORT = {"tv": "TV prox", "nlm": "NLM (W fixed)", "nlm-adaptive": "NLM (adaptive W)", "gs": "GS-DRUNet (plain D)"}
NLM_PATCH, NLM_WINDOW = 5, 11
DESC = {"description_width": "170px"}


@contextmanager
def lean_threads():
    """One intra-op torch thread while the lesson computes, in CI-fast mode or on a machine with ≤ 2 cores.

    On a small shared CPU, PyTorch's OpenMP barriers stall whenever a sibling thread is descheduled: a GS-DRUNet
    pass at 48² measured 5 s with 2 threads and 0.08 s with 1 thread under load. The previous setting is restored.
    """
    if not lean_threads_wanted():
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def lean_threads_wanted() -> bool:
    """Whether :func:`lean_threads` reduces the threads (CI-fast mode, or ≤ 2 CPU cores)."""
    return is_fast() or (os.cpu_count() or 1) <= 2


def lean_call(fn):
    """Decorator: run ``fn`` under :func:`lean_threads`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with lean_threads():
            return fn(*args, **kwargs)

    return wrapper


def lean(gen):
    """A generator run under :func:`lean_threads` (for the live runner's worker thread)."""
    with lean_threads():
        yield from gen


def image_size() -> int:
    """Side of the lesson's images (48 in CI-fast mode, 128 otherwise)."""
    return 48 if is_fast() else 128


def iterations() -> int:
    """Iterations of a PnP-ISTA run in the lesson (15 in CI-fast mode, 100 otherwise)."""
    return 15 if is_fast() else 100


@dataclass
class Problem:
    """y = A x + ε with its ground truth and the start point x₀ (the NLM guide)."""

    task: str
    op: object
    x: torch.Tensor
    y: torch.Tensor
    x0: torch.Tensor
    noise: float

    @property
    def y_display(self) -> torch.Tensor:
        return self.y.clamp(0, 1)

    def describe(self) -> str:
        return TASKS[self.task]


def make_problem(task: str = "inpaint", size: int | None = None, image: str = "camera", device=None) -> Problem:
    """The lesson's problem ``task`` ∈ :data:`TASKS` on a grey ``size × size`` image (seeded)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    size = size or image_size()
    x = sample(image, size=size, grey=True)
    if device is not None:
        x = x.to(device)
    if task == "inpaint":
        op, noise = Inpainting(ratio=0.7, seed=0), 10 / 255
    else:
        op, noise = Blur(gaussian_kernel(9, 1.6)), 5 / 255
    y = op.observe(x, noise, seed=0)
    x0 = default_guide(op, y).clamp(0, 1)
    return Problem(task, op, x, y, x0, noise)


def make_denoiser(kind: str, sigma255: float, gs=None):
    """``(denoiser, mode)`` for :func:`~pnp_lessons.solvers.pnp_ista.pnp_ista`.

    ``gs`` is a loaded GS-DRUNet (``load_denoiser('gsdrunet-small-grey')``), needed for ``kind='gs'``.
    """
    s = sigma255 / 255
    if kind == "tv":
        return TVDenoiser(lam=TV_FACTOR * s, max_iter=40), "fixed"
    if kind in ("nlm", "nlm-adaptive"):
        return NLM(patch_size=NLM_PATCH, window=NLM_WINDOW, h=s), ("fixed" if kind == "nlm" else "adaptive")
    if kind == "gs":
        if gs is None:
            raise ValueError("GS-DRUNet is not loaded: pass gs=load_denoiser('gsdrunet-small-grey')")

        def D(z, _gs=gs, _s=s):
            return _gs.denoise(z, _s)

        return D, "fixed"
    raise ValueError(f"denoiser must be one of {', '.join(DENOISERS)}, got {kind!r}")


def solve(problem: Problem, kind: str, gamma: float, sigma255: float, gs=None, max_iter: int | None = None):
    """The PnP-ISTA generator for one setting (start and NLM guide: the problem's x₀)."""
    D, mode = make_denoiser(kind, sigma255, gs)
    return lean(pnp_ista(problem.op, problem.y, D, gamma=gamma, x0=problem.x0, guide=problem.x0, ref=problem.x,
                         mode=mode, max_iter=max_iter or iterations(), tol=1e-6))


def _status_html(status: str, message: str) -> str:
    colour = {"diverged": "#fde2e1", "error": "#fde2e1", "converged": "#e7f6e7"}.get(status, "#eef6ff")
    return (f"<div class='pnp-message' role='status' style='background:{colour};padding:4px 8px;border-radius:4px'>"
            f"<b>{html.escape(status.replace('_', ' '))}</b>: {html.escape(message)}</div>")


def _curves_html(history: list[dict], title_extra: str = "") -> str:
    res = [h.get("residual") for h in history]
    ps = [h.get("psnr") for h in history]
    charts = [svg_chart("residual ‖xₖ − xₖ₋₁‖ (log)", [(res, "#1f77b4", False)], log=True, w=260, h=160),
              svg_chart("PSNR (dB)", [(ps, "#1f77b4", False)], w=260, h=160)]
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
        px = 200
        self.observation = ImageSlot("Observation y", px, "observation")
        self.iterate_view = ImageSlot("PnP-ISTA iterate xₖ", px, "iterate")
        self.truth = ImageSlot("Ground truth x", px, "truth")
        self.curves = W.HTML("")
        self.outcome = W.HTML("")
        super().__init__([self.task, self.denoiser, self.gamma, self.sigma,
                          W.HBox([self.observation, self.iterate_view, self.truth],
                                 layout=W.Layout(flex_flow="row wrap")),
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
            self.observation.show(pb.y_display, f"{pb.describe()}: PSNR {psnr(pb.y, pb.x):.1f} dB.")
            self.truth.show(pb.x, "the clean image, for comparison.")
        if rec is None:
            return
        label = SHORT[s["denoiser"]]
        self.iterate_view.show(rec.x.clamp(0, 1),
                               f"{label}, γ = {s['gamma']:.2f}, σ·255 = {s['sigma']:.1f}: iteration k = {rec.k}, "
                               f"PSNR {rec.psnr:.2f} dB" + ("" if rec.status != "diverged"
                                                           else " (last finite iterate)") + ".")
        self.curves.value = _curves_html(f.history)
        if f.final:
            self.outcome.value = _status_html(f.status, f.message or "done")
        else:
            self.outcome.value = _status_html("running", f"iteration {rec.k} of at most {iterations()}")


# --------------------------------------------------------------------------- where the guarantees stop
CASES = [
    ("nlm", 0.9, "W fixed, γ < 1: Theorem 5 of Gavaskar & Chaudhury applies"),
    ("nlm", 3.0, "W fixed, γ = 3: beyond the proven range (γ < 2 by the row sums); ρ(P) decides"),
    ("nlm-adaptive", 1.9, "W recomputed every step: D is non-linear, no theorem"),
    ("gs", 1.0, "plain network, γ = 1"),
    ("gs", 3.0, "plain network, large γ = 3"),
]


def guarantee_table(problem: Problem, gs=None, sigma255: float = 15.0, cases=CASES, max_iter: int | None = None):
    """Run PnP-ISTA to the end for each ``(denoiser, γ, comment)`` of ``cases``.

    Returns ``(rows, histories)``: one dict per case (denoiser, γ, status, iterations, final PSNR, message,
    comment) and the residual histories, for :func:`residual_figure`.
    """
    rows, hists = [], []
    with lean_threads():
        _cases(problem, gs, sigma255, cases, max_iter, rows, hists)
    return rows, hists


def _cases(problem, gs, sigma255, cases, max_iter, rows, hists):
    for kind, gamma, comment in cases:
        if kind == "gs" and gs is None:
            continue
        # past γ = 2 a few more iterations let the divergence rule trigger (|x| > 10³ needs ~10–30 doublings)
        mi = max_iter or (max(iterations(), 30) if gamma > 2 else iterations())
        res = run(solve(problem, kind, gamma, sigma255, gs, max_iter=mi))
        p = res.last.psnr
        rows.append(dict(denoiser=SHORT[kind], kind=kind, gamma=gamma, status=res.status,
                         iterations=res.iterations, psnr=p, message=res.message, comment=comment,
                         residuals=res.curve("residual")))
        hists.append(res.curve("residual"))


def rho_beyond_two(problem: Problem, gamma: float = 3.0, h255s=(15.0, 60.0), max_iter: int | None = None):
    """For NLM with W fixed at each width h (σ·255 = h·255) and one step γ: ρ(P) of P = W(I − γAᵀA) computed by
    :mod:`pnp_lessons.analysis` (ARPACK on the whole image) and the outcome of the PnP-ISTA run.

    Returns one dict per h: ``h255``, ``rho``, ``status``, ``iterations``, ``psnr``.
    """
    from ...analysis import spectral_radius, system_matrix

    rows = []
    with lean_threads():
        for h255 in h255s:
            W_fixed, _ = make_denoiser("nlm", h255)
            Wk = W_fixed.weights(problem.x0)
            rho = spectral_radius(system_matrix(Wk, problem.op, gamma, max_pixels=problem.x.numel()))
            mi = max_iter or max(iterations(), 30)
            res = run(solve(problem, "nlm", gamma, h255, max_iter=mi))
            rows.append(dict(h255=h255, gamma=gamma, rho=rho, status=res.status, iterations=res.iterations,
                             psnr=res.last.psnr))
    return rows


def rho_table_html(rows) -> "object":
    """The rows of :func:`rho_beyond_two` as an HTML table."""
    from IPython.display import HTML

    head = "<tr><th>h·255</th><th>γ</th><th>ρ(P)</th><th>PnP-ISTA run</th><th>iterations</th><th>PSNR (dB)</th></tr>"
    body = "".join(f"<tr><td>{r['h255']:g}</td><td>{r['gamma']:g}</td><td>{r['rho']:.3f}</td>"
                   f"<td><b>{html.escape(r['status'])}</b></td><td>{r['iterations']}</td>"
                   f"<td>{r['psnr']:.2f}</td></tr>" for r in rows)
    return HTML("<table class='pnp-readout' aria-label='spectral radius of P and the run at γ beyond 2'>"
                + head + body + "</table>")


def table_html(rows) -> "object":
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


def residual_figure(rows):
    """(figure, alt text): the residual ‖xₖ − xₖ₋₁‖ of each run on a log scale."""
    fig = new_figure(6.4, 3.0)
    ax = fig.subplots()
    parts = []
    for r in rows:
        vals = [(i + 1, v) for i, v in enumerate(r["residuals"]) if v is not None and math.isfinite(v) and v > 0]
        if not vals:
            continue
        ks, vs = zip(*vals)
        ax.semilogy(ks, vs, marker="." if len(ks) < 30 else None,
                    label=f"{r['denoiser']}, γ = {r['gamma']:g} ({r['status']})")
        trend = "falls" if vs[-1] < 0.5 * vs[0] else ("grows" if vs[-1] > 2 * vs[0] else "stays level")
        parts.append(f"{r['denoiser']} with γ = {r['gamma']:g} {trend} from {vs[0]:.2g} to {vs[-1]:.2g} "
                     f"over {len(vs)} iterations ({r['status']})")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("‖xₖ − xₖ₋₁‖")
    ax.legend(fontsize=7)
    alt = "Residual ‖xₖ − xₖ₋₁‖ on a log scale against the iteration: " + "; ".join(parts) + "."
    return fig, alt


# --------------------------------------------------------------------------- exercises
EXERCISES = [
    Exercise(
        "03.1",
        "ISTA for ½‖Ax − y‖² + λ·TV(x) with step γ applies prox_{γλ TV} after the gradient step. With λ = 0.02 "
        "and γ = 1.5, what weight multiplies TV inside that prox?",
        0.03,
        hint="The prox of the step γ applied to λ·TV is prox_{γ·(λ TV)}: multiply the two.",
        confirmation="γλ = 1.5 × 0.02 = 0.03: the denoiser's strength grows with the step, which is why "
                     "TVDenoiser(lam) is called with gamma in PnP-ISTA.",
    ),
    Exercise(
        "03.2",
        "For inpainting AᵀA = diag(m): on an observed pixel the gradient step is x ← x − γ(x − y), i.e. the error "
        "is multiplied by (1 − γ). What is the largest γ for which |1 − γ| ≤ 1?",
        2.0,
        hint="Solve −1 ≤ 1 − γ ≤ 1 for γ > 0.",
        confirmation="γ ≤ 2: beyond it the gradient step alone amplifies the error on observed pixels. Whether the "
                     "denoiser's averaging makes up for it depends on W: with the sharp W of this lesson "
                     "(h·255 = 15) the runs at γ = 3 diverge (ρ(P) = 2), with a wide one (h·255 = 60) ρ(P) ≈ 0.4 and "
                     "they converge. Below 2, every absolute row sum of P stays below 1 (lesson 05).",
    ),
    Exercise(
        "03.3",
        "Which of these PnP-ISTA runs comes with a convergence guarantee from the papers of this course?",
        "NLM with W fixed, inpainting, γ ∈ (0, 1)",
        hint="A theorem needs D to be a fixed linear map (or a prox); look at what changes from one step to the "
             "next in each option.",
        confirmation="With W fixed, PnP-ISTA is the linear system x_{k+1} = P x_k + q and Theorem 5 of Gavaskar & "
                     "Chaudhury gives ρ(P) < 1 for inpainting and γ ∈ (0, 1). Adaptive W and plain networks have no "
                     "such theorem (lesson 07 fixes that for networks).",
        choices=(
            "NLM with W recomputed from xₖ at every step, γ = 0.5",
            "NLM with W fixed, inpainting, γ ∈ (0, 1)",
            "any trained denoising network, any γ",
            "TV prox with γ = 3",
        ),
    ),
]


def register_exercises(items=None) -> list[str]:
    """Add this lesson's exercises to :data:`pnp_lessons.exercises.EXERCISES` (idempotent); return their ids."""
    return register(*(EXERCISES if items is None else items))


register_exercises()
