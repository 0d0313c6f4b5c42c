"""Lesson 07 widgets: GS-PnP, a plug-and-play algorithm that provably decreases F = f + λ g_σ.

* :func:`make_problem` — motion deblurring (a Levin et al. kernel when the data folder is present, else a
  generated camera-shake kernel) at noise 7.65/255, and super-resolution ×2 (Gaussian kernel, std 1.2) at
  2.55/255, with the reference's parameters from :func:`pnp_lessons.solvers.gs_pnp.preset`.
* :class:`GSPnPExplorer` — GS-PnP streamed live by the shared :class:`~pnp_lessons.widgets.runner.LiveRunner`
  under λ, σ and initial-τ sliders (backtracking on or off): xₖ, zₖ, F(xₖ) decreasing, τₖ and the rejected trials.
* :func:`backtracking_runs` / :func:`backtracking_figure` — F and τ of runs started at several τ, with the
  iterations where trial steps were rejected marked.
* :func:`compare_with_pnp_ista` — GS-PnP and PnP-ISTA with a fixed NLM W on the same problem.

The math is in :mod:`pnp_lessons.solvers.gs_pnp`.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass

import ipywidgets as W
import torch

from ...denoisers.nlm import NLM
from ...exercises import Exercise, register
from ...images import data_root, sample
from ...metrics import psnr
from ...operators import Blur, SuperResolution, gaussian_kernel, load_kernels, motion_kernel
from ...solvers import run
from ...solvers.gs_pnp import gs_pnp, initial_point, preset
from ...solvers.pnp_ista import pnp_ista
from ..curves import svg_chart
from ..panel import ImageSlot
from ..problems import Param
from .common import LessonWidget, Slider, is_fast, new_figure
from .lesson03 import lean, lean_call

__all__ = ["PARAMS", "TASKS", "Problem", "make_problem", "GSPnPExplorer", "with_z_psnr", "backtracking_runs",
           "backtracking_figure", "compare_with_pnp_ista", "comparison_html", "EXERCISES", "register_exercises",
           "image_size", "iterations"]

PARAMS = {
    "lam": Param("lam", "λ", "weight, log scale", 0.01, 1.0, 0.05, log=True),
    "sigma": Param("sigma", "σ·255", "denoiser strength", 1.0, 50.0, 0.5, digits=1),
    "tau_lam": Param("tau_lam", "τ·λ", "initial step × λ", 0.25, 4.0, 0.25),
}
TASKS = {
    "deblur-motion": "Motion deblurring, noise σ·255 = 7.65",
    "sr": "Super-resolution ×2 (Gaussian kernel, std 1.2), noise σ·255 = 2.55",
}
NOISE = {"deblur-motion": 7.65 / 255, "sr": 2.55 / 255}
DESC = {"description_width": "170px"}


def image_size() -> int:
    """Side of the lesson's images (48 in CI-fast mode, 128 otherwise)."""
    return 48 if is_fast() else 128


def iterations() -> int:
    """At most this many GS-PnP iterations in the lesson (6 in CI-fast mode, 60 otherwise)."""
    return 6 if is_fast() else 60


def motion_blur_kernel() -> tuple[torch.Tensor, str]:
    """The second Levin et al. (2009) kernel when ``<data>/kernels/Levin09.mat`` exists, else a generated one."""
    path = data_root() / "kernels" / "Levin09.mat"
    if path.exists():
        try:
            k = load_kernels(path)[1]
            if max(k.shape) <= image_size() // 2:
                return k, f"Levin et al. 2009 kernel 2 ({k.shape[0]}×{k.shape[1]})"
        except Exception:  # noqa: BLE001 - fall back to a generated kernel
            pass
    return motion_kernel(15, seed=0), "a generated camera-shake kernel (15×15)"


@dataclass
class Problem:
    task: str
    op: object
    x: torch.Tensor
    y: torch.Tensor
    noise: float
    kernel_name: str

    @property
    def y_display(self) -> torch.Tensor:
        if isinstance(self.op, SuperResolution):
            return torch.nn.functional.interpolate(self.y, scale_factor=self.op.factor, mode="nearest").clamp(0, 1)
        return self.y.clamp(0, 1)

    def describe(self) -> str:
        if self.task == "sr":
            return f"low-resolution image ({self.y.shape[-1]}×{self.y.shape[-2]}, shown enlarged), noise σ·255 = 2.55"
        return f"blurred by {self.kernel_name}, noise σ·255 = 7.65"


