"""The GS-PnP restoration experiments (Hurault et al., ICLR 2022, §5), side by side with PnP-ISTA-NLM
and a TV baseline on the same inputs.

    python -m pnp_lessons.experiments.gs_pnp --grid paper [--model gsdrunet-small-colour] [--part deblur sr inpaint]
    python -m pnp_lessons.experiments.gs_pnp --grid paper --workers 2   # two one-thread processes, one queue
    python -m pnp_lessons.experiments.gs_pnp --grid cpu | fast
    python -m pnp_lessons.experiments.gs_pnp --fit-baselines      # choose the baselines' h and λ on training images
    python -m pnp_lessons.experiments.gs_pnp --stopping-study     # run past the stopping rule: PSNR against k
    python -m pnp_lessons.experiments.gs_pnp --past-cap 33039:k0:2.55 --iterations 1200   # SR past the 400 cap

Grids
-----
``paper`` — the paper's protocol: the first 10 CBSD68 images in ascending numeric BSD id (the reference's
"CBSD10", ``shared/data/SOURCES.md``), full size; deblurring with the 8 Levin et al. kernels + 9×9 uniform +
25×25 Gaussian (std 1.6) at noise 2.55, 7.65, 12.75 (/255); SR ×2 and ×3 with kernels_12 0–7 at the same noise
levels; noise-free inpainting of 50 % of the pixels with the hard data constraint. The baselines run on the
whole deblurring and SR grids at 7.65/255 (``baseline_noise``). Every finished case is appended to a JSON-lines
cache in ``--out``, one file per part: an interrupted run resumes where it stopped. ``--workers N`` runs the
missing runs in N processes fed from one queue; ``--part`` or ``--shard K/N`` split the grid between separate
commands instead. A progress bar counts the runs.
``cpu`` — a few minutes on 2 cores: 2 images, 128×128 centre crops, the second Levin kernel + uniform +
Gaussian at 7.65/255, and SR ×2 with kernels_12 kernel 1 at 2.55/255.
``fast`` (CI) — 1 image, 64×64 crop, the second Levin kernel at 7.65/255 and SR ×2 at 2.55/255, few iterations.

Protocol as in the reference code (samuro95/GSPnP, ``PnP_restoration/deblur.py``, ``SR.py``,
``GS_PnP_restoration.py``): the image in [0, 1]; blur by circular convolution (``ndimage.convolve(...,
mode='wrap')``, which :class:`~pnp_lessons.operators.Blur` equals); SR keeps ``x[::s, ::s]`` of the blurred
image cropped to a multiple of s; noise drawn by ``np.random.seed(0); np.random.normal(0, ν, (H, W, C))`` for
every image, so the observations are the reference's; σ = 1.8ν (deblurring) or 2ν (SR) and λ from
:data:`~pnp_lessons.solvers.gs_pnp.PRESETS`; stop when |ΔF|/|F| < 1e-5 (deblurring) or 1e-6 (SR), at most 400
iterations; PSNR of the last z (the last x for inpainting), **not clipped** (the reference does not clip; the
clipped PSNR is kept too). A grey model restores the luminance (ITU-R 601) of the images, a colour model the
RGB images (the paper's tables are colour).

Writes ``table.md``, ``results.csv`` and ``convergence.png`` (the paper's Fig. 3 panel: F(x_k) and
‖x_{k+1} − x_k‖² against k for the first case) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..runtime import describe_device, get_device
from ..images import data_root, load_image
from ..metrics import psnr
from ..operators import Blur, Inpainting, SuperResolution, gaussian_kernel, load_kernels, uniform_kernel
from ..solvers import gs_pnp, run, tv_primal_dual
from ..solvers.gs_pnp import preset

PROTOCOL = "gs-pnp-paper-v1"
"""Recorded with every cached case; a change of protocol starts a new cache rather than mixing rows."""

GRIDS = {
    "paper": dict(images=10, crop=None, deblur_kernels=list(range(10)), deblur_noise=[2.55, 7.65, 12.75],
                  sr_kernels=list(range(8)), sr_factors=[2, 3], sr_noise=[2.55, 7.65, 12.75], inpaint_kept=[0.5],
                  max_iter=400, baseline_noise=[7.65]),
    "cpu": dict(images=2, crop=128, deblur_kernels=[1, 8, 9], deblur_noise=[7.65],
                sr_kernels=[1], sr_factors=[2], sr_noise=[2.55], inpaint_kept=[], max_iter=200,
                baseline_noise=[2.55, 7.65]),
    "fast": dict(images=1, crop=64, deblur_kernels=[1], deblur_noise=[7.65],
                 sr_kernels=[1], sr_factors=[2], sr_noise=[2.55], inpaint_kept=[], max_iter=25,
                 baseline_noise=[2.55, 7.65]),
}
GRIDS["full"] = GRIDS["paper"]          # the name this grid had before
PARTS = ("deblur", "sr", "inpaint")
METHODS = ("GS-PnP", "PnP-ISTA-NLM", "TV")

# Baseline parameters, chosen by `--fit-baselines` on CBSD432 training images (never on CBSD68):
# the grid values, the images and the measured means are in docs/results.md §3.
TV_MU = 5.0
"""λ = μ ν² for the TV baseline (ν the noise level on the [0, 1] scale)."""
NLM_H_OVER_NOISE = 0.75
"""h / ν of the fixed NLM weights W of the PnP-ISTA baseline (patch 7, window 21, W from Aᵀy, bicubic for SR)."""


@dataclass
class Case:
    part: str          # "deblur", "sr" or "inpaint"
    task: str          # gs_pnp preset name
    label: str         # e.g. "levin-2", "k1", "50 % kept"
    image: str
    noise: float       # on the [0, 1] scale
    op: object
    x: torch.Tensor
    factor: int = 1
    extras: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The row of the summary table: 'deblur', 'SR ×2', 'SR ×3' or 'inpaint'."""
        return f"SR ×{self.factor}" if self.part == "sr" else self.part

    def key(self, method: str, model: str) -> str:
        who = model if method == "GS-PnP" else method
        return "|".join([PROTOCOL, who, self.part, self.label, f"x{self.factor}", f"{self.noise * 255:.2f}",
                         self.image])


