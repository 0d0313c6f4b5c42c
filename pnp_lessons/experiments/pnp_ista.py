"""Reproduce the experiments of Gavaskar & Chaudhury (2020), "Plug-and-play ISTA converges with
kernel denoisers", with PnP-ISTA + NLM.

    python -m pnp_lessons.experiments.pnp_ista [--fast] [--out results/pnp_ista] [--docs-figures docs/figures]

Settings (the paper's; images: Set12 from the shared data folder and scikit-image's camera):

* ``fig1-2`` — inpainting, 80 % pixels missing, noise 10/255, γ ∈ {0.5, 0.9, 1, 2, 2.1}; x_0 = the
  masked median filter of the observation; NLM weights computed from x_0 and frozen (Fig. 1–2);
* ``fig4``   — inpainting, 70 % missing, noise 20/255 (supplement, Fig. 4);
* ``fig5``   — deblurring, 9×9 uniform blur, noise 2/255, W from Aᵀy (supplement, Fig. 5);
* ``fig6``   — fixed W versus W recomputed from the iterate at every step (supplement, Fig. 6);
* ``set12``  — Fig. 1's setting at γ = 0.9 on every Set12 image (256×256 centre crops of the
  512×512 ones, to bound the memory of the stored W).

Fig. 1–2 run on the ``--image`` (Set12 '02', house) and on camera; Fig. 4–6 on ``--image`` only.

For each run the table gives the final PSNR, the iterations, the status (converged / max_iter /
diverged) and ρ(P) = ρ(W(I − γAᵀA)) computed by ARPACK on a 32×32 centre crop (n = 1024) of the same problem (W
rebuilt from the crop's own guide), with the largest stable γ of that crop (bisection) and, for
inpainting, Assumption 2 and ‖P‖_∞. Figures: PSNR and ‖x_{k+1} − x_k‖ (log scale) against k, and
the images. Full run: 256×256 images, at most 100 iterations. ``--fast`` shrinks everything
(48×48 images, 24×24 crops for ρ, window 11, 40 iterations) for CI.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..analysis import (check_assumption_2, inpainting_inf_norm, largest_stable_gamma, spectral_radius,
                        system_matrix)
from ..denoisers.nlm import NLM
from ..operators import Blur, Inpainting, uniform_kernel
from ..solvers.base import run
from ..solvers.pnp_ista import default_guide, pnp_ista

GAMMAS = (0.5, 0.9, 1.0, 2.0, 2.1)
NLM_PAPER = dict(patch_size=7, window=21, h=10 / 255)
"""NLM of the reproduction: standard patch 7 and window 21; h = 10/255 chosen on Set12 'house' at
Fig. 1's setting among {10, 20, 30}/255 (27.2, 25.8, 24.2 dB after 200 iterations): the paper does
not give its parameters."""


@dataclass
class Setting:
    name: str
    problem: str          # 'inpainting' | 'deblurring'
    missing: float
    noise: float          # /255
    gammas: tuple
    mode: str = "fixed"


def _load(name: str, size: int | None) -> torch.Tensor:
    """Set12 image ``name`` ('01'…'12') or 'camera' (scikit-image), grey, centre-cropped to ``size``."""
    if name == "camera":
        from ..images import sample

        x = sample("camera", size=256, grey=True)
    else:
        from PIL import Image

        from ..images import data_root

        p = data_root() / "Set12" / f"{name}.png"
        if not p.exists():
            raise SystemExit(f"Set12 image not found: {p} (set PNP_LESSONS_DATA)")
        x = torch.from_numpy(np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255)[None, None]
    if size is not None and max(x.shape[-2:]) > size:
        H, W = x.shape[-2:]
        y0, x0 = (H - size) // 2, (W - size) // 2
        x = x[..., y0: y0 + size, x0: x0 + size]
    return x.contiguous()


def _problem(s: Setting, x: torch.Tensor, seed: int = 0):
    if s.problem == "inpainting":
        op = Inpainting(ratio=s.missing, seed=seed)
    else:
        op = Blur(uniform_kernel(9))
    y = op.observe(x, s.noise / 255, seed=seed + 1)
    return op, y


def _crop_analysis(s: Setting, x: torch.Tensor, cfg: NLM, crop: int, seed: int = 0) -> dict:
    """ρ(P) on a crop×crop piece of the same problem (same NLM parameters, W from the crop's guide)."""
    H, W = x.shape[-2:]
    y0, x0 = (H - crop) // 2, (W - crop) // 2
    xc = x[..., y0: y0 + crop, x0: x0 + crop].contiguous()
    op, y = _problem(s, xc, seed)
    Wk = cfg.weights(default_guide(op, y))
    out = {"rho": {}}
    for g in s.gammas:
        out["rho"][g] = spectral_radius(system_matrix(Wk, op, g))
    out["gamma_max"] = largest_stable_gamma(Wk, op, lo=0.0, hi=4.0, tol=1e-2)
    if isinstance(op, Inpainting):
        rep = check_assumption_2(Wk, op)
        out["assumption2"] = rep.holds
        out["inf_norm"] = {g: inpainting_inf_norm(Wk, op, g) for g in s.gammas}
    return out


def _run(s: Setting, x, cfg, gamma, max_iter, mode=None, seed=0):
    op, y = _problem(s, x, seed)
    t = time.perf_counter()
    res = run(pnp_ista(op, y, cfg, gamma=gamma, ref=x, mode=mode or s.mode, adapt_steps=max_iter,
                       tol=1e-6, max_iter=max_iter))
    return res, y, time.perf_counter() - t


def _plot_curves(runs: dict, title: str, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(8.4, 3.0), dpi=90)
    for label, res in runs.items():
        ax[0].plot(range(1, len(res.history) + 1), res.curve("psnr"), label=label)
        ax[1].semilogy(range(1, len(res.history) + 1), res.curve("residual"), label=label)
    ax[0].set_xlabel("k"), ax[0].set_ylabel("PSNR (dB)"), ax[0].set_title("(a) PSNR")
    ax[1].set_xlabel("k"), ax[1].set_ylabel("‖x_{k+1} − x_k‖"), ax[1].set_title("(b) residual (log)")
    ax[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_images(images: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.8), dpi=90)
    for a, (label, im) in zip(ax, images.items()):
        a.imshow(im[0, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        a.set_title(label, fontsize=8)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="CI-size run (small crops, few iterations)")
    ap.add_argument("--out", default="results/pnp_ista", help="output folder (default results/pnp_ista)")
    ap.add_argument("--docs-figures", default=None, help="also write the main figures there (e.g. docs/figures)")
    ap.add_argument("--image", default="02", help="Set12 image for Fig. 1–2, 4, 5, 6 (default 02, 'house')")
    ap.add_argument("--max-iter", type=int, default=None)
    ap.add_argument("--no-set12", action="store_true", help="skip the Set12 table")
    ap.add_argument("--h", type=float, default=None, help="NLM h in grey levels (/255); default 10")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)   # robust on a shared CPU (OpenMP barriers misbehave under load)

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    docs = Path(a.docs_figures) if a.docs_figures else None
    if docs:
        docs.mkdir(parents=True, exist_ok=True)
    if a.fast:
        size, crop, max_iter = 48, 24, a.max_iter or 40
        cfg = NLM(patch_size=5, window=11, h=(a.h / 255) if a.h else NLM_PAPER["h"])
        images = [a.image, "camera"]
        set12 = [] if a.no_set12 else ["01", "05"]
    else:
        size, crop, max_iter = 256, 32, a.max_iter or 100
        cfg = NLM(**dict(NLM_PAPER, h=(a.h / 255) if a.h else NLM_PAPER["h"]))
        images = [a.image, "camera"]
        set12 = [] if a.no_set12 else [f"{i:02d}" for i in range(1, 13)]
    settings = [
        Setting("fig1-2", "inpainting", 0.8, 10, GAMMAS),
        Setting("fig4", "inpainting", 0.7, 20, GAMMAS),
        Setting("fig5", "deblurring", 0.0, 2, (0.5, 1.0, 2.0, 2.1)),
    ]
    rows = []
    t0 = time.perf_counter()

    def add_row(setting, image, gamma, res, mode, analysis, seconds):
        rows.append({
            "setting": setting, "image": image, "gamma": gamma, "W": mode,
            "psnr_final": round(res.last.psnr, 2) if res.last.psnr is not None else None,
            "psnr_best": round(max(p for p in res.curve("psnr") if p is not None), 2),
            "iterations": res.iterations, "status": res.status,
            "residual_final": f"{res.last.residual:.2e}",
            "rho_P_crop": round(analysis["rho"][gamma], 4) if analysis and gamma in analysis["rho"] else None,
            "gamma_max_crop": round(analysis["gamma_max"], 3) if analysis else None,
            "inf_norm_crop": (round(analysis["inf_norm"][gamma], 4)
                              if analysis and "inf_norm" in analysis and gamma in analysis["inf_norm"] else None),
            "seconds": round(seconds, 1),
        })
        print(f"[{time.perf_counter() - t0:7.1f}s] {setting:7s} {image:6s} γ={gamma:<4} W={mode:8s} "
              f"PSNR {rows[-1]['psnr_final']} dB, {res.iterations} it, {res.status}, ρ(P_crop)={rows[-1]['rho_P_crop']}",
              flush=True)

    main_runs = {}
    for s in settings:
        for image in (images if s.name == "fig1-2" else images[:1]):
            x = _load(image, size)
            analysis = _crop_analysis(s, x, cfg, crop)
            runs = {}
            for g in s.gammas:
                res, y, sec = _run(s, x, cfg, g, max_iter)
                runs[f"γ={g}"] = res
                add_row(s.name, image, g, res, "fixed", analysis, sec)
            _plot_curves(runs, f"{s.name}: {image}, {s.problem}, {int(s.missing * 100)}% missing, noise {s.noise}/255"
                         if s.problem == "inpainting" else f"{s.name}: {image}, 9×9 uniform blur, noise {s.noise}/255",
                         out / f"{s.name}_{image}_curves.png")
            g_show = 0.9 if s.problem == "inpainting" else 2.0
            shown = runs[f"γ={g_show}"]
            _plot_images({"ground truth": x, "observed": y,
                          f"PnP-ISTA γ={g_show} ({shown.last.psnr:.1f} dB)": shown.x},
                         out / f"{s.name}_{image}_images.png")
            main_runs[(s.name, image)] = runs

    # Fig. 6: fixed vs iteration-adaptive W (Fig. 1's setting)
    s6 = Setting("fig6", "inpainting", 0.8, 10, (0.5, 0.9, 2.0), mode="adaptive")
    for image in images[:1]:
        x = _load(image, size)
        curves = {}
        for g in s6.gammas:
            fixed = main_runs[("fig1-2", image)][f"γ={g}"]
            res, y, sec = _run(s6, x, cfg, g, max_iter, mode="adaptive")
            add_row("fig6", image, g, res, "adaptive", None, sec)
            curves[f"F γ={g}"] = fixed
            curves[f"A γ={g}"] = res
        _plot_curves(curves, f"fig6: {image}, fixed (F) vs adaptive (A) W, 80% missing, noise 10/255",
                     out / f"fig6_{image}_curves.png")

    # Set12 table at Fig. 1's setting, γ = 0.9
    s1 = settings[0]
    for image in set12:
        x = _load(image, size)
        res, y, sec = _run(s1, x, cfg, 0.9, max_iter)
        add_row("set12", image, 0.9, res, "fixed", None, sec)

    with open(out / "table.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cols = ["setting", "image", "gamma", "W", "psnr_final", "psnr_best", "iterations", "status", "residual_final",
            "rho_P_crop", "gamma_max_crop", "inf_norm_crop"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r[c] is None else str(r[c]) for c in cols) + " |")
    set12_rows = [r for r in rows if r["setting"] == "set12"]
    if set12_rows:
        lines.append("")
        lines.append(f"Set12 mean PSNR (80 % missing, 10/255, γ = 0.9, {max_iter} iterations max): "
                     f"{np.mean([r['psnr_final'] for r in set12_rows]):.2f} dB")
    header = (f"PnP-ISTA + NLM (patch {cfg.patch_size}, window {cfg.window}, h = {cfg.h * 255:.0f}/255), "
              f"{'fast' if a.fast else 'full'} run, images ≤ {size}², ρ(P) on {crop}×{crop} crops, "
              f"max {max_iter} iterations, tol 1e-6; total {time.perf_counter() - t0:.0f} s\n\n")
    (out / "table.md").write_text(header + "\n".join(lines) + "\n")
    print(header + "\n".join(lines))
    if docs:
        import shutil

        # the curves of every figure and the images of Fig. 1 (small PNGs for the docs)
        for p in sorted(out.glob(f"*_{a.image}_curves.png")) + [out / f"fig1-2_{a.image}_images.png"]:
            if p.exists():
                shutil.copy(p, docs / f"pnp_ista_{p.name}")
    return rows


if __name__ == "__main__":
    main()