def make_problem(task: str = "deblur-motion", size: int | None = None, image: str = "camera", device=None) -> Problem:
    """The lesson's problem for ``task`` ∈ :data:`TASKS` (seeded)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    x = sample(image, size=size or image_size(), grey=True)
    if device is not None:
        x = x.to(device)
    if task == "sr":
        op, name = SuperResolution(gaussian_kernel(9, 1.2), factor=2), "a 9×9 Gaussian (std 1.2)"
    else:
        k, name = motion_blur_kernel()
        op = Blur(k)
    y = op.observe(x, NOISE[task], seed=0)
    return Problem(task, op, x, y, NOISE[task], name)


def defaults(task: str) -> dict:
    """The reference's σ (on the 0–255 scale) and λ for the task (:func:`~pnp_lessons.solvers.gs_pnp.preset`)."""
    p = preset("sr" if task == "sr" else "deblur-motion", NOISE[task])
    return dict(sigma=round(p["sigma"] * 255, 1), lam=p["lam"])


def with_z_psnr(gen, ref: torch.Tensor):
    """Pass GS-PnP records through, adding ``info['psnr_z']`` (PSNR of zₖ) so the history keeps it."""
    for rec in gen:
        if ref is not None and "z" in rec.info:
            rec.info["psnr_z"] = psnr(rec.info["z"].clamp(0, 1), ref)
        yield rec


def solve(problem: Problem, D, sigma255: float, lam: float, tau_lam: float = 1.0, backtracking: bool = True,
          max_iter: int | None = None):
    """The GS-PnP generator with the task's tolerance; τ₀ = τ·λ / λ."""
    tol = preset("sr" if problem.task == "sr" else "deblur-motion")["tol"]
    return lean(with_z_psnr(gs_pnp(problem.op, problem.y, D, sigma=sigma255 / 255, lam=lam, tau=tau_lam / lam,
                                   ref=problem.x, max_iter=max_iter or iterations(), tol=tol,
                                   backtracking=backtracking), problem.x))