def cbsd10(root: Path, n: int) -> list[Path]:
    """The first ``n`` CBSD68 images in ascending numeric BSD id (the reference's CBSD10 order)."""
    folder = root / "CBSD68"
    if not folder.is_dir():
        raise FileNotFoundError(f"CBSD68 not found under {root} (pass --data or set PNP_LESSONS_DATA)")
    return sorted(folder.glob("*.png"), key=lambda p: int(p.stem))[:n]


def deblur_kernels(root: Path) -> list[tuple[str, torch.Tensor, str]]:
    """The 10 deblurring kernels of the paper, in its order: 8 Levin, 9×9 uniform, 25×25 Gaussian (std 1.6)."""
    levin = load_kernels(root / "kernels" / "Levin09.mat")
    ks = [(f"levin-{i + 1}", k, "deblur-motion") for i, k in enumerate(levin)]
    ks.append(("uniform-9", uniform_kernel(9), "deblur-uniform"))
    ks.append(("gaussian-25", gaussian_kernel(25, 1.6), "deblur-gaussian"))
    return ks


def reference_noise(shape, noise: float, seed: int = 0) -> torch.Tensor:
    """The reference's noise for one image: ``np.random.seed(0); np.random.normal(0, ν, (H, W, C))``,
    as a ``(1, C, H, W)`` float32 tensor (the same numbers as the reference draws).

    Examples
    --------
    >>> reference_noise((1, 3, 2, 2), 0.1)[0, :, 0, 0].tolist() == [float(np.float32(0.1 * v)) for v in
    ...     np.random.RandomState(0).normal(0, 1, (2, 2, 3))[0, 0]]
    True
    """
    _, C, H, W = shape
    n = np.random.RandomState(seed).normal(0, noise, (H, W, C)) if noise > 0 else np.zeros((H, W, C))
    return torch.from_numpy(n.astype(np.float32)).permute(2, 0, 1)[None].contiguous()


def observe(case: Case) -> torch.Tensor:
    """y = A x + n with the reference's noise (deblurring and SR) or the noise-free masked image."""
    y = case.op.A(case.x)
    return y + reference_noise(y.shape, case.noise).to(y.device)


def prepare(path: Path, channels: int, crop: int | None, device) -> torch.Tensor:
    x = load_image(path, grey=channels == 1)
    if crop is not None:
        H, W = x.shape[-2:]
        top, left = (H - crop) // 2, (W - crop) // 2
        x = x[..., top:top + crop, left:left + crop]
    return x.contiguous().to(device)


def cases(grid: dict, root: Path, channels: int, device, parts=PARTS):
    """Every case of ``grid`` in ``parts``, image by image within each (kernel, noise) setting."""
    paths = cbsd10(root, grid["images"])
    images = [(p.stem, prepare(p, channels, grid["crop"], device)) for p in paths]
    if "deblur" in parts:
        for name, k, task in (deblur_kernels(root)[i] for i in grid["deblur_kernels"]):
            for n in grid["deblur_noise"]:
                for stem, x in images:
                    yield Case("deblur", task, name, stem, n / 255, Blur(k), x)
    if "sr" in parts:
        k12 = load_kernels(root / "kernels" / "kernels_12.mat")
        for s in grid["sr_factors"]:
            for ki in grid["sr_kernels"]:
                for n in grid["sr_noise"]:
                    for stem, x in images:
                        H, W = x.shape[-2:]   # modcrop: the reference crops the HR image to a multiple of s
                        yield Case("sr", "sr", f"k{ki}", stem, n / 255, SuperResolution(k12[ki], s),
                                   x[..., : H - H % s, : W - W % s].contiguous(), factor=s)
    if "inpaint" in parts:
        for kept in grid["inpaint_kept"]:
            for stem, x in images:
                H, W = x.shape[-2:]
                mask = torch.from_numpy(np.random.RandomState(0).binomial(1, kept, (H, W)).astype(np.float32))
                yield Case("inpaint", "inpainting", f"{kept:.0%} kept", stem, 0.0, Inpainting(mask=mask), x,
                           extras={"kept": kept})


def run_method(c: Case, method: str, D, max_iter: int, tv_mu: float = TV_MU, h_over_noise: float | None = None,
               keep_curves: bool = False) -> dict:
    """Run one method on one case; returns PSNRs (unclipped as the reference, and clipped), iterations,
    seconds, status (and F / residual curves for GS-PnP when ``keep_curves``)."""
    from ..denoisers.nlm import NLM
    from ..solvers.pnp_ista import pnp_ista

    y = observe(c)
    t = time.perf_counter()
    out: dict = {}
    if method == "GS-PnP":
        p = preset(c.task, c.noise)
        p["max_iter"] = min(p["max_iter"], max_iter)     # the preset's own cap (100 for inpainting) or the grid's
        res = run(gs_pnp(c.op, y, D, ref=c.x, **p))
        img = res.x if c.part == "inpaint" else res.last.info["z"]
        out["psnr_x"] = psnr(res.x, c.x)
        if keep_curves:
            out["F"] = res.curve("objective")
            out["residual"] = res.curve("residual")
    elif method == "PnP-ISTA-NLM":
        h = (h_over_noise or NLM_H_OVER_NOISE) * max(c.noise, 2.55 / 255)
        res = run(pnp_ista(c.op, y, NLM(patch_size=7, window=21, h=h), gamma=1.0 / c.op.norm(), ref=c.x,
                           max_iter=min(max_iter, 100), tol=1e-5))
        img = res.x
    elif method == "TV":
        res = run(tv_primal_dual(c.op, y, lam=max(tv_mu * c.noise ** 2, 1e-5), ref=c.x, max_iter=min(max_iter, 400),
                                 tol=1e-5))
        img = res.x
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    out.update(psnr=psnr(img, c.x), psnr_clip=psnr(img.clamp(0, 1), c.x), iterations=res.iterations,
               seconds=time.perf_counter() - t, status=res.status, message=res.message[:200])
    return out


