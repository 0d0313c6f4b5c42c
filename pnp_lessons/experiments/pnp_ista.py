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
from ..metrics import psnr
from ..solvers.pnp_ista import default_guide, pnp_ista

GAMMAS = (0.5, 0.9, 1.0, 2.0, 2.1)
NLM_PAPER = dict(patch_size=7, window=21)
"""NLM of the reproduction: the usual patch 7 and window 21 (the paper gives no NLM parameters)."""
H_FITTED = {"fig1-2": 30.0, "fig4": 30.0, "fig5": 10.0}
"""h·255 per setting, chosen by :func:`fit_h` on the first 8 Train400 images (training images, never the test
images): the best mean PSNR among the h whose runs converge (tol 1e-6 within 200 iterations) on all 8. The
scores are in docs/pnp_ista.md ("Choosing h")."""
H_SHARP = 10.0
"""The sharpest h·255 of the grid: the width of the earlier reproduction, which shows the paper's γ pattern."""


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


def _run(s: Setting, x, cfg, gamma, max_iter, mode=None, seed=0, guide=None):
    """One PnP-ISTA run; ``guide`` replaces the paper's guide (the median-filtered observation, Aᵀy for
    deblurring) for the NLM weights only — the start x_0 stays the paper's."""
    op, y = _problem(s, x, seed)
    t = time.perf_counter()
    x0 = default_guide(op, y)
    res = run(pnp_ista(op, y, cfg, gamma=gamma, x0=x0, guide=guide, ref=x, mode=mode or s.mode,
                       adapt_steps=max_iter, tol=1e-6, max_iter=max_iter))
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
    for a, (label, im) in zip(ax, images.items(), strict=False):
        a.imshow(im[0, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        a.set_title(label, fontsize=8)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


H_GRID = (10, 15, 20, 30, 45, 60)
"""Candidate NLM widths h·255 for :func:`fit_h`."""


def fit_settings() -> list[Setting]:
    return [Setting("fig1-2", "inpainting", 0.8, 10, (0.9,)),
            Setting("fig4", "inpainting", 0.7, 20, (0.9,)),
            Setting("fig5", "deblurring", 0.0, 2, (1.0,))]


def fit_h(images: int = 8, max_iter: int = 200, tol: float = 1e-6, h_grid=H_GRID) -> dict:
    """Choose NLM's h for each reproduced setting on Train400 training images (never on the test images).

    The rule, fixed before any test image was run: patch 7 and window 21 (the usual NLM), the paper's guide and
    step (γ = 0.9 for inpainting, 1 for deblurring, both inside the proven range), at most ``max_iter``
    iterations with relative-residual tolerance ``tol``; among the h whose runs *converge* (reach ``tol``) on
    every training image, take the one with the best mean final PSNR. Returns the scores and the choice.
    """
    from ..images import data_root

    folder = data_root() / "Train400"
    paths = sorted(folder.glob("*.png"))[:images]
    if not paths:
        raise SystemExit(f"no Train400 images under {folder} (set PNP_LESSONS_DATA)")
    from PIL import Image

    xs = [torch.from_numpy(np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255)[None, None] for p in paths]
    out = {"images": [p.name for p in paths], "max_iter": max_iter, "tol": tol, "settings": {}}
    for s in fit_settings():
        g = s.gammas[0]
        scores = {}
        for h in h_grid:
            cfg = NLM(patch_size=7, window=21, h=h / 255)
            ps, conv, its = [], [], []
            for i, x in enumerate(xs):
                op, y = _problem(s, x, seed=i)
                res = run(pnp_ista(op, y, cfg, gamma=g, ref=x, tol=tol, max_iter=max_iter))
                ps.append(res.last.psnr)
                conv.append(res.status == "converged")
                its.append(res.iterations)
            scores[h] = dict(psnr=float(np.mean(ps)), converged=int(sum(conv)), iterations=float(np.mean(its)))
            print(f"  {s.name} h·255 = {h:g}: mean PSNR {scores[h]['psnr']:.2f} dB, converged on "
                  f"{scores[h]['converged']}/{len(xs)}, mean iterations {scores[h]['iterations']:.0f}", flush=True)
        ok = [h for h, v in scores.items() if v["converged"] == len(xs)]
        best = max(ok, key=lambda h: scores[h]["psnr"]) if ok else None
        out["settings"][s.name] = dict(gamma=g, scores=scores, h255=best)
        print(f"  {s.name}: chosen h·255 = {best}", flush=True)
    return out


@dataclass
class Scale:
    """How big a reproduction run is: the paper's (256² images, 32² crops for ρ, 300 iterations, patch 7, window
    21, all of Set12) or CI's ``--fast`` one."""

    size: int
    crop: int
    max_iter: int
    patch: int
    window: int
    set12: list

    @classmethod
    def from_args(cls, a) -> Scale:
        if a.fast:
            return cls(48, 24, a.max_iter or 60, 5, 11, [] if a.no_set12 else ["01", "05"])
        return cls(256, 32, a.max_iter or 300, NLM_PAPER["patch_size"], NLM_PAPER["window"],
                   [] if a.no_set12 else [f"{i:02d}" for i in range(1, 13)])


class Table:
    """The rows of the reproduction, one per run, printed as they come."""

    def __init__(self):
        self.rows: list[dict] = []
        self.t0 = time.perf_counter()

    def add(self, setting, image, gamma, res, mode, analysis, seconds, cfg, guide_psnr=None):
        def crop_value(key):
            return round(analysis[key][gamma], 4) if analysis and key in analysis and gamma in analysis[key] else None

        self.rows.append({
            "setting": setting, "image": image, "h255": round(cfg.h * 255, 1), "gamma": gamma, "W": mode,
            "psnr_final": round(res.last.psnr, 2) if res.last.psnr is not None else None,
            "psnr_best": round(max(p for p in res.curve("psnr") if p is not None), 2),
            "guide_psnr": None if guide_psnr is None else round(guide_psnr, 2),
            "iterations": res.iterations, "status": res.status,
            "residual_final": f"{res.last.residual:.2e}",
            "rho_P_crop": crop_value("rho"),
            "gamma_max_crop": round(analysis["gamma_max"], 3) if analysis else None,
            "inf_norm_crop": crop_value("inf_norm"),
            "seconds": round(seconds, 1),
        })
        r = self.rows[-1]
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {setting:10s} {image:6s} h={cfg.h * 255:g} γ={gamma:<4} "
              f"W={mode:8s} PSNR {r['psnr_final']} dB, {res.iterations} it, {res.status}, "
              f"ρ(P_crop)={r['rho_P_crop']}", flush=True)

    COLUMNS = ["setting", "image", "h255", "gamma", "W", "psnr_final", "psnr_best", "guide_psnr", "iterations",
               "status", "residual_final", "rho_P_crop", "gamma_max_crop", "inf_norm_crop"]

    def write(self, out: Path, header: str, max_iter: int) -> str:
        """``table.csv`` and ``table.md`` in ``out``; returns the Markdown."""
        with open(out / "table.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            w.writeheader()
            w.writerows(self.rows)
        lines = ["| " + " | ".join(self.COLUMNS) + " |", "|" + "---|" * len(self.COLUMNS)]
        for r in self.rows:
            lines.append("| " + " | ".join("" if r[c] is None else str(r[c]) for c in self.COLUMNS) + " |")
        set12_rows = [r for r in self.rows if r["setting"] == "set12"]
        if set12_rows:
            lines.append("")
            lines.append(f"Set12 mean PSNR (80 % missing, 10/255, γ = 0.9, {max_iter} iterations max): "
                         f"{np.mean([r['psnr_final'] for r in set12_rows]):.2f} dB (guide: "
                         f"{np.mean([r['guide_psnr'] for r in set12_rows]):.2f} dB)")
        text = header + "\n".join(lines)
        (out / "table.md").write_text(text + "\n")
        return text


SETTINGS = [
    Setting("fig1-2", "inpainting", 0.8, 10, GAMMAS),
    Setting("fig4", "inpainting", 0.7, 20, GAMMAS),
    Setting("fig5", "deblurring", 0.0, 2, (0.5, 1.0, 2.0, 2.1)),
]
"""The paper's settings; each is also run with the sharpest h of the grid (``-sharp``): the paper's pattern
(stable to 2, divergent at 2.1) is that of a sharp W, whose convergence is too slow to see."""


def _figure_runs(a, sc: Scale, table: Table, out: Path) -> dict:
    """Fig. 1–2, 4 and 5 (and their ``-sharp`` twins): the γ sweep with W fixed, the oracle-guide run, curves and
    images; returns the runs by (setting, image) for Fig. 6."""
    images = [a.image, "camera"]
    sharp = [Setting(f"{s.name}-sharp", s.problem, s.missing, s.noise, s.gammas) for s in SETTINGS[:2]]
    main_runs = {}
    for s in SETTINGS + sharp:
        cfg = _cfg_for(a, sc, s.name)
        for image in (images if s.name.startswith("fig1-2") else images[:1]):
            x = _load(image, sc.size)
            analysis = _crop_analysis(s, x, cfg, sc.crop)
            op, y = _problem(s, x)
            guide_psnr = psnr(default_guide(op, y), x)
            runs = {}
            for g in s.gammas:
                res, y, sec = _run(s, x, cfg, g, sc.max_iter)
                runs[f"γ={g}"] = res
                table.add(s.name, image, g, res, "fixed", analysis, sec, cfg, guide_psnr)
            # the gap to the paper: the same iteration with W built from the clean image (an oracle guide)
            g_show = 0.9 if s.problem == "inpainting" else 2.0
            oracle, _, sec = _run(s, x, cfg, g_show, sc.max_iter, guide=x)
            table.add(s.name, image, g_show, oracle, "oracle", None, sec, cfg, guide_psnr)
            if s.name in ("fig1-2", "fig4", "fig5") and cfg.h * 255 != H_SHARP:   # and the sharp oracle
                sharp_cfg = NLM(patch_size=sc.patch, window=sc.window, h=H_SHARP / 255)
                oracle_sharp, _, sec = _run(s, x, sharp_cfg, g_show, sc.max_iter, guide=x)
                table.add(s.name, image, g_show, oracle_sharp, "oracle", None, sec, sharp_cfg, guide_psnr)
            what = (f"{int(s.missing * 100)}% missing" if s.problem == "inpainting" else "9×9 uniform blur")
            _plot_curves(runs, f"{s.name}: {image}, {s.problem}, {what}, noise {s.noise}/255, h·255 = {cfg.h * 255:g}",
                         out / f"{s.name}_{image}_curves.png")
            shown = runs[f"γ={g_show}"]
            _plot_images({"ground truth": x, "observed": y,
                          f"PnP-ISTA γ={g_show} ({shown.last.psnr:.1f} dB)": shown.x,
                          f"oracle W ({oracle.last.psnr:.1f} dB)": oracle.x},
                         out / f"{s.name}_{image}_images.png")
            main_runs[(s.name, image)] = runs
    return main_runs


def _fig6_runs(a, sc: Scale, table: Table, out: Path, main_runs: dict) -> None:
    """Fig. 6: fixed vs iteration-adaptive W. The caption says "the same input image as Figure 1" (80 % missing,
    10/255), but its fixed-W output, 25.5 dB, is the figure of Fig. 4(c) (70 % missing, 20/255): both readings."""
    for base in ("fig1-2", "fig4"):
        sb = next(s for s in SETTINGS if s.name == base)
        s6 = Setting(f"fig6@{base}", "inpainting", sb.missing, sb.noise, (0.5, 0.9, 2.0), mode="adaptive")
        cfg = _cfg_for(a, sc, base)
        x = _load(a.image, sc.size)
        curves = {}
        for g in s6.gammas:
            # W is rebuilt at every step (≈ 40× the cost of a fixed-W step): at most 100 iterations
            res, y, sec = _run(s6, x, cfg, g, min(sc.max_iter, 100), mode="adaptive")
            table.add(s6.name, a.image, g, res, "adaptive", None, sec, cfg)
            curves[f"F γ={g}"] = main_runs[(base, a.image)][f"γ={g}"]
            curves[f"A γ={g}"] = res
        _plot_curves(curves, f"{s6.name}: {a.image}, fixed (F) vs adaptive (A) W, {int(sb.missing * 100)}% missing, "
                     f"noise {sb.noise}/255", out / f"{s6.name.replace('@', '_')}_{a.image}_curves.png")


def _set12_runs(a, sc: Scale, table: Table) -> None:
    """Fig. 1's setting at γ = 0.9 on every Set12 image."""
    s1 = SETTINGS[0]
    cfg = _cfg_for(a, sc, s1.name)
    for image in sc.set12:
        x = _load(image, sc.size)
        op, y = _problem(s1, x)
        res, y, sec = _run(s1, x, cfg, 0.9, sc.max_iter)
        table.add("set12", image, 0.9, res, "fixed", None, sec, cfg, psnr(default_guide(op, y), x))


def _cfg_for(a, sc: Scale, name: str) -> NLM:
    """The NLM of a setting: ``--h`` when given, else :data:`H_SHARP` for ``-sharp`` runs, else :data:`H_FITTED`."""
    h255 = a.h if a.h else (H_SHARP if name.endswith("-sharp") else H_FITTED[name])
    return NLM(patch_size=sc.patch, window=sc.window, h=h255 / 255)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="CI-size run (small crops, few iterations)")
    ap.add_argument("--out", default="results/pnp_ista", help="output folder (default results/pnp_ista)")
    ap.add_argument("--docs-figures", default=None, help="also write the main figures there (e.g. docs/figures)")
    ap.add_argument("--image", default="02", help="Set12 image for Fig. 1–2, 4, 5, 6 (default 02, 'house')")
    ap.add_argument("--max-iter", type=int, default=None)
    ap.add_argument("--no-set12", action="store_true", help="skip the Set12 table")
    ap.add_argument("--h", type=float, default=None,
                    help="NLM h in grey levels (/255) for every setting; default: H_FITTED (chosen on Train400)")
    ap.add_argument("--fit-h", action="store_true", help="choose h per setting on Train400 images and print the scores")
    return ap


def main(argv=None):
    a = _parser().parse_args(argv)
    torch.set_num_threads(1)   # robust on a shared CPU (OpenMP barriers misbehave under load)
    if a.fit_h:
        import json

        res = fit_h()
        print(json.dumps(res, indent=1))
        return res
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sc, table = Scale.from_args(a), Table()
    main_runs = _figure_runs(a, sc, table, out)
    _fig6_runs(a, sc, table, out, main_runs)
    _set12_runs(a, sc, table)
    header = (f"PnP-ISTA + NLM (patch {sc.patch}, window {sc.window}, h per setting "
              + ", ".join(f"{k}: {a.h or v:g}/255" for k, v in H_FITTED.items()) + f"; -sharp rows {H_SHARP:g}/255"
              + f"), {'fast' if a.fast else 'full'} run, images ≤ {sc.size}², ρ(P) on {sc.crop}×{sc.crop} crops, "
              f"max {sc.max_iter} iterations, tol 1e-6; total {time.perf_counter() - table.t0:.0f} s\n\n")
    print(table.write(out, header, sc.max_iter))
    if a.docs_figures:
        import shutil

        docs = Path(a.docs_figures)
        docs.mkdir(parents=True, exist_ok=True)
        # the curves of every figure and the images of Fig. 1 (small PNGs for the docs)
        for p in (sorted(out.glob(f"*_{a.image}_curves.png")) + [out / f"fig1-2_{a.image}_images.png",
                                                                   out / f"fig1-2-sharp_{a.image}_images.png"]):
            if p.exists():
                shutil.copy(p, docs / f"pnp_ista_{p.name}")
    return table.rows


if __name__ == "__main__":
    main()
