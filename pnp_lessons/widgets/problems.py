"""Plain settings → (problem, solver generator) for the live widgets.

Everything here is pure Python + torch, testable without any widget: a *settings dict* in
display units (γ, σ·255, λ, noise σ·255, % missing …, see :data:`PARAMS` and
:func:`default_settings`) is validated by :func:`validate_settings`, turned into a
:class:`Problem` (operator, observation, ground truth, start point) by
:meth:`ProblemCache.problem`, and into a solver generator of the iterate protocol by
:func:`make_solver`. :func:`start` does both; the live runner calls it in its worker thread.

Solvers and denoisers are discovered at call time (:func:`available_solvers`,
:func:`available_denoisers`): PnP-ISTA appears when :mod:`pnp_lessons.solvers.pnp_ista` is
importable, NLM when :mod:`pnp_lessons.denoisers.nlm` is, GS-DRUNet (and GS-PnP) when shipped
weights are present in ``data/weights``. A missing piece is listed with a note, never a crash.

``PNP_LESSONS_FAST=1`` (CI-fast mode) gives a smaller image and fewer iterations.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from ..device import get_device
from ..images import SAMPLES, ImageError, load_image, sample
from ..operators import Blur, Denoising, Inpainting, SuperResolution, gaussian_kernel, motion_kernel, uniform_kernel

__all__ = ["Param", "PARAMS", "CHOICES", "SettingsError", "is_fast", "default_settings", "validate_settings",
           "parse_value", "suggested_parameters", "available_solvers", "available_denoisers", "relevant_params", "Problem",
           "ProblemCache", "make_solver", "start", "describe", "upload_note", "UPLOAD_MAX_BYTES", "UPLOAD_MAX_PIXELS"]

FAST_ENV = "PNP_LESSONS_FAST"
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
"""Largest upload accepted by the playground (bytes)."""
UPLOAD_MAX_PIXELS = 16_000_000
"""Largest decoded upload (pixels); the image is then resized to the working size."""


class SettingsError(ValueError):
    """A setting that cannot be used; the message is meant for the user, as is."""


def is_fast() -> bool:
    """True in CI-fast mode (``PNP_LESSONS_FAST`` set to 1/true/yes)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    """A numeric setting: its symbol and meaning (for the label), scale, range and slider step."""

    key: str
    symbol: str
    meaning: str
    min: float
    max: float
    step: float
    log: bool = False
    integer: bool = False
    odd: bool = False
    digits: int = 2

    @property
    def label(self) -> str:
        """E.g. ``'γ (step size)'``."""
        return f"{self.symbol} ({self.meaning})"

    def format(self, value) -> str:
        """The value as shown in the exact-value box (more digits when a typed value needs them).

        Examples
        --------
        >>> PARAMS["gamma"].format(0.9), PARAMS["gamma"].format(0.937), PARAMS["lam"].format(0.02)
        ('0.90', '0.937', '0.02')
        """
        if self.integer:
            return str(int(value))
        v = float(value)
        s = f"{v:.3g}" if self.log else f"{v:.{self.digits}f}"
        if abs(float(s) - v) > 1e-9 * max(1.0, abs(v)):
            s = f"{v:.6g}"
        return s

    def tidy(self, value):
        """A value coming from a slider, rounded to what the slider means (0.01995… → 0.02 on the
        log scale, 70.00000000000001 → 70.0)."""
        if self.integer:
            return int(round(value))
        return float(f"{float(value):.3g}") if self.log else round(float(value), self.digits)


PARAMS: dict[str, Param] = {p.key: p for p in [
    Param("gamma", "γ", "step size", 0.05, 2.5, 0.05),
    Param("sigma", "σ·255", "denoiser strength", 1.0, 60.0, 0.5, digits=1),
    Param("lam", "λ", "regularisation weight", 1e-3, 1.0, 0.1, log=True),
    Param("noise", "noise σ·255", "in y", 0.0, 50.0, 0.5, digits=1),
    Param("max_iter", "K", "iterations", 1, 500, 1, integer=True),
    Param("missing", "%", "pixels missing", 0.0, 95.0, 5.0, digits=0),
    Param("kernel_size", "k", "kernel size, pixels", 3, 25, 2, integer=True, odd=True),
    Param("kernel_std", "s", "Gaussian std, pixels", 0.5, 4.0, 0.1, digits=1),
    Param("size", "n", "image size, pixels", 32, 256, 16, integer=True),
]}
"""The numeric settings, with the symbols of the papers; σ values are shown as σ·255."""

