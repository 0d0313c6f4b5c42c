"""The computations of lesson 07 (GS-PnP), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import time

import torch

from ...denoisers.nlm import NLM
from ...figures import new_figure
from ...images import data_root
from ...metrics import psnr
from ...problems import Problem
from ...problems import make_problem as core_problem
from ...operators import gaussian_kernel, load_kernels, motion_kernel
from ...params import Param
from ...runtime import is_fast, lean, lean_call, live_size
from ...solvers import run
from ...solvers.gs_pnp import gs_pnp, initial_point, preset
from ...solvers.pnp_ista import pnp_ista

__all__ = ["PARAMS", "TASKS", "Problem", "make_problem", "with_z_psnr", "backtracking_runs", "backtracking_figure",
           "compare_with_pnp_ista", "image_size", "iterations", "NOISE"]


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


def image_size() -> int:
    """Side of the lesson's images: 48 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=48)


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


def make_problem(task: str = "deblur-motion", size: int | None = None, image: str = "camera", device=None) -> Problem:
    """The lesson's problem for ``task`` ∈ :data:`TASKS` (seeded): a camera-shake blur with noise 7.65/255, or
    ×2 super-resolution of a 9×9 Gaussian blur (std 1.2) with noise 2.55/255."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    size = size or image_size()
    if task == "sr":
        return core_problem("sr", image=image, size=size, kernel=gaussian_kernel(9, 1.2), factor=2, noise=NOISE[task],
                            description=f"low-resolution image ({size // 2}×{size // 2}, shown enlarged), "
                                        f"noise σ·255 = {NOISE[task] * 255:.2f}", device=device)
    k, name = motion_blur_kernel()
    return core_problem("deblur", image=image, size=size, kernel=k, noise=NOISE[task],
                        description=f"blurred by {name}, noise σ·255 = {NOISE[task] * 255:.2f}", device=device)


def defaults(task: str) -> dict:
    """The reference's σ (on the 0–255 scale) and λ for the task (:func:`~pnp_lessons.solvers.gs_pnp.preset`);
    ``task`` is the lesson's (``'deblur-motion'``, ``'sr'``) or the problem's (``'deblur'``, ``'sr'``)."""
    task = "sr" if task == "sr" else "deblur-motion"
    p = preset(task, NOISE[task])
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
                                   ref=problem.x_true, max_iter=max_iter or iterations(), tol=tol,
                                   backtracking=backtracking), problem.x_true))


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
        dec = all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(F, F[1:], strict=False))
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
                     psnr=psnr(res.last.info["z"].clamp(0, 1), problem.x_true), iterations=res.iterations, seconds=dt,
                     status=res.status,
                     objective="F increased" if res.last.info.get("F_increases") else "F = f + λg_σ, never increased",
                     image=res.last.info["z"]))
    rows.append(dict(method="GS-PnP, same run (output x)", psnr=psnr(res.x.clamp(0, 1), problem.x_true),
                     iterations=res.iterations, seconds=dt, status=res.status, objective="", image=res.x))
    x0 = initial_point(problem.op, problem.y, 1 / d["lam"]).clamp(0, 1)
    t = time.perf_counter()
    nl = run(pnp_ista(problem.op, problem.y, NLM(patch_size=5, window=11, h=d["sigma"] / 255), gamma=gamma, x0=x0,
                      guide=x0, ref=problem.x_true, max_iter=max_iter or iterations(), tol=1e-6))
    dt = time.perf_counter() - t
    rows.append(dict(method=f"PnP-ISTA, NLM with W fixed, h = σ, γ = {gamma:g}", psnr=nl.last.psnr,
                     iterations=nl.iterations, seconds=dt, status=nl.status,
                     objective="no objective (ρ(P) decides)", image=nl.x))
    return rows