def _wants(grid: dict, c: Case, method: str) -> bool:
    if method == "GS-PnP":
        return True
    if c.part == "inpaint":
        return False
    return round(c.noise * 255, 2) in grid["baseline_noise"]


def load_cache(out: Path) -> dict:
    """Every cached row under ``out`` (``cases-*.jsonl``), by key."""
    rows = {}
    for f in sorted(out.glob("cases-*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:      # a line cut by an interruption: that case runs again
                    continue
                rows[r["key"]] = r
    return rows


def summarise(rows: list[dict]) -> dict:
    """{(family, noise): {method: (mean PSNR, mean clipped PSNR, mean iterations, n)}}."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["family"], r["noise"]), {}).setdefault(r["method"], []).append(r)
    out = {}
    for key, by in groups.items():
        out[key] = {m: (float(np.mean([r["psnr"] for r in v])), float(np.mean([r["psnr_clip"] for r in v])),
                        float(np.mean([r["iterations"] for r in v])), len(v)) for m, v in by.items()}
    return out


def table_lines(rows: list[dict], grid_name: str, model: str, device_text: str,
                expected: dict | None = None) -> list[str]:
    """The summary table; ``expected`` = {(family, noise): {method: number of runs in the grid}} adds
    "n of N" to every cell, so a partial grid says how partial it is."""
    summary = summarise(rows)
    order = {"deblur": 0, "SR ×2": 1, "SR ×3": 2, "inpaint": 3}
    lines = [f"Grid `{grid_name}`, {device_text}, model `{model}`, {len({r['image'] for r in rows})} image(s). "
             "Mean PSNR in dB (not clipped, as the reference) / mean iterations (runs averaged).", "",
             "| task | noise (/255) | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    keys = set(summary) | set(expected or {})
    for (family, noise) in sorted(keys, key=lambda k: (order.get(k[0], 9), k[1])):
        by = summary.get((family, noise), {})
        want = (expected or {}).get((family, noise), {})
        cells = []
        for m in METHODS:
            n_of = f"{by[m][3] if m in by else 0}" + (f" of {want[m]}" if m in want else "")
            if m in by:
                cells.append(f"{by[m][0]:.2f} / {by[m][2]:.0f} ({n_of})")
            else:
                cells.append(f"— ({n_of})" if m in want else "—")
        lines.append(f"| {family} | {noise:g} | " + " | ".join(cells) + " |")
    return lines


def _mean_cells(rows: list[dict], key, noises: list[float]) -> dict:
    """For each ``key(row)`` in first-seen order, one table cell per noise level: mean PSNR and the number of
    runs averaged, ``"31.81 (10)"``, or ``"—"`` where none ran."""
    psnrs: dict = {}
    for r in rows:
        psnrs.setdefault(key(r), {}).setdefault(r["noise"], []).append(r["psnr"])
    return {k: [f"{np.mean(v[n]):.2f} ({len(v[n])})" if n in v else "—" for n in noises] for k, v in psnrs.items()}


def kernel_lines(rows: list[dict], method: str = "GS-PnP") -> list[str]:
    """``method``'s mean PSNR per kernel (rows) and noise level (columns) of the deblurring part, with the
    number of images averaged; and the mean gap z − x (what returning z buys) for GS-PnP."""
    deb = [r for r in rows if r["part"] == "deblur" and r["method"] == method]
    if not deb:
        return []
    noises = sorted({r["noise"] for r in deb})
    lines = [f"{method}, deblurring, per kernel: mean PSNR (dB) over the images run (n).", "",
             "| kernel | " + " | ".join(f"ν = {n:g}" for n in noises) + " |", "|---|" + "---|" * len(noises)]
    for lab, cells in _mean_cells(deb, lambda r: r["label"], noises).items():
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    gaps = [r["psnr"] - r["psnr_x"] for r in deb if r.get("psnr_x") is not None]
    if gaps:
        lines += ["", f"PSNR of z minus PSNR of x over these {len(gaps)} runs: mean {np.mean(gaps):+.2f} dB "
                      f"(from {min(gaps):+.2f} to {max(gaps):+.2f})."]
    return lines


def sr_lines(rows: list[dict], method: str = "GS-PnP") -> list[str]:
    """The SR part: ``method``'s mean PSNR per scale and kernel (rows) and noise level (columns), and, over
    the cases run at every noise level, how the lowest-noise runs that stop at the iteration cap compare with
    those that meet the tolerance (each against the same image, kernel and scale at the middle noise level).

    Examples
    --------
    >>> r = lambda lab, n, img, p, st="converged": dict(part="sr", method="GS-PnP", factor=2, label=lab, noise=n,
    ...                                                 image=img, psnr=p, status=st)
    >>> rows = [r("k0", 2.55, "a", 30.0), r("k0", 7.65, "a", 29.0), r("k0", 12.75, "a", 28.0),
    ...         r("k0", 2.55, "b", 25.0, "max_iter"), r("k0", 7.65, "b", 26.0), r("k0", 12.75, "b", 25.5)]
    >>> import textwrap; print(textwrap.fill(sr_lines(rows)[-1], 100))
    At ν = 2.55, 1 of these 2 runs stop at the iteration cap: they score -1.00 dB against the same case
    at ν = 7.65 (1 below it); the 1 that meet the tolerance +1.00 dB (0 below).
    """
    sr = [r for r in rows if r["part"] == "sr" and r["method"] == method]
    if not sr:
        return []
    noises = sorted({r["noise"] for r in sr})
    lines = [f"{method}, super-resolution, per scale and kernel: mean PSNR (dB) over the images run (n).", "",
             "| scale | kernel | " + " | ".join(f"ν = {n:g}" for n in noises) + " |",
             "|---|---|" + "---|" * len(noises)]
    for (s, lab), cells in _mean_cells(sr, lambda r: (r["factor"], r["label"]), noises).items():
        lines.append(f"| ×{s} | {lab} | " + " | ".join(cells) + " |")
    by: dict = {}
    for r in sr:
        by.setdefault((r["factor"], r["label"], r["image"]), {})[r["noise"]] = r
    full = [v for v in by.values() if len(v) == len(noises)]
    if len(noises) < 3 or not full:
        return lines
    lo, mid = noises[0], noises[len(noises) // 2]
    means = " / ".join(f"{np.mean([v[n]['psnr'] for v in full]):.2f}" for n in noises)
    lines += ["", f"Over the {len(full)} cases run at all {len(noises)} noise levels: mean PSNR {means} dB at "
                  f"ν = {' / '.join(f'{n:g}' for n in noises)}."]
    capped = [v[lo]["psnr"] - v[mid]["psnr"] for v in full if v[lo]["status"] == "max_iter"]
    met = [v[lo]["psnr"] - v[mid]["psnr"] for v in full if v[lo]["status"] != "max_iter"]

    def gap(d):
        return f"{np.mean(d):+.2f} dB" if d else "—"
    lines.append(f"At ν = {lo:g}, {len(capped)} of these {len(full)} runs stop at the iteration cap: they score "
                 f"{gap(capped)} against the same case at ν = {mid:g} ({sum(d < 0 for d in capped)} below it); "
                 f"the {len(met)} that meet the tolerance {gap(met)} ({sum(d < 0 for d in met)} below).")
    return lines


def convergence_figure(curves: dict, title: str, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    F = np.array([f for f in curves["F"] if f is not None])
    r = np.array(curves["residual"]) ** 2
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    ax[0].plot(np.arange(1, len(F) + 1), F, "-o", ms=3)
    ax[0].set(xlabel="iteration k", ylabel=r"$F(x_k)$", title="F decreases (Theorem 1)")
    ax[1].semilogy(np.arange(1, len(r) + 1), r / max(r[0], 1e-30), "-o", ms=3)
    ax[1].set(xlabel="iteration k", ylabel=r"$\|x_{k+1}-x_k\|^2 / \|x_1-x_0\|^2$", title="iterates settle")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fit_baselines(root: Path, channels: int = 3, images: int = 4, crop: int = 192, device="cpu") -> dict:
    """Choose the baselines' parameters on CBSD432 training images (disjoint from CBSD68): the TV weight
    μ (λ = μν²) and the NLM width h/ν, each on a grid, by the mean PSNR over deblurring (second Levin kernel,
    uniform, Gaussian) at 7.65/255 and SR ×2 (kernels_12 kernel 1) at 2.55 and 7.65/255, on centre crops."""
    folder = root / "CBSD432"
    paths = sorted(folder.glob("*.jpg"))[:images]
    if not paths:
        raise FileNotFoundError(f"no CBSD432 images under {folder}")
    k12 = load_kernels(root / "kernels" / "kernels_12.mat")
    ks = deblur_kernels(root)
    probs = []
    for p in paths:
        x = prepare(p, channels, crop, device)
        for i in (1, 8, 9):
            probs.append(Case("deblur", ks[i][2], ks[i][0], p.stem, 7.65 / 255, Blur(ks[i][1]), x))
        for n in (2.55, 7.65):
            probs.append(Case("sr", "sr", "k1", p.stem, n / 255, SuperResolution(k12[1], 2), x, factor=2))
    result: dict = {"images": [p.name for p in paths], "crop": crop, "channels": channels}
    for name, grid_vals, kw in (("TV", (2.5, 5.0, 10.0, 20.0, 40.0), "tv_mu"),
                                ("PnP-ISTA-NLM", (0.5, 0.75, 1.0, 1.5, 2.0), "h_over_noise")):
        scores = {}
        for v in grid_vals:
            scores[v] = float(np.mean([run_method(c, name, None, 400, **{kw: v})["psnr"] for c in probs]))
            print(f"  {name} {kw} = {v:g}: mean PSNR {scores[v]:.3f} dB over {len(probs)} problems", flush=True)
        best = max(scores, key=scores.get)
        result[name] = {"parameter": kw, "scores": scores, "best": best}
    return result


def rule_stop(F, tol: float) -> int | None:
    """The iteration k at which the reference's rule |F(x_{k-1}) − F(x_k)| / |F(x_{k-1})| < ``tol`` first holds
    along the objective curve ``F`` (one value per iteration), or None if it never does.

    >>> rule_stop([10.0, 5.0, 4.99999], 1e-5), rule_stop([10.0, 5.0], 1e-5)
    (3, None)
    """
    return next((k + 1 for k in range(1, len(F)) if abs(F[k - 1] - F[k]) / abs(F[k - 1]) < tol), None)


def stopping_study(root: Path, out: Path, device="cpu", max_iter: int = 400) -> list[dict]:
    """Does GS-PnP gain by running past the reference's stopping rule? Runs to ``max_iter`` with the rule
    switched off and records, per case, the PSNR of z (the reported image) and of x at the iteration where
    |ΔF|/|F| first falls below the preset's tolerance, at the end, and at its best. Cases (none from a test
    set): the playground's default deblurring (camera 128², 9×9 Gaussian of std 1.6, noise 10/255, grey model)
    and, with the colour model, the first CBSD432 training image (256² centre crop) deblurred (second Levin
    kernel, 7.65/255) and super-resolved ×2 (kernels_12 kernel 1, 2.55/255). Writes ``stopping.png``."""
    from ..denoisers.weights import load_denoiser
    from ..images import sample

    grey = load_denoiser("gsdrunet-small-grey", device=device).eval()
    colour = load_denoiser("gsdrunet-small-colour", device=device).eval()
    x_cam = sample("camera", size=128, grey=True).to(device)
    train = sorted((root / "CBSD432").glob("*.jpg"))[0]
    x_tr = prepare(train, 3, 256, device)
    levin = deblur_kernels(root)[1]
    k1 = load_kernels(root / "kernels" / "kernels_12.mat")[1]
    studies = [("playground default: camera 128², Gaussian 9×9 (std 1.6), ν = 10/255", grey, x_cam,
                Blur(gaussian_kernel(9, 1.6)), 10 / 255, "deblur-gaussian"),
               (f"CBSD432 {train.stem} 256², {levin[0]}, ν = 7.65/255", colour, x_tr, Blur(levin[1]), 7.65 / 255,
                "deblur-motion"),
               (f"CBSD432 {train.stem} 256², SR ×2 k1, ν = 2.55/255", colour, x_tr, SuperResolution(k1, 2), 2.55 / 255,
                "sr")]
    rows = []
    for name, D, x, op, noise, task in studies:
        y = op.A(x) + reference_noise(op.A(x).shape, noise).to(device)
        p = preset(task, noise, max_iter=max_iter)
        tol = p.pop("tol")
        res = run(gs_pnp(op, y, D, ref=x, tol=0.0, **p))
        F = res.curve("objective")
        pz, px = res.curve("psnr_z"), res.curve("psnr")
        stop = rule_stop(F, tol) or len(F)
        best = int(np.argmax(pz))
        rows.append(dict(case=name, tol=tol, stop=stop, psnr_z_stop=pz[stop - 1], psnr_x_stop=px[stop - 1],
                         iterations=res.iterations, psnr_z_end=pz[-1], best_k=best + 1, psnr_z_best=pz[best],
                         status=res.status, message=res.message, curve_z=pz, curve_x=px))
        print(f"  {name}: rule stops at k = {stop} (z {pz[stop - 1]:.2f} dB, x {px[stop - 1]:.2f} dB); "
              f"k = {res.iterations}: z {pz[-1]:.2f} dB ({res.status}); best z {pz[best]:.2f} dB at k = {best + 1}",
              flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.2))
    for ax, r in zip(axes, rows, strict=False):
        k = np.arange(1, len(r["curve_z"]) + 1)
        ax.plot(k, r["curve_z"], color="#d55e00", label="z (reported)")
        ax.plot(k, r["curve_x"], color="#0072b2", label="x")
        ax.axvline(r["stop"], color="k", ls="--", lw=1, label=f"|ΔF|/|F| < {r['tol']:g} (k = {r['stop']})")
        ax.set(xlabel="iteration k", ylabel="PSNR (dB)", title=r["case"])
        ax.title.set_fontsize(7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "stopping.png", dpi=90)
    plt.close(fig)
    return rows


def past_cap(root: Path, image: str, label: str, noise: float, iterations: int, factor: int = 2,
             model: str = "gsdrunet-small-colour", device="cpu", crop: int | None = None) -> dict:
    """One SR case of the ``paper`` grid (CBSD68 ``image``, kernels_12 ``label`` such as ``"k0"``, ×``factor``,
    noise ``noise``/255) run by GS-PnP with the stopping rule off for ``iterations`` iterations, from the same
    observation and start as the grid. Returns the curves per iteration: F, f = ½‖Ax − y‖², g_σ, τ and the PSNR
    of z and x, with the iteration at which the preset's rule |ΔF|/|F| < tol would have stopped (None: never).

    Why: at 2.55/255 most SR runs of the grid reach the 400-iteration cap (docs/results.md §3); this shows what
    happens past it. ``crop`` (a centre crop) makes it small enough for a test."""
    from ..denoisers.weights import load_denoiser

    if not (label.startswith("k") and label[1:].isdigit() and int(label[1:]) < 12):
        raise ValueError(f"label must name a kernels_12 kernel, k0 … k11, got {label!r}")
    grid = dict(GRIDS["paper"], sr_kernels=[int(label[1:])], sr_factors=[factor], sr_noise=[noise], crop=crop)
    D = load_denoiser(model, device=device).eval()
    c = next((c for c in cases(grid, root, D.channels, device, ("sr",)) if c.image == image), None)
    if c is None:
        raise ValueError(f"image must be one of the paper grid's CBSD10 images, got {image!r}")
    y = observe(c)
    p = preset("sr", c.noise, max_iter=iterations)
    tol = p.pop("tol")
    res = run(gs_pnp(c.op, y, D, ref=c.x, tol=0.0, **p))
    F = res.curve("objective")
    stop = rule_stop(F, tol)
    return dict(image=image, label=label, factor=factor, noise=noise, lam=p["lam"], sigma=p["sigma"], tol=tol,
                iterations=res.iterations, status=res.status, rule_stop=stop, F=F, f=res.curve("f"),
                g=res.curve("g"), tau=res.curve("tau"), psnr_z=res.curve("psnr_z"), psnr_x=res.curve("psnr"))


AUTHORS_FIGURE = dict(image="starfish", kernel=1, noise=2.55, blurred_psnr=20.97, restored_psnr=29.89)
"""The deblurring panel of the authors' own results figure (GSPnP's README, ``images/results.png``: "Various
GS-PnP restorations on set3C"): starfish, a Levin kernel, "Blurred (20.97dB)", "GS-PnP (29.89dB)". The figure
names neither kernel nor noise; of the 10 kernels × 3 noise levels of the paper's grid, only the second Levin
kernel at 2.55/255 gives the blurred PSNR 20.97 dB with the reference's noise (the next closest, 20.96 dB, is the
fifth kernel at 12.75/255)."""


def authors_figure(root: Path, out: Path, device="cpu") -> dict:
    """Rerun the deblurring panel of the authors' figure (:data:`AUTHORS_FIGURE`) with the shipped colour model
    and draw it the same way: clean, blurred, restored, F(x_k) and γ_k = min_{i≤k} ‖x_{i+1} − x_i‖²/‖x_0‖²;
    also its inpainting panel (butterfly, 50 % of the pixels kept as in the reference's default, noise-free)."""
    from ..denoisers.weights import load_denoiser

    a = AUTHORS_FIGURE
    D = load_denoiser("gsdrunet-small-colour", device=device).eval()
    x = load_image(root / "set3c" / f"{a['image']}.png", grey=False).to(device)
    name, k, task = deblur_kernels(root)[a["kernel"]]
    c = Case("deblur", task, name, a["image"], a["noise"] / 255, Blur(k), x)
    y = observe(c)
    p = preset(task, c.noise)
    res = run(gs_pnp(c.op, y, D, ref=x, **p))
    z = res.last.info["z"]
    steps = np.array(res.curve("residual")) ** 2
    x0_norm2 = float((gs_pnp_initial(c, y, p).double() ** 2).sum())
    gam = np.minimum.accumulate(steps / x0_norm2)
    out_d = dict(blurred_psnr=psnr(y, x), restored_psnr=psnr(z, x), iterations=res.iterations, status=res.status,
                 paper_blurred=a["blurred_psnr"], paper_restored=a["restored_psnr"], kernel=name)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(15, 3.2), gridspec_kw=dict(width_ratios=[1, 1, 1, 1.2, 1.2]))
    for axi, (im, cap) in zip(ax[:3], [(x, "Clean"), (y, f"Blurred ({out_d['blurred_psnr']:.2f} dB; paper 20.97)"),
                                       (z,
                                        f"GS-PnP, ours ({out_d['restored_psnr']:.2f} dB; paper 29.89)")], strict=False):
        axi.imshow(im[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
        axi.set_title(cap, fontsize=8)
        axi.axis("off")
    F = res.curve("objective")
    ax[3].plot(range(len(F)), F, "-o", ms=3)
    ax[3].set(xlabel="k", title="F(x_k)")
    ax[4].semilogy(range(len(gam)), gam, "-o", ms=3)
    ax[4].set(xlabel="k", title="γ_k (log scale)")
    fig.suptitle(f"The deblurring panel of the authors' figure, rerun: starfish, {name}, noise 2.55/255, "
                 f"small colour GS-DRUNet", fontsize=9)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "authors_figure_deblur.png", dpi=80)
    plt.close(fig)
    # the inpainting panel: butterfly, "GS-PnP (31.65dB)"; the figure does not give the proportion of observed
    # pixels: the reference's default, prop_mask = 0.5, noise-free, hard data constraint, 100 iterations
    xb = load_image(root / "set3c" / "butterfly.png", grey=False).to(device)
    H, W = xb.shape[-2:]
    mask = torch.from_numpy(np.random.RandomState(0).binomial(1, 0.5, (H, W)).astype(np.float32))
    ci = Case("inpaint", "inpainting", "50% kept", "butterfly", 0.0, Inpainting(mask=mask), xb)
    ri = run(gs_pnp(ci.op, observe(ci), D, ref=xb, **preset("inpainting", 0.0)))
    out_d.update(inpainting_psnr=psnr(ri.x, xb), inpainting_iterations=ri.iterations, paper_inpainting=31.65)
    print(json.dumps(out_d, indent=1))
    return out_d


def gs_pnp_initial(c: Case, y: torch.Tensor, p: dict) -> torch.Tensor:
    from ..solvers.gs_pnp import initial_point

    return initial_point(c.op, y, 1.0 / p["lam"])


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="GS-PnP restoration experiments (Hurault et al. 2022)")
    ap.add_argument("--grid", choices=sorted(GRIDS), default=None,
                    help="paper (the paper's protocol; resumable), cpu (a few minutes) or fast (CI); "
                         "default: paper on CUDA, cpu otherwise")
    ap.add_argument("--part", nargs="+", choices=PARTS, default=list(PARTS), help="which parts of the grid to run")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--shard", default="0/1", metavar="K/N",
                    help="run only the runs whose index is K modulo N (N processes share one grid; each writes "
                         "its own cache file)")
    ap.add_argument("--workers", type=int, default=1, metavar="N",
                    help="run the missing runs in N processes (one torch thread each unless --threads) that take "
                         "the next run from one queue; this process writes the cache (default 1: run here)")
    ap.add_argument("--model", default=None,
                    help="shipped GS denoiser (default: gsdrunet-small-grey, else the first shipped GS model)")
    ap.add_argument("--data", type=Path, default=None, help="data root (default ../shared/data or $PNP_LESSONS_DATA)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output and cache folder (default results/gs_pnp_<grid>_<model>)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--table-only", action="store_true", help="write the table from the cache, run nothing")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--fit-baselines", action="store_true",
                    help="choose TV's μ and NLM's h/ν on CBSD432 training images and print the scores")
    ap.add_argument("--channels", type=int, choices=(1, 3), default=3,
                    help="with --fit-baselines: fit on the colour images (3, the default) or their luminance (1)")
    ap.add_argument("--authors-figure", action="store_true",
                    help="rerun the deblurring panel of the authors' README figure (set3c starfish) and draw it")
    ap.add_argument("--stopping-study", action="store_true",
                    help="run GS-PnP past the reference's stopping rule to 400 iterations and plot PSNR against k")
    ap.add_argument("--past-cap", metavar="IMAGE:KERNEL:NOISE", default=None,
                    help="one SR ×2 case of the paper grid (e.g. 33039:k0:2.55) run with the rule off for "
                         "--iterations; prints F, f, g and PSNR along the way")
    ap.add_argument("--iterations", type=int, default=1200, help="with --past-cap (default 1200)")
    return ap