CHOICES: dict[str, dict[str, str]] = {
    "operator": {"denoise": "Denoising", "inpaint": "Inpainting", "deblur": "Deblurring",
                 "sr": "Super-resolution"},
    "kernel": {"gaussian": "Gaussian", "uniform": "Uniform (box)", "motion": "Motion (camera shake)"},
    "factor": {2: "×2", 3: "×3", 4: "×4"},
    "solver": {"pnp-ista": "PnP-ISTA", "gs-pnp": "GS-PnP", "fista-tv": "FISTA-TV"},
}
"""Values (and labels) of the choice settings; denoisers and images are listed by
:func:`available_denoisers` and :data:`pnp_lessons.images.SAMPLES` (+ uploads)."""

NLM_PATCH, NLM_WINDOW = 5, 11
"""NLM patch and search-window sides used by the playground (small, for CPU speed)."""


def default_settings() -> dict:
    """The playground's defaults: inpainting 70 % missing on a grey 128² camera image, PnP-ISTA
    with a fixed NLM W (the setting of Gavaskar & Chaudhury), γ = 0.9. CI-fast mode: 48², 20
    iterations. Falls back to FISTA-TV when PnP-ISTA is not available in this checkout."""
    fast = is_fast()
    solvers = {k for k, _, ok, _ in available_solvers() if ok}
    dens = {k for k, _, ok, _ in available_denoisers() if ok}
    solver = "pnp-ista" if "pnp-ista" in solvers else "fista-tv"
    return dict(image="camera", size=48 if fast else 128, operator="inpaint", missing=70.0, kernel="gaussian",
                kernel_size=9, kernel_std=1.6, factor=2, noise=10.0,
                denoiser="nlm" if "nlm" in dens else "tv", solver=solver,
                gamma=0.9, sigma=15.0, lam=0.02, max_iter=20 if fast else 150, seed=0)


def parse_param(p: Param, text) -> float | int:
    """Parse a typed value for the parameter ``p``; raise :class:`SettingsError` with a message for
    the user when it is not a number, not finite, outside ``[p.min, p.max]``, or not a (odd) whole
    number where one is required. Commas are read as decimal points.

    Examples
    --------
    >>> tau = Param("tau", "τ", "prox step", 0.05, 3.0, 0.05)
    >>> parse_param(tau, " 1,5 ")
    1.5
    >>> parse_param(tau, "abc")
    Traceback (most recent call last):
    ...
    pnp_lessons.widgets.problems.SettingsError: τ (prox step) must be a number; 'abc' was not applied.
    """
    raw = str(text).strip().replace("−", "-").replace(",", ".")
    shown = raw if len(raw) <= 24 else raw[:21] + "…"
    try:
        v = float(raw)
    except ValueError:
        raise SettingsError(f"{p.label} must be a number; {shown!r} was not applied.") from None
    if not math.isfinite(v):
        raise SettingsError(f"{p.label} must be a finite number; {shown} was not applied.")
    if v < p.min or v > p.max:
        raise SettingsError(f"{p.label} must be between {p.min:g} and {p.max:g}; {shown} was not applied.")
    if p.integer:
        if v != int(v):
            raise SettingsError(f"{p.label} must be a whole number; {shown} was not applied.")
        v = int(v)
        if p.odd and v % 2 == 0:
            raise SettingsError(f"{p.label} must be odd; {shown} was not applied.")
    return v


def parse_value(key: str, text) -> float | int:
    """Parse a typed value for the playground's numeric setting ``key`` (see :func:`parse_param`).

    Examples
    --------
    >>> parse_value("gamma", " 1.5 ")
    1.5
    >>> parse_value("gamma", "-1")
    Traceback (most recent call last):
    ...
    pnp_lessons.widgets.problems.SettingsError: γ (step size) must be between 0.05 and 2.5; -1 was not applied.
    """
    return parse_param(PARAMS[key], text)


