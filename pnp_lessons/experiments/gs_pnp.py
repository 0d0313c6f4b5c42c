"""The GS-PnP restoration experiments (Hurault et al., ICLR 2022, §5), side by side with PnP-ISTA-NLM
and TV-FISTA on the same inputs.

    python -m pnp_lessons.experiments.gs_pnp [--grid full|cpu|fast] [--model gsdrunet-small-grey] [--out DIR]

Grids
-----
``full`` (the paper's; meant for a CUDA GPU): the first 10 CBSD68 images in ascending numeric BSD id
(the reference's "CBSD10"); deblurring with the 8 Levin et al. kernels + 9×9 uniform + 25×25 Gaussian
(std 1.6) at noise 2.55, 7.65, 12.75 (/255); SR ×2 and ×3 with kernels_12 0–7 at noise 0, 2.55, 7.65.
``cpu`` (default without CUDA, under 10 minutes on 2 cores): 2 images, 128×128 centre crops, the
second Levin kernel + uniform + Gaussian at 7.65/255, and SR ×2 with kernels_12 kernel 1 (std 1.2) at 2.55/255.
``fast`` (CI): 1 image, 64×64 crop, the second Levin kernel at 7.65/255 and SR ×2 at 2.55/255, few iterations.

A grey model restores the luminance of the images (ITU-R 601); a colour model the RGB images.
GS-PnP reports the PSNR of the last z (deblurring, SR), as the reference code does (see
:mod:`pnp_lessons.solvers.gs_pnp`). Writes ``table.md``, ``results.csv`` and ``convergence.png``
(the paper's Fig. 3 panel: F(x_k) and ‖x_{k+1} − x_k‖²/‖x_0‖² against k) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..device import describe_device, get_device
from ..images import data_root, load_image
from ..metrics import psnr
from ..operators import Blur, SuperResolution, gaussian_kernel, load_kernels, uniform_kernel
from ..solvers import fista, gs_pnp, run
from ..solvers.gs_pnp import preset

GRIDS = {
    "full": dict(images=10, crop=None, deblur_kernels=list(range(10)), deblur_noise=[2.55, 7.65, 12.75],
                 sr_kernels=list(range(8)), sr_factors=[2, 3], sr_noise=[0.0, 2.55, 7.65], max_iter=400),
    "cpu": dict(images=2, crop=128, deblur_kernels=[1, 8, 9], deblur_noise=[7.65],
                sr_kernels=[1], sr_factors=[2], sr_noise=[2.55], max_iter=200),
    "fast": dict(images=1, crop=64, deblur_kernels=[1], deblur_noise=[7.65],
                 sr_kernels=[1], sr_factors=[2], sr_noise=[2.55], max_iter=25),
}
METHODS = ("GS-PnP", "PnP-ISTA-NLM", "TV-FISTA")


@dataclass
class Case:
    task: str          # preset name
    label: str         # e.g. "deblur levin-2" or "SR x2 k1"
    image: str
    noise: float       # on the [0, 1] scale
    op: object
    x: torch.Tensor


def cbsd10(root: Path, n: int) -> list[Path]:
    """The first ``n`` CBSD68 images in ascending numeric BSD id (the reference's CBSD10 order)."""
    folder = root / "CBSD68"
    if not folder.is_dir():
        raise FileNotFoundError(f"CBSD68 not found under {root} (pass --data or set PNP_LESSONS_DATA)")
    return sorted(folder.glob("*.png"), key=lambda p: int(p.stem))[:n]


def deblur_kernels(root: Path) -> list[tuple[str, torch.Tensor, str]]:
    """The 10 deblurring kernels of the paper: 8 Levin, 9×9 uniform, 25×25 Gaussian (std 1.6)."""
    levin = load_kernels(root / "kernels" / "Levin09.mat")
    ks = [(f"levin-{i + 1}", k, "deblur-motion") for i, k in enumerate(levin)]
    ks.append(("uniform-9", uniform_kernel(9), "deblur-uniform"))
    ks.append(("gaussian-25", gaussian_kernel(25, 1.6), "deblur-gaussian"))
    return ks


def prepare(path: Path, channels: int, crop: int | None, multiple: int, device) -> torch.Tensor:
    x = load_image(path, grey=channels == 1)
    H, W = x.shape[-2:]
    if crop is not None:
        t, l = (H - crop) // 2, (W - crop) // 2
        x = x[..., t:t + crop, l:l + crop]
    H, W = x.shape[-2:]
    return x[..., : H - H % multiple, : W - W % multiple].contiguous().to(device)


def cases(grid: dict, root: Path, channels: int, device):
    paths = cbsd10(root, grid["images"])
    kernels = deblur_kernels(root)
    k12 = load_kernels(root / "kernels" / "kernels_12.mat")
    for p in paths:
        x = prepare(p, channels, grid["crop"], 6, device)
        for ki in grid["deblur_kernels"]:
            name, k, task = kernels[ki]
            for n in grid["deblur_noise"]:
                yield Case(task, f"deblur {name}", p.stem, n / 255, Blur(k), x)
        for ki in grid["sr_kernels"]:
            for s in grid["sr_factors"]:
                for n in grid["sr_noise"]:
                    yield Case("sr", f"SR ×{s} k{ki}", p.stem, n / 255, SuperResolution(k12[ki], s), x)


def tv_lambda(noise: float) -> float:
    """λ for TV-FISTA: the MAP weight σ²·μ with μ = 20 (a fixed rule, not tuned per image)."""
    return max(20 * noise ** 2, 1e-4)


def run_case(c: Case, D, max_iter: int, seed: int = 0) -> tuple[dict, dict]:
    from ..denoisers.nlm import H_FACTOR, NLM
    from ..solvers.pnp_ista import pnp_ista

    y = c.op.observe(c.x, c.noise, seed=seed)
    out, curves = {}, {}
    t = time.perf_counter()
    p = preset(c.task, c.noise, max_iter=max_iter)
    res = run(gs_pnp(c.op, y, D, ref=c.x, **p))
    img = res.x if c.task == "inpainting" else res.last.info["z"]
    out["GS-PnP"] = (psnr(img.clamp(0, 1), c.x), res.iterations, time.perf_counter() - t)
    curves["F"] = res.curve("objective")
    curves["residual"] = res.curve("residual")
    t = time.perf_counter()
    nlm = NLM(patch_size=7, window=21, h=H_FACTOR * max(c.noise, 2.55 / 255))
    res = run(pnp_ista(c.op, y, nlm, gamma=1.0 / c.op.norm(), ref=c.x, max_iter=min(max_iter, 100), tol=1e-5))
    out["PnP-ISTA-NLM"] = (psnr(res.x.clamp(0, 1), c.x), res.iterations, time.perf_counter() - t)
    t = time.perf_counter()
    res = run(fista(c.op, y, lam=tv_lambda(c.noise), ref=c.x, max_iter=min(max_iter, 200), tol=1e-5))
    out["TV-FISTA"] = (psnr(res.x.clamp(0, 1), c.x), res.iterations, time.perf_counter() - t)
    return out, curves


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


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="GS-PnP restoration experiments (Hurault et al. 2022)")
    ap.add_argument("--grid", choices=sorted(GRIDS), default=None,
                    help="full on CUDA, cpu otherwise (fast: CI-sized)")
    ap.add_argument("--model", default=None,
                    help="shipped GS denoiser (default: gsdrunet-small-grey, else the first shipped GS model)")
    ap.add_argument("--data", type=Path, default=None, help="data root (default ../shared/data or $PNP_LESSONS_DATA)")
    ap.add_argument("--out", type=Path, default=Path("results/gs_pnp"))
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    from ..denoisers.weights import list_shipped, load_denoiser

    device = get_device(args.device)
    grid_name = args.grid or ("full" if device.type == "cuda" else "cpu")
    grid = GRIDS[grid_name]
    shipped = [n for n in list_shipped() if n.startswith("gsdrunet")]
    # the grey model by default (the tables in docs/results.md §3); --model gsdrunet-small-colour for RGB
    default = "gsdrunet-small-grey" if "gsdrunet-small-grey" in shipped else (shipped[0] if shipped else None)
    model = args.model or default
    if model is None:
        raise SystemExit("no shipped GS-DRUNet weights in data/weights/ (train one with `pnp-lessons train`)")
    D = load_denoiser(model, device=device).eval()
    root = args.data or data_root()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"grid '{grid_name}' on {describe_device(device)}, model {model}")
    rows, groups, first_curves = [], {}, None
    t0 = time.perf_counter()
    for c in cases(grid, root, D.channels, device):
        res, curves = run_case(c, D, grid["max_iter"])
        if first_curves is None:
            first_curves = (curves, f"GS-PnP, {c.label}, noise {c.noise * 255:.2f}/255, image {c.image}")
        key = (c.label.split()[0] + (" " + c.label.split()[1] if c.label.startswith("SR") else ""),
               round(c.noise * 255, 2))
        for m, (p, it, sec) in res.items():
            rows.append(dict(task=c.label, image=c.image, noise=round(c.noise * 255, 2), method=m,
                             psnr=round(p, 3), iterations=it, seconds=round(sec, 2)))
            groups.setdefault(key, {}).setdefault(m, []).append((p, it))
        print(f"  {c.label:<22} {c.image:>7} σ={c.noise * 255:5.2f}  " +
              "  ".join(f"{m} {p:.2f} dB ({it} it)" for m, (p, it, _) in res.items()), flush=True)
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = [f"Grid `{grid_name}`, {describe_device(device)}, model `{model}`, "
             f"{len({r['image'] for r in rows})} image(s); mean PSNR (dB) / mean iterations.", "",
             "| task | noise (/255) | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    for (task, noise), by in groups.items():
        cells = []
        for m in METHODS:
            v = by.get(m, [])
            cells.append(f"{np.mean([p for p, _ in v]):.2f} / {np.mean([i for _, i in v]):.0f}" if v else "—")
        lines.append(f"| {task} | {noise:g} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Wall time {time.perf_counter() - t0:.0f} s.")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    convergence_figure(*first_curves, args.out / "convergence.png")
    print("\n".join(lines))
    print(f"wrote {args.out / 'table.md'}, {args.out / 'results.csv'}, {args.out / 'convergence.png'}")
    return {"rows": rows, "grid": grid_name}


if __name__ == "__main__":
    main()