def _charts(history: list[dict]) -> str:
    F = [h.get("objective") for h in history]
    tau = [h.get("tau") for h in history]
    px = [h.get("psnr") for h in history]
    pz = [h.get("psnr_z") for h in history]
    rej = [h.get("rejected") or 0 for h in history]
    charts = [svg_chart("F(xₖ) = f + λg_σ", [(F, "#1f77b4", False)], w=250, h=160),
              svg_chart("step τₖ (log)", [(tau, "#2ca02c", False)], log=True, w=250, h=160),
              svg_chart("PSNR (dB): xₖ solid, zₖ dashed", [(px, "#1f77b4", False), (pz, "#ff7f0e", True)], w=250, h=160)]
    k = len(history)
    Fv = [v for v in F if v is not None and math.isfinite(v)]
    dec = all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(Fv, Fv[1:]))
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
        px = 170
        self.observation = ImageSlot("Observation y", px, "observation")
        self.x_view = ImageSlot("xₖ = prox_τf(zₖ₋₁)", px, "iterate")
        self.z_view = ImageSlot("zₖ = xₖ − τλ∇g_σ(xₖ)", px, "z")
        self.truth = ImageSlot("Ground truth x", px, "truth")
        self.curves = W.HTML("")
        self.outcome = W.HTML("")
        super().__init__([self.task, self.lam, self.sigma, self.tau_lam,
                          W.HBox([self.backtracking, self.preset_button]),
                          W.HBox([self.observation, self.x_view, self.z_view, self.truth],
                                 layout=W.Layout(flex_flow="row wrap")),
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
            self.observation.show(pb.y_display, f"{pb.describe()}: the input of GS-PnP.")
            self.truth.show(pb.x, "the clean image, for comparison.")
        rec = f.record
        if rec is None:
            return
        info = rec.info
        self.x_view.show(rec.x.clamp(0, 1), f"x after k = {rec.k} iterations: PSNR {rec.psnr:.2f} dB, "
                                            f"F = {rec.objective:.5g}.")
        if "z" in info:
            self.z_view.show(info["z"].clamp(0, 1), f"z = x − τλ∇g_σ(x) at k = {rec.k}: PSNR "
                                                    f"{info.get('psnr_z', float('nan')):.2f} dB.")
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


# --------------------------------------------------------------------------- static experiments
@lean_call
def backtracking_runs(problem: Problem, D, tau_lams=(1.0, 3.0), sigma255: float | None = None,
                      lam: float | None = None, max_iter: int | None = None) -> list[dict]:
    """GS-PnP from several initial steps τ₀ = τλ/λ; returns ``[{tau_lam, result}]``."""
    d = defaults(problem.task)
    sigma255 = d["sigma"] if sigma255 is None else sigma255
    lam = d["lam"] if lam is None else lam
    out = []
    for tl in tau_lams:
        res = run(solve(problem, D, sigma255, lam, tl, True, max_iter))
        out.append({"tau_lam": tl, "result": res, "sigma": sigma255, "lam": lam})
    return out


def backtracking_figure(runs: list[dict]):
    """(figure, alt text): F(xₖ) and τₖ for each run, rejected trials marked with red crosses."""
    fig = new_figure(7.0, 2.8)
    a1, a2 = fig.subplots(1, 2)
    parts = []
    for r in runs:
        h = r["result"].history
        ks = [e["k"] for e in h]
        F = [e["objective"] for e in h]
        tau = [e.get("tau") for e in h]
        lab = f"τ₀ = {r['tau_lam']:g}/λ"
        a1.plot(ks, F, marker=".", label=lab)
        a2.semilogy(ks, tau, marker=".", label=lab)
        rk = [e["k"] for e in h if e.get("rejected")]
        if rk:
            a1.plot(rk, [e["objective"] for e in h if e.get("rejected")], "x", color="red", ms=8)
        dec = all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(F, F[1:]))
        parts.append(f"τ₀ = {r['tau_lam']:g}/λ: F from {F[0]:.4g} to {F[-1]:.4g} in {len(ks)} iterations, "
                     f"{'never increasing' if dec else 'increasing at least once'}; "
                     f"{r['result'].last.info.get('rejected_total', 0)} trial steps rejected"
                     + (f" (at iterations {', '.join(map(str, rk[:8]))})" if rk else "")
                     + f", τ ending at {tau[-1]:.3g}")
    a1.set_xlabel("iteration k")
    a1.set_title("F(xₖ); red ×: a trial step was rejected", fontsize=9)
    a2.set_xlabel("iteration k")
    a2.set_title("accepted step τₖ", fontsize=9)
    a1.legend(fontsize=7)
    alt = "Two line plots against the iteration k. " + "; ".join(parts) + "."
    return fig, alt


@lean_call
def compare_with_pnp_ista(problem: Problem, D, max_iter: int | None = None, gamma: float = 1.0) -> list[dict]:
    """GS-PnP (the reference's λ, σ; reports x and z) and PnP-ISTA with a fixed NLM W (h = the same σ, built
    from GS-PnP's start point) on the same problem. Returns rows with PSNR, iterations, time and the images."""
    d = defaults(problem.task)
    rows = []
    t = time.perf_counter()
    res = run(solve(problem, D, d["sigma"], d["lam"], 1.0, True, max_iter))
    dt = time.perf_counter() - t
    rows.append(dict(method=f"GS-PnP, σ·255 = {d['sigma']:g}, λ = {d['lam']:g} (output z)",
                     psnr=psnr(res.last.info["z"].clamp(0, 1), problem.x), iterations=res.iterations, seconds=dt,
                     status=res.status, objective="F = f + λg_σ, never increased" if not res.last.info.get("F_increases")
                     else "F increased", image=res.last.info["z"]))
    rows.append(dict(method="GS-PnP, same run (output x)", psnr=psnr(res.x.clamp(0, 1), problem.x),
                     iterations=res.iterations, seconds=dt, status=res.status, objective="", image=res.x))
    x0 = initial_point(problem.op, problem.y, 1 / d["lam"]).clamp(0, 1)
    t = time.perf_counter()
    nl = run(pnp_ista(problem.op, problem.y, NLM(patch_size=5, window=11, h=d["sigma"] / 255), gamma=gamma, x0=x0,
                      guide=x0, ref=problem.x, max_iter=max_iter or iterations(), tol=1e-6))
    dt = time.perf_counter() - t
    rows.append(dict(method=f"PnP-ISTA, NLM with W fixed, h = σ, γ = {gamma:g}", psnr=nl.last.psnr,
                     iterations=nl.iterations, seconds=dt, status=nl.status,
                     objective="no objective (ρ(P) decides)", image=nl.x))
    return rows


def comparison_html(rows, problem: Problem):
    """The comparison as a table plus the images, each with a caption (IPython HTML)."""
    from IPython.display import HTML

    from ...images import to_png_bytes
    import base64

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

    figs = [fig(problem.y_display, f"observation: {problem.describe()}, PSNR {psnr(problem.y_display, problem.x):.2f} dB"
                if problem.task != "sr" else f"observation: {problem.describe()}")]
    figs += [fig(r["image"], f"{r['method']}: {r['psnr']:.2f} dB") for r in rows]
    figs.append(fig(problem.x, "ground truth"))
    return HTML(table + "<div style='display:flex;flex-wrap:wrap;margin-top:6px'>" + "".join(figs) + "</div>")


# --------------------------------------------------------------------------- exercises
EXERCISES = [
    Exercise(
        "07.1",
        "In GS-PnP the gradient step is z = x − τλ∇g_σ(x). With the default step τ = 1/λ, what is z?",
        "D_σ(x), the gradient-step denoiser applied to x",
        hint="Replace τλ by 1 and compare with D_σ = Id − ∇g_σ from lesson 06.",
        confirmation="τλ = 1 gives z = x − ∇g_σ(x) = D_σ(x): GS-PnP is then PnP-HQS with the GS denoiser, "
                     "x⁺ = prox_{τf}(D_σ(x)) — the plug-and-play algorithm of lesson 03 with an objective.",
        choices=(
            "D_σ(x), the gradient-step denoiser applied to x",
            "prox_{τf}(x), the data prox",
            "N_σ(x), the network output",
            "x itself: the step does nothing",
        ),
    ),
    Exercise(
        "07.2",
        "Backtracking starts from τ = 1/λ with λ = 0.1 and multiplies τ by η = 0.9 after each rejected trial. "
        "What is τ after 3 rejected trials?",
        7.29,
        hint="τ = (1/λ)·η³.",
        confirmation="10 × 0.9³ = 7.29. τ only shrinks, and once it is below 1/(λL) every trial passes the test "
                     "(Theorem 1's condition), so there are only finitely many rejections. An accepted τ need not be "
                     "below 1/(λL): the test certifies a sufficient decrease of F, which is what the proof uses.",
    ),
    Exercise(
        "07.3",
        "For deblurring and super-resolution, which image does the reference implementation return?",
        "the last z = x − τλ∇g_σ(x): one more denoising step after the last x",
        hint="Look at the PSNR curves of xₖ (solid) and zₖ (dashed) in the widget, and at the last paragraph "
             "of the lesson.",
        confirmation="The reference returns z: x, near a critical point of F, fits the data and keeps some "
                     "noise; z is one denoising step further and, with a well-trained denoiser, scores a higher PSNR — but "
                     "it is not a critical point of F (solvers/gs_pnp.py explains it).",
        choices=(
            "the last x, the iterate that approaches a critical point of F",
            "the last z = x − τλ∇g_σ(x): one more denoising step after the last x",
            "the average of all iterates",
            "the iterate with the best PSNR",
        ),
    ),
]


def register_exercises(items=None) -> list[str]:
    """Add this lesson's exercises to :data:`pnp_lessons.exercises.EXERCISES` (idempotent); return their ids."""
    return register(*(EXERCISES if items is None else items))


register_exercises()