def validate_settings(settings: dict) -> dict:
    """A complete, checked copy of ``settings`` (missing keys take their defaults).

    Raises :class:`SettingsError` with a plain message for the first unusable value.

    Examples
    --------
    >>> s = validate_settings({"gamma": 1.2})
    >>> s["gamma"], s["operator"]
    (1.2, 'inpaint')
    """
    s = default_settings()
    unknown = set(settings) - set(s) - {"upload_name"}
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    s.update(settings)
    for key, p in PARAMS.items():
        s[key] = parse_value(key, s[key])
    for key, options in CHOICES.items():
        if s[key] not in options:
            raise SettingsError(f"{key} must be one of {', '.join(map(str, options))}; got {s[key]!r}")
    image = s["image"]
    if not (image in SAMPLES or (isinstance(image, str) and image.startswith("upload:"))):
        raise SettingsError(f"unknown image {image!r}; choose one of the samples or upload a file")
    den = {k: (ok, note) for k, _, ok, note in available_denoisers()}
    if s["solver"] != "fista-tv":
        if s["denoiser"] not in den:
            raise SettingsError(f"unknown denoiser {s['denoiser']!r}")
        ok, note = den[s["denoiser"]]
        if not ok:
            raise SettingsError(note)
    sol = {k: (ok, note) for k, _, ok, note in available_solvers()}
    ok, note = sol[s["solver"]]
    if not ok:
        raise SettingsError(note)
    if s["solver"] == "gs-pnp" and not str(s["denoiser"]).startswith("gs:"):
        raise SettingsError("GS-PnP needs the gradient-step denoiser: choose GS-DRUNet as the denoiser.")
    if not isinstance(s["seed"], int) or s["seed"] < 0:
        raise SettingsError(f"seed must be a non-negative integer, got {s['seed']!r}")
    return s


# --------------------------------------------------------------------------- what exists
def _probe(module: str, name: str):
    """``module.name`` or None (the piece is not in this checkout, or fails to import)."""
    try:
        return getattr(importlib.import_module(module), name)
    except Exception:  # a missing or half-written module must not break the widgets
        return None


def _shipped_gs() -> list[str]:
    """Shipped GS-DRUNet weights the playground can run: grey ones (its images are grey)."""
    lister = _probe("pnp_lessons.denoisers.weights", "list_shipped")
    reader = _probe("pnp_lessons.denoisers.weights", "read_card")
    if lister is None or reader is None:
        return []
    try:
        names = lister()
    except Exception:
        return []
    out = []
    for n in names:
        try:
            if "gs" in n.lower() and int(reader(n).get("channels", 1)) == 1:
                out.append(n)
        except Exception:  # an unreadable card: leave that file out, keep the others
            continue
    return out


def available_solvers() -> list[tuple[str, str, bool, str]]:
    """``(key, label, available, note)`` for each solver of the playground."""
    out = []
    ok = _probe("pnp_lessons.solvers.pnp_ista", "pnp_ista") is not None
    out.append(("pnp-ista", "PnP-ISTA", ok, "" if ok else "PnP-ISTA is not available in this checkout yet."))
    gs_ok = _probe("pnp_lessons.solvers.gs_pnp", "gs_pnp") is not None
    shipped = _shipped_gs()
    note = "" if gs_ok and shipped else (
        "GS-PnP needs shipped GS-DRUNet weights (none in data/weights yet)." if gs_ok
        else "GS-PnP is not available in this checkout yet.")
    out.append(("gs-pnp", "GS-PnP", gs_ok and bool(shipped), note))
    out.append(("fista-tv", "FISTA-TV", True, ""))
    return out


def available_denoisers() -> list[tuple[str, str, bool, str]]:
    """``(key, label, available, note)``: TV, NLM, and one ``gs:<name>`` per shipped GS-DRUNet."""
    out = [("tv", "TV (prox of σ·TV)", True, "")]
    ok = _probe("pnp_lessons.denoisers.nlm", "nlm_weights") is not None
    out.append(("nlm", "NLM (fixed W)", ok, "" if ok else "NLM is not available yet."))
    names = _shipped_gs()
    for n in names:
        out.append((f"gs:{n}", f"GS-DRUNet ({n})", True, ""))
    if not names:
        out.append(("gs:", "GS-DRUNet (no weights shipped yet)", False,
                    "GS-DRUNet needs shipped weights in data/weights (none yet)."))
    return out