def _shard(text: str) -> tuple[int, int]:
    """``'K/N'`` → ``(K, N)`` with 0 ≤ K < N."""
    try:
        shard, nshards = (int(v) for v in text.split("/"))
        if not 0 <= shard < nshards:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--shard must be K/N with 0 <= K < N, got {text!r}") from None
    return shard, nshards


def _todo(grid: dict, root: Path, channels: int, device, parts, methods) -> list:
    """Every (case, method) run of ``grid``, in the grid's order (the order ``--shard`` deals out)."""
    return [(c, m) for c in cases(grid, root, channels, device, parts) for m in methods if _wants(grid, c, m)]


def _row(c: Case, m: str, r: dict, model: str, device_text: str) -> dict:
    """One cache line: the run's key and settings, then its results (floats to 4 decimals)."""
    return dict(key=c.key(m, model), protocol=PROTOCOL, model=model if m == "GS-PnP" else "", method=m,
                part=c.part, family=c.family, label=c.label, factor=c.factor, noise=round(c.noise * 255, 2),
                image=c.image, device=device_text,
                **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})


_WORKER: dict = {}
"""A ``--workers`` process's own grid and model, set once by :func:`_worker_init`."""


def _worker_init(setup: dict) -> None:
    """Start of a ``--workers`` process: one torch thread (or ``--threads``), the model and the grid's runs."""
    import signal

    from ..denoisers.weights import load_denoiser

    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the parent's: it stops the pool, the cache stays
    torch.set_num_threads(setup["threads"])
    device = get_device(setup["device"])
    D = load_denoiser(setup["model"], device=device).eval()
    grid = setup["grid"]
    # device_text: the machine a run was computed on, as the cache records it (this process's threads)
    _WORKER.update(D=D, model=setup["model"], device_text=describe_device(device), max_iter=grid["max_iter"],
                   todo=_todo(grid, setup["root"], D.channels, device, setup["parts"], setup["methods"]))


