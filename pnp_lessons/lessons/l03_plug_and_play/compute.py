"""The computations of lesson 03 (Plug-and-play), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import math


from ...denoisers.nlm import NLM
from ...denoisers.tv import TV_FACTOR, TVDenoiser
from ...figures import new_figure
from ...operators import gaussian_kernel
from ...problems import Problem
from ...problems import make_problem as core_problem
from ...params import Param
from ...runtime import is_fast, lean, lean_threads, live_size
from ...solvers import guarantees, run
from ...solvers.pnp_ista import pnp_ista

__all__ = ["PARAMS", "DENOISERS", "TASKS", "Problem", "make_problem", "make_denoiser", "guarantee_table",
           "residual_figure", "rho_beyond_two", "guarantee", "image_size", "iterations", "SHORT", "CASES"]

NLM_PATCH, NLM_WINDOW = 5, 11


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


def image_size() -> int:
    """Side of the lesson's images: 48 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=48)


def iterations() -> int:
    """Iterations of a PnP-ISTA run in the lesson (15 in CI-fast mode, 100 otherwise)."""
    return 15 if is_fast() else 100


def make_problem(task: str = "inpaint", size: int | None = None, image: str = "camera", device=None) -> Problem:
    """The lesson's problem ``task`` ∈ :data:`TASKS` on a grey ``size × size`` image (seeded): the paper's
    inpainting (70 % missing, noise 10/255) or a 9×9 Gaussian blur (std 1.6, noise 5/255); x₀ is the paper's
    guide (:func:`~pnp_lessons.solvers.pnp_ista.default_guide`)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    size = size or image_size()
    if task == "inpaint":
        return core_problem("inpaint", image=image, size=size, ratio=0.7, noise=10 / 255, description=TASKS[task],
                            device=device)
    return core_problem("deblur", image=image, size=size, kernel=gaussian_kernel(9, 1.6), noise=5 / 255,
                        description=TASKS[task], device=device)


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


def guarantee(task: str, kind: str, gamma: float, problem: Problem | None = None) -> tuple[str, str]:
    """``(state, text)``: what the theory says of PnP-ISTA with the lesson's denoiser ``kind`` at step γ
    (:mod:`pnp_lessons.solvers.guarantees`; the lesson's TV denoiser is the prox of γλ·TV, λ = 0.8σ)."""
    return guarantees.pnp_ista({"operator": task, "denoiser": kind, "gamma": gamma}, problem, window=NLM_WINDOW,
                               tv_weight="λ")


def solve(problem: Problem, kind: str, gamma: float, sigma255: float, gs=None, max_iter: int | None = None):
    """The PnP-ISTA generator for one setting (start and NLM guide: the problem's x₀)."""
    D, mode = make_denoiser(kind, sigma255, gs)
    return lean(pnp_ista(problem.op, problem.y, D, gamma=gamma, x0=problem.x0, guide=problem.x0, ref=problem.x_true,
                         mode=mode, max_iter=max_iter or iterations(), tol=1e-6))


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
            rho = spectral_radius(system_matrix(Wk, problem.op, gamma, max_pixels=problem.x_true.numel()))
            mi = max_iter or max(iterations(), 30)
            res = run(solve(problem, "nlm", gamma, h255, max_iter=mi))
            rows.append(dict(h255=h255, gamma=gamma, rho=rho, status=res.status, iterations=res.iterations,
                             psnr=res.last.psnr))
    return rows


def residual_figure(rows):
    """(figure, alt text): the residual ‖xₖ − xₖ₋₁‖ of each run on a log scale."""
    fig = new_figure(6.4, 3.0)
    ax = fig.subplots()
    parts = []
    for r in rows:
        vals = [(i + 1, v) for i, v in enumerate(r["residuals"]) if v is not None and math.isfinite(v) and v > 0]
        if not vals:
            continue
        ks, vs = zip(*vals, strict=False)
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