def relevant_params(settings: dict) -> set[str]:
    """The numeric settings that the chosen solver and operator actually use."""
    keys = {"noise", "max_iter", "size"}
    op = settings.get("operator")
    if op == "inpaint":
        keys.add("missing")
    if op in ("deblur", "sr"):
        keys.add("kernel_size")
        if settings.get("kernel") == "gaussian":
            keys.add("kernel_std")
    solver = settings.get("solver")
    if solver == "pnp-ista":
        keys |= {"gamma", "sigma"}
    elif solver == "gs-pnp":
        keys |= {"sigma", "lam"}
    else:
        keys |= {"gamma", "lam"}
    return keys


# --------------------------------------------------------------------------- problems
@dataclass
class Problem:
    """One inverse problem: ``y = A x_true + ε`` and where the solvers start.

    Attributes
    ----------
    op : Operator
    y : torch.Tensor
        The observation (low resolution for SR).
    x_true : torch.Tensor
        Ground truth (the reference for PSNR).
    x0 : torch.Tensor
        Start point and NLM guide: the masked median of the observation for inpainting (as in
        the PnP-ISTA paper), a mildly regularised deconvolution for deblurring, bicubic
        upsampling for SR, the observation for denoising.
    y_display : torch.Tensor
        The observation at the size of ``x_true`` (missing pixels black, SR nearest-upsampled).
    key : tuple
        What the problem depends on (for caching).
    """

    op: Any
    y: torch.Tensor
    x_true: torch.Tensor
    x0: torch.Tensor
    y_display: torch.Tensor
    key: tuple
    extras: dict = field(default_factory=dict)


_MODES = {"1": "1-bit black and white", "L": "8-bit grey", "LA": "8-bit grey with transparency",
          "P": "palette colour", "PA": "palette colour with transparency", "RGB": "8-bit colour",
          "RGBA": "8-bit colour with transparency", "CMYK": "CMYK colour (print)", "YCbCr": "YCbCr colour",
          "I;16": "16-bit grey", "I;16B": "16-bit grey", "I;16L": "16-bit grey", "I": "32-bit integer grey",
          "F": "floating-point grey"}


def upload_note(data: bytes, name: str = "upload") -> str:
    """What the playground did with an accepted upload, in one line for the page.

    Examples
    --------
    >>> from pnp_lessons.images import to_png_bytes
    >>> upload_note(to_png_bytes(torch.rand(1, 3, 300, 200)), "photo.png")
    'photo.png: PNG, 200×300, 8-bit colour → converted to grey, scaled to at most 256 px'

    It reads the header only (the pixels were decoded by :func:`pnp_lessons.images.load_image`).
    """
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data))
    w, h = im.size
    mode = im.mode
    parts = [f"{name}: {im.format or 'image'}, {w}×{h}, {_MODES.get(mode, mode)}"]
    frames = int(getattr(im, "n_frames", 1) or 1)
    done = []
    if frames > 1:
        done.append(f"first of {frames} frames used")
    if mode.startswith("I;16") or mode in ("I", "F"):
        done.append("values scaled to [0, 1]")
    if mode in ("LA", "PA", "RGBA") or "transparency" in im.info:
        done.append("transparent parts put on white")
    if mode not in ("1", "L", "LA", "I;16", "I;16B", "I;16L", "I", "F"):
        done.append("converted to grey")
    if max(w, h) > PARAMS["size"].max:
        done.append(f"scaled to at most {int(PARAMS['size'].max)} px")
    return parts[0] + (" → " + ", ".join(done) if done else "")