def _worker_run(job: tuple[int, str, bool]) -> tuple[int, dict, str]:
    """Run number ``i`` of the grid in a ``--workers`` process; returns ``(i, results, device text)``."""
    i, key, keep_curves = job
    c, m = _WORKER["todo"][i]
    if c.key(m, _WORKER["model"]) != key:      # the worker built the grid itself: it must be the parent's
        raise RuntimeError(f"worker's run {i} is {c.key(m, _WORKER['model'])!r}, the parent's {key!r}")
    return i, run_method(c, m, _WORKER["D"], _WORKER["max_iter"], keep_curves=keep_curves), _WORKER["device_text"]


def _results(missing, todo, D, grid, first_key, model, workers: int, setup: dict, device_text: str):
    """Yield ``(case, method, results, device text)`` for the runs numbered ``missing``, in this process
    (``workers == 1``) or in ``workers`` processes that take the next run from one queue as each finishes its
    last (so no process is left alone with the slow runs, as a fixed ``--shard`` split can be)."""
    if workers == 1:
        for i in missing:
            c, m = todo[i]
            yield c, m, run_method(c, m, D, grid["max_iter"], keep_curves=(c.key(m, model) == first_key)), device_text
        return
    import multiprocessing

    # spawn, not fork: a forked copy of a process whose torch thread pool has already run can deadlock
    with multiprocessing.get_context("spawn").Pool(workers, _worker_init, (setup,)) as pool:
        keys = {i: todo[i][0].key(todo[i][1], model) for i in missing}
        jobs = [(i, keys[i], keys[i] == first_key) for i in missing]
        for i, r, ran_on in pool.imap_unordered(_worker_run, jobs, chunksize=1):
            c, m = todo[i]
            yield c, m, r, ran_on


