"""The denoiser comparison table of the GS-PnP paper (Table 1), on our machine and our test sets.

Rows: NLM (:func:`pnp_lessons.denoisers.nlm.nlm_denoise`), TV (``prox`` of ``lam * TV`` with
``lam = TV_FACTOR * sigma``), BM3D (the optional ``bm3d`` package), and every learned
denoiser shipped in ``data/weights`` (DRUNet-light, GS-DRUNet small / paper); for colour, also
the shipped grey GS-DRUNet run in the opponent colour basis
(:class:`pnp_lessons.denoisers.colour.OpponentGSDenoiser`, row ``Opponent …``). Columns: mean
PSNR over each test set for each noise level, plus the time per 256x256 image.

Protocol: each clean image ``x`` gets the noise ``sigma * n`` with ``n`` drawn from a generator
seeded by ``(seed, sigma, image index)``, identical for every method; the output is clipped to
[0, 1] before the PSNR (``clip=False`` / ``--no-clip``: not clipped, as the reference code measures it);
every method is told the true sigma. Rows whose code or package is
absent are skipped with a note, never silently.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch

from .tv import TV_FACTOR  # the TV row: lam = TV_FACTOR * sigma

GREY_SETS = ("Set12", "BSD68")
COLOUR_SETS = ("CBSD68",)


def _nlm_row():
    try:
        from .nlm import nlm_denoise
    except ImportError as e:
        return None, f"NLM skipped: pnp_lessons.denoisers.nlm not available ({e})"
    return (lambda y, s: nlm_denoise(y, s)), None


def _tv_row():
    try:
        from ..prox import tv_prox
    except ImportError as e:
        return None, f"TV skipped: pnp_lessons.prox.tv_prox not available ({e})"
    return (lambda y, s: tv_prox(y, TV_FACTOR * s)), None


def _bm3d_row():
    try:
        import bm3d
    except ImportError:
        return None, "BM3D skipped: the optional package 'bm3d' is not installed (pip install bm3d)"

    def run(y, s):
        outs = []
        for img in y.detach().cpu().double().numpy():
            if img.shape[0] == 1:
                outs.append(bm3d.bm3d(img[0], sigma_psd=s)[None])
            else:
                outs.append(np.transpose(bm3d.bm3d_rgb(np.transpose(img, (1, 2, 0)), s), (2, 0, 1)))
        return torch.from_numpy(np.stack(outs)).float()

    return run, None


def _label(name: str) -> str:
    base = name.rsplit("-", 1)[0]
    pretty = {"gsdrunet": "GS-DRUNet", "drunet": "DRUNet-light"}
    head, _, preset = base.partition("-")
    return f"{pretty.get(head, head)} {preset}".strip()


def _matches(label: str, method: str) -> bool:
    """Whether ``method`` names the row ``label``: a case-insensitive prefix of the label
    (``bm3d``, ``gs-drunet``) or a weight name (``gsdrunet-small-grey`` names ``GS-DRUNet small``
    and its ``×8`` row)."""
    m = method.lower()
    if m.endswith(("-grey", "-colour")):
        m = _label(m).lower()
    return label.lower().startswith(m)


def available_methods(colour: bool = False, device=None,
                      self_ensemble: bool = False) -> tuple[dict[str, Callable], list[str]]:
    """Methods that can run here, as ``{label: f(y, sigma)}``, and notes for the skipped rows.

    With ``self_ensemble``, every GS-DRUNet row is followed by its x8 dihedral self-ensemble
    (label suffix `` ×8``, :class:`pnp_lessons.denoisers.ensemble.DihedralGSDenoiser`): the same
    weights, eight times the work, and still a gradient-step denoiser.
    """
    from .ensemble import dihedral_ensemble
    from .gsdrunet import GSDenoiser
    from .weights import ENV_VAR, list_shipped, load_denoiser, weights_dir

    methods, notes = {}, []
    for label, maker in (("NLM", _nlm_row), ("TV", _tv_row), ("BM3D", _bm3d_row)):
        f, note = maker()
        if f is None:
            notes.append(note)
        else:
            methods[label] = f
    suffix = "-colour" if colour else "-grey"
    where = "data/weights" if not os.environ.get(ENV_VAR) else weights_dir()  # $PNP_LESSONS_WEIGHTS if set
    shipped = [n for n in list_shipped() if n.endswith(suffix)]
    for want in ("drunet-small", "gsdrunet-small", "gsdrunet-paper"):
        name = want + suffix
        if name in shipped:
            den = load_denoiser(name, device=device)
            methods[_label(name)] = den.denoise
            if self_ensemble and isinstance(den, GSDenoiser):
                methods[_label(name) + " ×8"] = dihedral_ensemble(den).denoise
        else:
            notes.append(f"{_label(name)}: no weights '{name}' in {where} (not trained/shipped yet)")
    if colour:  # the grey weights on colour images, in the opponent basis (colour.py): no colour training
        from .colour import opponent_colour

        for want in ("gsdrunet-small", "gsdrunet-paper"):
            if want + "-grey" in list_shipped():
                methods[f"Opponent {_label(want + '-grey')} (grey weights)"] = opponent_colour(
                    load_denoiser(want + "-grey", device=device)).denoise
    return methods, notes


def _time_ms(f, channels: int, device, repeats: int = 3, size: int = 256) -> float:
    x = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(device)
    f(y, 25 / 255)  # warm-up
    ts = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        f(y, 25 / 255)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def _fmt(v, spec: str = ".2f") -> str:
    return "–" if v is None else format(v, spec)


def _read_cache(path) -> dict:
    if not path or not Path(path).exists():
        return {}
    return json.loads(Path(path).read_text())


def _write_cache(path, key: str, value: float) -> None:
    """Merge one result into the JSON cache (re-read first, atomic replace)."""
    d = _read_cache(path)
    d[key] = value
    tmp = Path(str(path) + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(d, indent=1, sort_keys=True))
    os.replace(tmp, path)


def evaluate_denoisers(data_root=None, sets=None, colour: bool = False, sigmas=(5, 15, 25, 50),
                       limit=None, methods=None, device=None, seed: int = 0, only_cached: bool = False,
                       markdown=None, cache=None, out=None, time_size: int = 256,
                       self_ensemble: bool = False, clip: bool = True) -> dict:
    """Compute and print the table; return ``{"psnr": {method: {set: {sigma: dB}}}, "ms": ..., "notes": ...}``.

    The returned dict also says how it was measured (``sigmas``, ``images`` per set, ``seed``,
    ``time_size``, ``device``, ``torch``): :func:`pnp_lessons.denoisers.card.evaluation_block`
    turns it into the ``evaluation`` block of a weight card.

    Parameters
    ----------
    data_root : str or Path, optional
        Folder holding the test sets (default :func:`pnp_lessons.images.data_root`).
    sets : list of str, optional
        Default ``Set12 BSD68`` (grey) or ``CBSD68`` (``colour=True``).
    sigmas : sequence of float
        Noise levels on the 0..255 scale.
    limit : int or dict, optional
        Use the first ``limit`` images of each set (sorted by name); a dict gives one limit
        per set, e.g. ``{"BSD68": 12}`` (sets not named are used whole).
    only_cached : bool
        Compute nothing new: print the cells found in ``cache`` and "–" elsewhere.
    methods : list of str, optional
        Keep only these rows: case-insensitive prefixes of the labels (``nlm bm3d gs-drunet``) or
        weight names (``gsdrunet-small-grey``). A name that matches no row raises ``ValueError``.
    markdown : str or Path, optional
        Also write the Markdown table there.
    cache : str or Path, optional
        JSON file of results already computed (keyed by method, set, sigma, number of
        images and seed): cells found there are not recomputed, new ones are added. Lets
        slow rows (BM3D) run once, or in separate processes.
    self_ensemble : bool
        Add a `` ×8`` row (dihedral self-ensemble) after each GS-DRUNet row.
    clip : bool
        Clip the output to [0, 1] before the PSNR (default). ``False`` is the reference's protocol (GSPnP's
        validation and ``denoise.py`` do not clip); its cells are cached under their own keys.
    """
    from ..runtime import describe_device, get_device
    from ..images import data_root as default_root
    from ..metrics import psnr
    from ..images import load_image_folder

    if out is None:
        def out(msg):
            print(msg, flush=True)
    dev = get_device(device)
    root = Path(data_root) if data_root else default_root()
    channels = 3 if colour else 1
    sets = list(sets or (COLOUR_SETS if colour else GREY_SETS))
    rows, notes = available_methods(colour, device=dev, self_ensemble=self_ensemble)
    if methods:
        unknown = [m for m in methods if not any(_matches(k, m) for k in rows)]
        if unknown:
            raise ValueError(f"methods {unknown} match no row that can run here; rows: {sorted(rows)}"
                             + "".join(f"; {n}" for n in notes))
        rows = {k: v for k, v in rows.items() if any(_matches(k, m) for m in methods)}
    limits = limit if isinstance(limit, dict) else {s: limit for s in sets}
    data = {s: load_image_folder(root / s, channels, limits.get(s)) for s in sets}

    res: dict = {m: {s: {} for s in sets} for m in rows}
    ms: dict = {}
    timed_on: dict = {}  # where each row's time was measured (a cached time keeps its machine)
    here = describe_device(dev)
    cached = _read_cache(cache)
    with torch.no_grad():
        for m, f in rows.items():
            for s, imgs in data.items():
                for sig in sigmas:
                    key = f"{m}|{s}|{sig:g}|{len(imgs)}|{seed}" + ("" if clip else "|noclip")
                    if key in cached:
                        res[m][s][sig] = cached[key]
                        continue
                    if only_cached:
                        continue
                    vals = []
                    for i, x in enumerate(imgs):
                        g = torch.Generator().manual_seed(seed * 100003 + int(round(sig * 100)) * 1009 + i)
                        y = x + (sig / 255) * torch.randn(x.shape, generator=g)
                        d = f(y.to(dev), sig / 255)
                        d = d.detach().float().cpu()
                        vals.append(psnr(d.clamp(0, 1) if clip else d, x))
                    res[m][s][sig] = float(np.mean(vals))
                    if cache:
                        _write_cache(cache, key, res[m][s][sig])
            mkey = f"{m}|ms|{dev.type}|{time_size}"
            if mkey in cached:
                ms[m] = cached[mkey]
                timed_on[m] = cached.get(mkey + "|on", "a machine the cache does not record")
            elif not only_cached:
                ms[m] = _time_ms(f, channels, dev, size=time_size)
                timed_on[m] = here
                if cache:
                    _write_cache(cache, mkey, ms[m])
                    _write_cache(cache, mkey + "|on", here)
            out(f"{m}: " + "  ".join(f"{s} " + "/".join(_fmt(res[m][s].get(g)) for g in sigmas) for s in sets)
                + f"  ({_fmt(ms.get(m), '.0f')} ms per {time_size}x{time_size})")

    n_imgs = ", ".join(f"{s}: {len(v)} images" for s, v in data.items())
    head = "| Method | " + " | ".join(f"{s} σ={g:g}" for s in sets for g in sigmas) + f" | ms / {time_size}² |"
    sep = "|---|" + "---|" * (len(sets) * len(sigmas)) + "---|"
    lines = [head, sep]
    for m in rows:
        cells = [_fmt(res[m][s].get(g)) for s in sets for g in sigmas]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {_fmt(ms.get(m), '.0f')} |")
    table = "\n".join(lines)
    groups: dict = {}  # machine -> the rows timed there, in table order
    for m in rows:
        if m in timed_on:
            groups.setdefault(timed_on[m], []).append(m)
    if len(groups) > 1:  # cells from several runs: say which rows were timed where
        timing = "; ".join(f"{', '.join(timed)} on {place}" for place, timed in groups.items())
    else:
        timing = next(iter(groups), "no machine (no time measured or cached)")
    footer = (f"\nPSNR (dB), mean over {n_imgs}; " + ("output clipped to [0, 1]; " if clip else "output not clipped; ")
              + f"times on {timing}, torch {torch.__version__}.")
    out("\n" + table + footer)
    for n in notes:
        out("note: " + n)
    if markdown:
        Path(markdown).write_text(table + "\n" + footer.strip() + "\n" + "".join(f"\n- {n}" for n in notes) + "\n")
    return {"psnr": res, "ms": ms, "notes": notes, "table": table, "sigmas": [float(g) for g in sigmas],
            "images": {s: len(v) for s, v in data.items()}, "seed": seed, "time_size": time_size,
            "device": timing, "torch": torch.__version__}


__all__ = ["evaluate_denoisers", "available_methods", "TV_FACTOR"]