def _fit(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so the longer side is ``size`` (area downsampling, bicubic upsampling)."""
    h, w = x.shape[-2:]
    s = size / max(h, w)
    hw = (max(8, round(h * s)), max(8, round(w * s)))
    if hw == (h, w):
        return x
    mode = "area" if s < 1 else "bicubic"
    return F.interpolate(x, size=hw, mode=mode, **({} if mode == "area" else {"align_corners": False})).clamp(0, 1)


def masked_median(y: torch.Tensor, mask: torch.Tensor, sizes=(5, 9, 15, 31)) -> torch.Tensor:
    """Median of the *observed* pixels around each pixel (windows grow until every pixel has one):
    the start point of PnP-ISTA for inpainting in Gavaskar & Chaudhury."""
    m = mask.expand_as(y) > 0
    out = torch.full_like(y, float("nan"))
    nan = torch.full_like(y, float("nan"))
    v = torch.where(m, y, nan)
    B, C, H, W = y.shape
    for s in sizes:
        r = s // 2
        u = F.unfold(F.pad(v.reshape(B * C, 1, H, W), (r, r, r, r), value=float("nan")), s)
        med = torch.nanmedian(u, dim=1).values.view(B, C, H, W)
        out = torch.where(torch.isnan(out), med, out)
        if not bool(torch.isnan(out).any()):
            break
    fill = float(y[m].mean()) if bool(m.any()) else 0.5
    return torch.nan_to_num(out, nan=fill).clamp(0, 1)


def _kernel(s: dict) -> torch.Tensor:
    k = s["kernel_size"]
    if s["kernel"] == "gaussian":
        return gaussian_kernel(k, s["kernel_std"])
    if s["kernel"] == "uniform":
        return uniform_kernel(k)
    return motion_kernel(max(3, k), seed=s["seed"])


class ProblemCache:
    """Builds problems, NLM weights and learned denoisers once and keeps the last few.

    Moving γ or σ must not rebuild the observation: problems are cached by what they depend
    on (image, size, operator settings, noise, seed), NLM weights by (problem, σ), GS-DRUNets by
    name. Thread-safe (the live runner builds in its worker thread). Uploaded images are kept
    under a short content hash (:meth:`add_upload`).
    """

    def __init__(self, device=None, max_items: int = 4):
        self.device = get_device(device)
        self.max_items = max_items
        self._lock = threading.RLock()
        self._problems: OrderedDict = OrderedDict()
        self._weights: OrderedDict = OrderedDict()
        self._denoisers: dict = {}
        self.uploads: dict[str, torch.Tensor] = {}
        self.upload_names: dict[str, str] = {}
        self.upload_notes: dict[str, str] = {}

    # ---------------------------------------------------------------- uploads
    def add_upload(self, data: bytes, name: str = "upload") -> str:
        """Decode an uploaded file and keep it; returns the image setting (``'upload:<hash>'``).

        Raises :class:`~pnp_lessons.images.ImageError` with a plain message for files that are too
        large, not images, damaged, or too big once decoded.
        """
        data = bytes(data)
        if len(data) > UPLOAD_MAX_BYTES:
            raise ImageError(f"{name} is {len(data) / 2**20:.1f} MiB, larger than the "
                             f"{UPLOAD_MAX_BYTES / 2**20:.0f} MiB limit of the playground")
        x = load_image(data, max_pixels=UPLOAD_MAX_PIXELS, grey=True)
        note = upload_note(data, name)
        x = _fit(x, PARAMS["size"].max)  # keep at most 256 px on the long side
        key = hashlib.sha1(data).hexdigest()[:12]
        with self._lock:
            self.uploads[key] = x
            self.upload_names[key] = name
            self.upload_notes[key] = note
        return f"upload:{key}"

    def image(self, s: dict) -> torch.Tensor:
        name = s["image"]
        if name.startswith("upload:"):
            x = self.uploads.get(name[len("upload:"):])
            if x is None:
                raise SettingsError("the uploaded image is no longer available; upload it again")
        else:
            x = sample(name, grey=True)
        return _fit(x, s["size"])

    # ---------------------------------------------------------------- problems
    @staticmethod
    def problem_key(s: dict) -> tuple:
        op = s["operator"]
        parts: list = [s["image"], s["size"], op, s["noise"], s["seed"]]
        if op == "inpaint":
            parts.append(s["missing"])
        if op in ("deblur", "sr"):
            parts += [s["kernel"], s["kernel_size"], s["kernel_std"] if s["kernel"] == "gaussian" else None]
        if op == "sr":
            parts.append(s["factor"])
        return tuple(parts)

    def problem(self, settings: dict) -> Problem:
        """The (cached) problem for validated ``settings``."""
        key = self.problem_key(settings)
        with self._lock:
            if key in self._problems:
                self._problems.move_to_end(key)
                return self._problems[key]
        pb = self._build(settings, key)
        with self._lock:
            self._problems[key] = pb
            while len(self._problems) > self.max_items:
                old, _ = self._problems.popitem(last=False)
                for wk in [k for k in self._weights if k[0] == old]:
                    del self._weights[wk]
        return pb

    def _build(self, s: dict, key: tuple) -> Problem:
        x = self.image(s).to(self.device)
        op_name, seed, noise = s["operator"], s["seed"], s["noise"] / 255
        if op_name == "sr":
            f = s["factor"]
            H, W = x.shape[-2:]
            x = x[..., : H - H % f, : W - W % f].contiguous()
        if op_name == "denoise":
            op = Denoising()
        elif op_name == "inpaint":
            op = Inpainting(ratio=s["missing"] / 100, seed=seed)
        elif op_name == "deblur":
            k = _kernel(s)
            if max(k.shape) > min(x.shape[-2:]):
                raise SettingsError(f"the {k.shape[0]}×{k.shape[1]} kernel is larger than the image; "
                                    "choose a smaller kernel or a larger image")
            op = Blur(k)
        else:
            op = SuperResolution(_kernel(s), s["factor"])
        y = op.observe(x, noise, seed=seed)
        if op_name == "inpaint":
            m = op.mask_for(y)
            median = _probe("pnp_lessons.solvers.pnp_ista", "masked_median") or masked_median
            x0 = median(y, m).clamp(0, 1)
            y_disp = y.clamp(0, 1)
        elif op_name == "deblur":
            x0 = op.prox_data(y, y, 10.0).clamp(0, 1)  # (AᵀA + I/10)⁻¹(Aᵀy + y/10): a mild deconvolution
            y_disp = y.clamp(0, 1)
        elif op_name == "sr":
            x0 = op.bicubic_up(y).clamp(0, 1)
            y_disp = F.interpolate(y, scale_factor=op.factor, mode="nearest").clamp(0, 1)
        else:
            x0 = y.clamp(0, 1)
            y_disp = y.clamp(0, 1)
        return Problem(op, y, x, x0, y_disp, key)

    # ---------------------------------------------------------------- denoisers
    def nlm(self, problem: Problem, sigma255: float):
        """NLM weights W built once from the start image, h = σ (the playground's σ)."""
        wkey = (problem.key, sigma255)
        with self._lock:
            if wkey in self._weights:
                return self._weights[wkey]
        nlm_weights = _probe("pnp_lessons.denoisers.nlm", "nlm_weights")
        if nlm_weights is None:
            raise SettingsError("NLM is not available in this checkout yet.")
        W = nlm_weights(problem.x0, NLM_PATCH, NLM_WINDOW, h=sigma255 / 255)
        with self._lock:
            self._weights[wkey] = W
            while len(self._weights) > self.max_items:
                self._weights.popitem(last=False)
        return W

    def gs(self, name: str):
        """A shipped gradient-step denoiser, loaded once."""
        with self._lock:
            if name in self._denoisers:
                return self._denoisers[name]
        load = _probe("pnp_lessons.denoisers.weights", "load_denoiser")
        if load is None:
            raise SettingsError("GS-DRUNet is not available in this checkout yet.")
        den = load(name, device=self.device)
        with self._lock:
            self._denoisers[name] = den
        return den

    def clear(self):
        """Forget every cached problem, weight and network (uploads are kept)."""
        with self._lock:
            self._problems.clear()
            self._weights.clear()
            self._denoisers.clear()


# --------------------------------------------------------------------------- solvers
def make_solver(s: dict, problem: Problem, cache: ProblemCache) -> Iterator:
    """The solver generator for validated settings ``s`` on ``problem``.

    * PnP-ISTA: ``x ← D(x − γ Aᵀ(Ax − y))`` with D = NLM (W fixed, built from ``x0`` with h = σ)
      or the TV prox of weight σ, or the GS denoiser D_σ.
    * GS-PnP: :func:`pnp_lessons.solvers.gs_pnp` with σ and λ (τ = 1/λ, backtracking).
    * FISTA-TV: :func:`pnp_lessons.solvers.fista` on ½‖Ax − y‖² + λ TV(x), step τ = γ / ‖AᵀA‖.
    """
    op, y, ref, x0 = problem.op, problem.y, problem.x_true, problem.x0
    sigma = s["sigma"] / 255
    K = s["max_iter"]
    if s["solver"] == "fista-tv":
        from ..solvers import fista

        return fista(op, y, lam=s["lam"], reg="tv", tau=s["gamma"] / op.norm(), x0=x0, ref=ref, max_iter=K, tol=1e-6)
    if s["solver"] == "gs-pnp":
        gs_pnp = _probe("pnp_lessons.solvers.gs_pnp", "gs_pnp")
        den = cache.gs(s["denoiser"][3:])
        kw = _gs_preset(s)
        kw.update(sigma=sigma, lam=s["lam"], max_iter=K)
        return gs_pnp(op, y, den, ref=ref, **kw)
    pnp_ista = _probe("pnp_lessons.solvers.pnp_ista", "pnp_ista")
    if pnp_ista is None:
        raise SettingsError("PnP-ISTA is not available in this checkout yet.")
    d = s["denoiser"]
    if d == "nlm":
        denoiser = cache.nlm(problem, s["sigma"])
    elif d == "tv":
        from ..prox import tv_prox

        def denoiser(z, _lam=sigma):
            return tv_prox(z, _lam, max_iter=30, tol=1e-4)
    else:
        net = cache.gs(d[3:])

        def denoiser(z, _net=net, _s=sigma):
            return _net.denoise(z, _s)
    return pnp_ista(op, y, denoiser, gamma=s["gamma"], x0=x0, ref=ref, max_iter=K, tol=1e-6)


def _gs_task(s: dict) -> str:
    op = s["operator"]
    if op == "inpaint":
        return "inpainting"
    if op == "sr":
        return "sr"
    return f"deblur-{s['kernel']}"  # denoising: the deblurring settings with A = I


def _gs_preset(s: dict) -> dict:
    """The reference GS-PnP settings for this task (σ, λ, tol, warm-up …), see gs_pnp.PRESETS."""
    preset = _probe("pnp_lessons.solvers.gs_pnp", "preset")
    if preset is None:
        return {"tol": 1e-6}
    return preset(_gs_task(s), noise=s["noise"] / 255)


def suggested_parameters(settings: dict) -> dict:
    """Sensible γ, σ·255, λ for the chosen solver and problem (applied when the solver changes):
    the papers' settings for PnP-ISTA (γ = 0.9, Theorem 5) and GS-PnP (the reference presets:
    σ = 1.8–2 × noise, λ = 0.065–0.1), a moderate λ for FISTA-TV."""
    solver = settings.get("solver")
    if solver == "gs-pnp":
        kw = _gs_preset(dict(default_settings(), **settings))
        out = {}
        if "sigma" in kw:
            out["sigma"] = min(max(round(kw["sigma"] * 255 * 2) / 2, PARAMS["sigma"].min), PARAMS["sigma"].max)
        if "lam" in kw:
            out["lam"] = kw["lam"]
        return out
    if solver == "pnp-ista":
        return {"gamma": 0.9, "sigma": 15.0}
    return {"gamma": 0.9, "lam": 0.02}


def start(settings: dict, cache: ProblemCache) -> tuple[Problem, Iterator]:
    """Validate ``settings``, build (or reuse) the problem and return it with a fresh solver generator."""
    s = validate_settings(settings)
    problem = cache.problem(s)
    return problem, make_solver(s, problem, cache)


def describe(s: dict) -> str:
    """One line naming the method and its parameters, e.g.
    ``'PnP-ISTA + NLM, γ = 0.90, σ·255 = 15.0 · inpainting, 70 % missing, noise σ·255 = 10.0'``."""
    solver = CHOICES["solver"].get(s.get("solver"), s.get("solver"))
    parts = []
    if s.get("solver") == "pnp-ista":
        den = {"tv": "TV", "nlm": "NLM"}.get(s.get("denoiser"), "GS-DRUNet")
        parts.append(f"{solver} + {den}, γ = {s['gamma']:.2f}, σ·255 = {s['sigma']:.1f}")
    elif s.get("solver") == "gs-pnp":
        parts.append(f"{solver}, σ·255 = {s['sigma']:.1f}, λ = {s['lam']:.3g}")
    else:
        parts.append(f"{solver}, λ = {s['lam']:.3g}, γ = {s['gamma']:.2f}")
    op = s.get("operator")
    if op == "inpaint":
        parts.append(f"inpainting, {s['missing']:.0f} % missing")
    elif op == "deblur":
        parts.append(f"deblurring, {CHOICES['kernel'][s['kernel']].split(' ')[0].lower()} {s['kernel_size']}×{s['kernel_size']}")
    elif op == "sr":
        parts.append(f"super-resolution ×{s['factor']}")
    else:
        parts.append("denoising")
    parts[-1] += f", noise σ·255 = {s['noise']:.1f}"
    return " · ".join(parts)