def _run_missing(missing, todo, cache, D, model, grid, grid_name, out, shard, nshards, device_text, first_key,
                 no_progress, workers: int, setup: dict) -> None:
    """Run the missing runs (indices into ``todo``), appending each result to the cache as soon as it is done:
    this shard's cache files; with ``workers`` processes, this process writes every line."""
    from tqdm.auto import tqdm

    desc = f"{grid_name} grid" + (f" shard {shard}/{nshards}" if nshards > 1 else "") \
        + (f", {workers} workers" if workers > 1 else "")
    bar = tqdm(total=len(missing), desc=desc, unit="run", disable=no_progress)
    suffix = f"-shard{shard}of{nshards}" if nshards > 1 else ""
    files = {}
    done = 0
    try:
        for c, m, r, ran_on in _results(missing, todo, D, grid, first_key, model, workers, setup, device_text):
            row = _row(c, m, r, model, ran_on)
            cache[row["key"]] = row
            f = files.get(c.part) or open(out / f"cases-{c.part}{suffix}.jsonl", "a")
            files[c.part] = f
            f.write(json.dumps(row) + "\n")
            f.flush()
            bar.update()
            done += 1
            bar.set_postfix_str(f"{m} {c.family} {c.label} ν={c.noise * 255:.2f} {c.image}: {r['psnr']:.2f} dB")
            if no_progress:
                print(f"  {m:<13} {c.family:<8} {c.label:<12} ν={c.noise * 255:5.2f} {c.image:>7}: "
                      f"{r['psnr']:.2f} dB, {r['iterations']} it, {r['seconds']:.1f} s", flush=True)
    except KeyboardInterrupt:
        raise SystemExit(f"\ninterrupted: {done} of {len(missing)} runs finished and are cached in {out}; "
                         "the same command resumes from there") from None
    finally:
        bar.close()
        for f in files.values():
            f.close()


def _write_outputs(rows, todo, grid_name, model, out, wall) -> list[str]:
    """``results.csv`` and ``table.md`` from the cached rows; returns the table's lines."""
    with open(out / "results.csv", "w", newline="") as f:
        fields = ["family", "label", "noise", "image", "method", "model", "psnr", "psnr_clip", "psnr_x",
                  "iterations", "seconds", "status"]
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    expected: dict = {}
    for c, m in todo:
        e = expected.setdefault((c.family, round(c.noise * 255, 2)), {})
        e[m] = e.get(m, 0) + 1
    # the machine of the cached runs, not of this call (--table-only runs nothing)
    ran_on = ", ".join(sorted({r.get("device", "?") for r in rows}))
    lines = table_lines(rows, grid_name, model, f"runs computed on {ran_on}", expected)
    ran_now = "" if wall is None else f"; wall time of this call {wall:.0f} s"
    lines += ["", f"{len(rows)} of {len(todo)} runs done{ran_now}; "
                  f"{sum(r['seconds'] for r in rows) / 3600:.2f} h of compute in the cached runs."]
    for extra in (kernel_lines(rows), sr_lines(rows)):
        if extra:
            lines += [""] + extra
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return lines


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    from ..denoisers.weights import list_shipped, load_denoiser

    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    root = args.data or data_root()
    if args.fit_baselines:
        res = fit_baselines(root, channels=args.channels, device=device)
        print(json.dumps(res, indent=1))
        return res
    if args.authors_figure:
        return authors_figure(root, args.out or Path("results") / "gs_pnp_authors_figure", device=device)
    if args.stopping_study:
        rows = stopping_study(root, args.out or Path("results") / "gs_pnp_stopping", device=device)
        return {"rows": rows}
    if args.past_cap:
        try:
            image, label, noise = args.past_cap.split(":")
            noise = float(noise)
        except ValueError:
            raise SystemExit(f"--past-cap must be IMAGE:KERNEL:NOISE such as 33039:k0:2.55, got {args.past_cap!r}") \
                from None
        r = past_cap(root, image, label, noise, args.iterations, device=device)
        stops = f"stops at k = {r['rule_stop']}" if r["rule_stop"] else "never stops"
        print(f"{image} SR ×2 {label}, ν = {noise}/255, σ = {r['sigma'] * 255:.2f}/255, λ = {r['lam']}: the rule "
              f"(|ΔF|/|F| < {r['tol']:g}) {stops}")
        for k in sorted({1, 15, 50, 100, 200, 400, 800, r["iterations"]}):
            if k <= r["iterations"]:
                i = k - 1
                print(f"  k = {k:>5}: F {r['F'][i]:.3f} = f {r['f'][i]:.3f} + λg {r['lam'] * r['g'][i]:.3f}; "
                      f"τ {r['tau'][i]:.2f}; PSNR z {r['psnr_z'][i]:.2f} dB, x {r['psnr_x'][i]:.2f} dB")
        return r
    grid_name = args.grid or ("paper" if device.type == "cuda" else "cpu")
    grid = GRIDS[grid_name]
    shipped = [n for n in list_shipped() if n.startswith("gsdrunet")]
    default = "gsdrunet-small-grey" if "gsdrunet-small-grey" in shipped else (shipped[0] if shipped else None)
    model = args.model or default
    if model is None:
        raise SystemExit("no shipped GS-DRUNet weights in data/weights/ (train one with `pnp-lessons train`)")
    shard, nshards = _shard(args.shard)
    if args.workers < 1:
        raise SystemExit(f"--workers must be a whole number >= 1, got {args.workers}")
    D = load_denoiser(model, device=device).eval()
    out = args.out or Path("results") / f"gs_pnp_{grid_name}_{model}"
    out.mkdir(parents=True, exist_ok=True)
    device_text = describe_device(device)
    print(f"grid '{grid_name}' on {device_text}, model {model}, parts {' '.join(args.part)}")
    cache = load_cache(out)
    todo = _todo(grid, root, D.channels, device, args.part, args.methods)
    first_key = todo[0][0].key("GS-PnP", model) if todo else None
    missing = [i for i, (c, m) in enumerate(todo) if c.key(m, model) not in cache and i % nshards == shard]
    t0 = time.perf_counter()
    ran = bool(missing) and not args.table_only
    if ran:
        setup = dict(grid=grid, root=root, model=model, device=str(device), parts=args.part,
                     methods=args.methods, threads=args.threads or 1)
        _run_missing(missing, todo, cache, D, model, grid, grid_name, out, shard, nshards, device_text, first_key,
                     args.no_progress, workers=min(args.workers, len(missing)), setup=setup)
    rows = [cache[c.key(m, model)] for c, m in todo if c.key(m, model) in cache]
    if not rows:
        raise SystemExit("nothing to tabulate: no case of this grid has run yet")
    lines = _write_outputs(rows, todo, grid_name, model, out, time.perf_counter() - t0 if ran else None)
    first = cache.get(first_key) if first_key else None
    if first and first.get("F"):
        convergence_figure(first, f"GS-PnP, {first['family']} {first['label']}, noise {first['noise']:g}/255, "
                                  f"image {first['image']}", out / "convergence.png")
    print("\n".join(lines))
    print(f"wrote {out / 'table.md'}, {out / 'results.csv'}")
    return {"rows": rows, "grid": grid_name, "out": out, "todo": len(todo)}


if __name__ == "__main__":
    main()
