"""Plain settings → (problem, solver generator): what the playground runs, without any widget.

Everything here is pure Python + torch, testable without any widget: a *settings dict* in
display units (γ, σ·255, λ, noise σ·255, % missing …, see :data:`PARAMS` and
:func:`default_settings`) is validated by :func:`validate_settings`, turned into a
:class:`Problem` (operator, observation, ground truth, start point) by
:meth:`ProblemCache.problem`, and into a solver generator of the iterate protocol by
:func:`make_solver`. :func:`start` does both; the live runner calls it in its worker thread.

The solvers are those of :mod:`pnp_lessons.solvers.registry` (one entry each: label, parameters, denoiser,
builder); the denoisers are TV, NLM and one GS-DRUNet per shipped grey weight file in ``data/weights``
(:func:`available_denoisers`). A solver that cannot run here (GS-PnP without weights) is listed with a note,
never a crash.

``PNP_LESSONS_FAST=1`` (CI-fast mode) gives a smaller image and fewer iterations.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .images import SAMPLES, ImageError, load_image, sample
from .params import PARAMS, SettingsError, parse_param
from .runtime import get_device, is_fast, live_size
from .denoisers.nlm import nlm_weights
from .denoisers.tv import TVDenoiser
from .solvers import registry
from .solvers.pnp_ista import default_guide
from .operators import Blur, Denoising, Inpainting, SuperResolution, gaussian_kernel, motion_kernel, uniform_kernel

__all__ = ["CHOICES", "TASKS", "Problem", "make_problem", "default_settings", "validate_settings", "parse_value",
           "suggested_parameters", "plug_denoiser", "guarantee", "estimate_rho", "inf_norm_of_w", "settings_to_query",
           "settings_from_query", "available_solvers", "available_denoisers", "relevant_params", "ProblemCache",
           "make_solver", "start", "describe", "upload_note", "UPLOAD_MAX_BYTES", "UPLOAD_MAX_PIXELS", "SHAREABLE",
           "RHO_MAX_PIXELS"]

UPLOAD_MAX_BYTES = 10 * 1024 * 1024
"""Largest upload accepted by the playground (bytes)."""
UPLOAD_MAX_PIXELS = 16_000_000
"""Largest decoded upload (pixels); the image is then resized to the working size."""


CHOICES: dict[str, dict[str, str]] = {
    "operator": {"denoise": "Denoising", "inpaint": "Inpainting", "deblur": "Deblurring",
                 "sr": "Super-resolution"},
    "kernel": {"gaussian": "Gaussian", "uniform": "Uniform (box)", "motion": "Motion (camera shake)"},
    "factor": {2: "×2", 3: "×3", 4: "×4"},
}
"""Values (and labels) of the choice settings; solvers, denoisers and images are listed by
:mod:`~pnp_lessons.solvers.registry`, :func:`available_denoisers` and :data:`pnp_lessons.images.SAMPLES`
(+ uploads)."""

NLM_PATCH, NLM_WINDOW = 5, 11
"""NLM patch and search-window sides used by the playground (small, for CPU speed)."""


def default_settings() -> dict:
    """The playground's defaults: inpainting 70 % missing on a grey camera image, PnP-ISTA
    with a fixed NLM W (the setting of Gavaskar & Chaudhury), γ = 0.9, 150 iterations. The image is 256² on CPU
    and 512² on a CUDA GPU (:func:`~pnp_lessons.runtime.live_size`); CI-fast mode: 48², 20 iterations."""
    fast = is_fast()
    return dict(image="camera", size=live_size(cpu=256, cuda=512, fast=48), operator="inpaint", missing=70.0,
                kernel="gaussian", kernel_size=9, kernel_std=1.6, factor=2, noise=10.0,
                denoiser="nlm", solver="pnp-ista",
                gamma=0.9, sigma=15.0, lam=0.02, max_iter=20 if fast else 150, seed=0)


def parse_value(key: str, text) -> float | int:
    """Parse a typed value for the playground's numeric setting ``key`` (see :func:`parse_param`).

    Examples
    --------
    >>> parse_value("gamma", " 1.5 ")
    1.5
    >>> parse_value("gamma", "-1")
    Traceback (most recent call last):
    ...
    pnp_lessons.params.SettingsError: γ (step size) must be between 0.05 and 2.5; -1 was not applied.
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
    for key, _p in PARAMS.items():
        s[key] = parse_value(key, s[key])
    for key, options in CHOICES.items():
        if s[key] not in options:
            raise SettingsError(f"{key} must be one of {', '.join(map(str, options))}; got {s[key]!r}")
    image = s["image"]
    if not (image in SAMPLES or (isinstance(image, str) and image.startswith("upload:"))):
        raise SettingsError(f"unknown image {image!r}; choose one of the samples or upload a file")
    if s["solver"] not in registry.SOLVERS:
        raise SettingsError(f"solver must be one of {', '.join(registry.SOLVERS)}; got {s['solver']!r}")
    spec = registry.get(s["solver"])
    den = {k: (ok, note) for k, _, ok, note in available_denoisers()}
    if spec.denoiser is not None:
        if s["denoiser"] not in den:
            raise SettingsError(f"unknown denoiser {s['denoiser']!r}")
        ok, note = den[s["denoiser"]]
        if not ok:
            raise SettingsError(note)
    ok, note = {k: (ok, note) for k, _, ok, note in available_solvers()}[s["solver"]]
    if not ok:
        raise SettingsError(note)
    if spec.denoiser == "gs" and not str(s["denoiser"]).startswith("gs:"):
        raise SettingsError(f"{spec.label} needs the gradient-step denoiser: choose GS-DRUNet as the denoiser.")
    if not isinstance(s["seed"], int) or s["seed"] < 0:
        raise SettingsError(f"seed must be a non-negative integer, got {s['seed']!r}")
    return s


# --------------------------------------------------------------------------- settings in a link
SHAREABLE = ("image", "size", "operator", "missing", "kernel", "kernel_size", "kernel_std", "factor", "noise",
             "denoiser", "solver", "gamma", "sigma", "lam", "max_iter", "seed")
"""The settings a link can carry (an upload cannot: it lives in one kernel)."""


def settings_to_query(settings: dict) -> str:
    """The query string of a page that opens with ``settings``: the values that differ from the defaults.

    Examples
    --------
    >>> settings_to_query(validate_settings({"gamma": 1.5, "solver": "fista-tv"}))
    'solver=fista-tv&gamma=1.50'
    """
    d = default_settings()
    pairs = [(k, settings[k]) for k in SHAREABLE if k in settings and settings[k] != d[k]
             and not (k == "image" and str(settings[k]).startswith("upload:"))]
    return urllib.parse.urlencode([(k, PARAMS[k].format(v) if k in PARAMS else v) for k, v in pairs])


def settings_from_query(query: str) -> tuple[dict, list[str]]:
    """The settings a page's query string names (``'gamma=1.2&solver=gs-pnp'``), each checked as the playground
    checks a typed value, and what was left out and why (the defaults stand for it).

    Examples
    --------
    >>> settings_from_query("gamma=1.2&operator=deblur&colour=red&sigma=-3")[0]
    {'gamma': 1.2, 'operator': 'deblur'}
    """
    kept, notes = {}, []
    pairs = urllib.parse.parse_qsl(query or "", keep_blank_values=True)
    pairs.sort(key=lambda kv: kv[0] == "solver")      # the solver last: it is checked against the denoiser
    for key, value in pairs:
        if key not in SHAREABLE:
            notes.append(f"{key}: not a setting of the playground")
            continue
        if key == "image" and value.startswith("upload:"):
            notes.append("image: an uploaded image stays in the page that received it; upload it again")
            continue
        v = int(value) if key in ("factor", "seed") and value.strip().lstrip("-").isdigit() else value
        if key in PARAMS:
            try:
                v = parse_value(key, value)
            except SettingsError as e:
                notes.append(str(e))
                continue
        try:
            validate_settings({**kept, key: v})
        except SettingsError as e:
            notes.append(f"{key}={value[:40]}: {e}")
            continue
        kept[key] = v
    return kept, notes


# --------------------------------------------------------------------------- what exists
def _shipped_gs() -> list[str]:
    """Shipped GS-DRUNet weights the playground can run: grey ones (its images are grey)."""
    from .denoisers.weights import list_shipped, read_card

    try:
        names = list_shipped()
    except Exception:  # an unreadable weights folder: the menu offers no GS-DRUNet, with its note
        return []
    out = []
    for n in names:
        try:
            if "gs" in n.lower() and int(read_card(n).get("channels", 1)) == 1:
                out.append(n)
        except Exception:  # an unreadable card: leave that file out, keep the others
            continue
    return out


def available_solvers() -> list[tuple[str, str, bool, str]]:
    """``(key, label, available, note)`` for each solver of :mod:`~pnp_lessons.solvers.registry`, in menu order."""
    out = []
    gs_note = "" if _shipped_gs() else "GS-PnP needs shipped GS-DRUNet weights (none in data/weights yet)."
    for spec in registry.solvers():
        note = spec.available() or (gs_note if spec.denoiser == "gs" else "")
        out.append((spec.key, spec.label, not note, note))
    return out


def available_denoisers() -> list[tuple[str, str, bool, str]]:
    """``(key, label, available, note)``: TV, NLM, and one ``gs:<name>`` per shipped GS-DRUNet."""
    out = [("tv", "TV (prox of σ·TV)", True, ""), ("nlm", "NLM (fixed W)", True, "")]
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
    spec = registry.SOLVERS.get(settings.get("solver"))
    if spec is not None:
        keys |= set(spec.params)
    return keys


# --------------------------------------------------------------------------- problems
TASKS = ("denoise", "inpaint", "deblur", "sr")
"""The forward models a :class:`Problem` can have (:mod:`pnp_lessons.operators`)."""


@dataclass
class Problem:
    """One inverse problem: ``y = A x_true + ε`` and where the solvers start. The playground and every lesson
    use this one type (built by :func:`make_problem`).

    Attributes
    ----------
    task : str
        One of :data:`TASKS` (a lesson may name its variant, e.g. ``'deblur-motion'``, in ``description``).
    op : Operator
    y : torch.Tensor
        The observation (low resolution for SR).
    x_true : torch.Tensor
        Ground truth (the reference for PSNR).
    x0 : torch.Tensor
        Start point and NLM guide: the masked median of the observation for inpainting (as in the PnP-ISTA
        paper), Aᵀy (or a mild deconvolution) for deblurring, bicubic upsampling for SR, y for denoising.
    noise : float
        σ of ε on the [0, 1] scale.
    description : str
        What the observation is, in words (captions).
    W : KernelWeights, optional
        A kernel denoiser frozen from ``x0``, when the lesson builds one with the problem (lesson 05).
    key : tuple
        What the problem depends on (the playground's cache key).
    extras : dict
        Anything else a lesson keeps with it.
    """

    task: str
    op: Any
    y: torch.Tensor
    x_true: torch.Tensor
    x0: torch.Tensor
    noise: float = 0.0
    description: str = ""
    W: Any = None
    key: tuple = ()
    extras: dict = field(default_factory=dict)

    @property
    def y_display(self) -> torch.Tensor:
        """The observation at the size of ``x_true`` (missing pixels black, SR enlarged by nearest neighbour)."""
        if isinstance(self.op, SuperResolution):
            return F.interpolate(self.y, scale_factor=self.op.factor, mode="nearest").clamp(0, 1)
        return self.y.clamp(0, 1)

    def describe(self) -> str:
        return self.description


def make_problem(task: str, *, x: torch.Tensor | None = None, image: str = "camera", size: int | None = 128,
                 seed: int = 0, noise: float = 0.0, ratio: float = 0.5, kernel: torch.Tensor | None = None,
                 factor: int = 2, start: str = "guide", clamp: bool = True, description: str = "",
                 device=None, key: tuple = ()) -> Problem:
    """Build ``y = A x + ε`` (ε Gaussian of std ``noise``, seeded) and its start point.

    Parameters
    ----------
    task : {'denoise', 'inpaint', 'deblur', 'sr'}
    x : torch.Tensor, optional
        The clean image ``(1, C, H, W)``; default: the grey scikit-image sample ``image`` at ``size`` pixels.
    seed : int
        Seeds the noise and the inpainting mask.
    noise : float
        σ of ε on the [0, 1] scale.
    ratio : float
        Inpainting: the fraction of pixels *missing*.
    kernel : torch.Tensor
        Deblurring and SR: the blur kernel (SR crops ``x`` to a multiple of ``factor``).
    start : {'guide', 'deconv'}
        x₀ = :func:`~pnp_lessons.solvers.pnp_ista.default_guide` (the papers' start), or for deblurring the
        mild deconvolution (AᵀA + I/10)⁻¹(Aᵀy + y/10) the playground starts from.
    clamp : bool
        Clip x₀ to [0, 1].

    Examples
    --------
    >>> pb = make_problem("inpaint", size=32, ratio=0.7, noise=10 / 255)
    >>> pb.y.shape, round(float((pb.op.mask_for(pb.y) == 0).float().mean()), 1)
    (torch.Size([1, 1, 32, 32]), 0.7)
    """
    if task not in TASKS:
        raise SettingsError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if x is None:
        x = sample(image, size=size, grey=True)
    if device is not None:
        x = x.to(device)
    if task in ("deblur", "sr") and kernel is None:
        raise SettingsError(f"{task} needs a blur kernel")
    if task == "sr":
        H, W = x.shape[-2:]
        x = x[..., : H - H % factor, : W - W % factor].contiguous()
    if task == "denoise":
        op = Denoising()
    elif task == "inpaint":
        op = Inpainting(ratio=ratio, seed=seed)
    elif task == "deblur":
        if max(kernel.shape) > min(x.shape[-2:]):
            raise SettingsError(f"the {kernel.shape[0]}×{kernel.shape[1]} kernel is larger than the image; "
                                "choose a smaller kernel or a larger image")
        op = Blur(kernel)
    else:
        op = SuperResolution(kernel, factor)
    y = op.observe(x, noise, seed=seed)
    if start == "deconv" and task == "deblur":
        x0 = op.prox_data(y, y, 10.0)       # (AᵀA + I/10)⁻¹(Aᵀy + y/10): a mild deconvolution
    elif start in ("guide", "deconv"):
        x0 = default_guide(op, y)
    else:
        raise ValueError(f"start must be 'guide' or 'deconv', got {start!r}")
    return Problem(task, op, y, x, x0.clamp(0, 1) if clamp else x0, noise, description, key=key)


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
    >>> upload_note(to_png_bytes(torch.rand(1, 3, 600, 200)), "photo.png")
    'photo.png: PNG, 200×600, 8-bit colour → converted to grey, scaled to at most 512 px'

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
        op = s["operator"]
        return make_problem(op, x=self.image(s).to(self.device), seed=s["seed"], noise=s["noise"] / 255,
                            ratio=s["missing"] / 100, kernel=_kernel(s) if op in ("deblur", "sr") else None,
                            factor=s["factor"], start="deconv", description=describe(s).split(" · ", 1)[-1],
                            key=key)

    # ---------------------------------------------------------------- denoisers
    def nlm(self, problem: Problem, sigma255: float):
        """NLM weights W built once from the start image, h = σ (the playground's σ)."""
        wkey = (problem.key, sigma255)
        with self._lock:
            if wkey in self._weights:
                return self._weights[wkey]
        W = nlm_weights(problem.x0, NLM_PATCH, NLM_WINDOW, h=sigma255 / 255)
        with self._lock:
            self._weights[wkey] = W
            while len(self._weights) > self.max_items:
                self._weights.popitem(last=False)
        return W

    def gs(self, name: str):
        """A shipped gradient-step denoiser, loaded once, remembering g_σ and ∇g_σ at the starting points of its
        last runs (:class:`~pnp_lessons.solvers.gs_pnp.StartMemo`: after a λ move GS-PnP restarts from the same x₀)."""
        with self._lock:
            if name in self._denoisers:
                return self._denoisers[name]
        from .denoisers.weights import load_denoiser
        from .solvers.gs_pnp import StartMemo

        den = StartMemo(load_denoiser(name, device=self.device))
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
def plug_denoiser(s: dict, problem: Problem, cache: ProblemCache):
    """The denoiser the chosen solver plugs in (``None`` when it takes none):

    * ``'any'`` (PnP-ISTA, PnP-HQS): ``x ↦ D(x, σ)`` for a denoiser of the contract of
      :mod:`pnp_lessons.denoisers.base`: NLM with W fixed (built once from ``x0`` with h = σ), the TV prox with
      λ = σ, or the GS denoiser D_σ;
    * ``'gs'`` (GS-PnP): the gradient-step denoiser itself (GS-PnP needs its potential and gradient).
    """
    kind = registry.get(s["solver"]).denoiser
    if kind is None:
        return None
    d, sigma = s["denoiser"], s["sigma"] / 255
    if kind == "gs":
        return cache.gs(d[3:])
    if d == "nlm":
        D = cache.nlm(problem, s["sigma"])
    elif d == "tv":
        D = TVDenoiser(factor=1.0, max_iter=30)        # λ = σ: the playground's σ is the TV weight
    else:
        D = cache.gs(d[3:])

    def plugged(x, _D=D, _sigma=sigma):
        return _D(x, _sigma)

    return plugged


RHO_MAX_PIXELS = 64 * 64
"""Largest image for which the playground estimates ρ(P) of its fixed W (≈ 0.3–1 s on this CPU at 64²)."""


def guarantee(s: dict, problem: Problem | None = None, rho: float | None = None,
              inf_norm: float | None = None) -> tuple[str, str]:
    """``(state, text)``: what the theory promises for the chosen solver at these settings (its registry entry's
    ``guarantee``, :mod:`pnp_lessons.solvers.guarantees`); ``rho``, from :func:`estimate_rho`, decides for
    PnP-ISTA with a fixed W where no closed-form bound applies.

    Examples
    --------
    >>> guarantee(validate_settings({"gamma": 0.9}))[0], guarantee(validate_settings({"gamma": 2.5}))[0]
    ('holds', 'outside')
    """
    return registry.get(s["solver"]).guarantee(s, problem, rho=rho, inf_norm=inf_norm)


def inf_norm_of_w(s: dict, problem: Problem, cache: ProblemCache) -> float | None:
    """‖P‖∞ of the playground's fixed NLM W for inpainting (O(n), any size: the row-sum bound on the weights as
    computed, :func:`pnp_lessons.analysis.inpainting_inf_norm`); None for other settings."""
    if s["solver"] != "pnp-ista" or s["denoiser"] != "nlm" or s["operator"] != "inpaint":
        return None
    from . import analysis

    return analysis.inpainting_inf_norm(cache.nlm(problem, s["sigma"]), problem.op, s["gamma"])


def estimate_rho(s: dict, problem: Problem, cache: ProblemCache, max_pixels: int = RHO_MAX_PIXELS) -> float | None:
    """ρ(P), P = W(I − γAᵀA), for PnP-ISTA with the playground's fixed NLM W on an image of at most ``max_pixels``
    pixels (:mod:`pnp_lessons.analysis`); None otherwise."""
    if s["solver"] != "pnp-ista" or s["denoiser"] != "nlm" or problem.x_true.numel() > max_pixels:
        return None
    from . import analysis

    W = cache.nlm(problem, s["sigma"])
    return analysis.spectral_radius(analysis.system_matrix(W, problem.op, s["gamma"], max_pixels=max_pixels))


def make_solver(s: dict, problem: Problem, cache: ProblemCache) -> Iterator:
    """The solver generator for validated settings ``s`` on ``problem``: the registry entry's builder with the
    plugged denoiser (:func:`plug_denoiser`)."""
    return registry.get(s["solver"]).build(s, problem, plug_denoiser(s, problem, cache))


def suggested_parameters(settings: dict) -> dict:
    """The chosen solver's parameters for this problem (its registry entry's ``suggest``; applied when the solver
    changes), kept inside the sliders' ranges: the papers' settings for PnP-ISTA (γ = 0.9, Theorem 5) and GS-PnP
    (the reference presets: σ = 1.8–2 × noise, λ = 0.065–0.1), a moderate λ for FISTA-TV."""
    spec = registry.SOLVERS.get(settings.get("solver"))
    if spec is None:
        return {}
    out = spec.suggest(dict(default_settings(), **settings))
    return {k: min(max(v, PARAMS[k].min), PARAMS[k].max) for k, v in out.items()}


def start(settings: dict, cache: ProblemCache, results=None) -> tuple[Problem, Iterator]:
    """Validate ``settings``, build (or reuse) the problem and return it with a fresh solver generator.

    With ``results`` (a :class:`~pnp_lessons.result_cache.ResultCache`), a run some kernel already finished with
    the same settings on the same problem is replayed instead of computed, and a computed run is stored for the
    others when it ends by itself."""
    s = validate_settings(settings)
    problem = cache.problem(s)
    if results is None:
        return problem, make_solver(s, problem, cache)
    key = results.key(s, problem.key, cache.device)
    replayed = results.replay(key, cache.device)
    if replayed is not None:
        return problem, replayed
    return problem, results.record(key, make_solver(s, problem, cache))


def describe(s: dict) -> str:
    """One line naming the method and its parameters, e.g.
    ``'PnP-ISTA + NLM, γ = 0.90, σ·255 = 15.0 · inpainting, 70 % missing, noise σ·255 = 10.0'``."""
    spec = registry.SOLVERS.get(s.get("solver"))
    parts = [spec.phrase(s) if spec is not None else str(s.get("solver"))]
    op = s.get("operator")
    if op == "inpaint":
        parts.append(f"inpainting, {s['missing']:.0f} % missing")
    elif op == "deblur":
        parts.append(f"deblurring, {CHOICES['kernel'][s['kernel']].split(' ')[0].lower()} "
                     f"{s['kernel_size']}×{s['kernel_size']}")
    elif op == "sr":
        parts.append(f"super-resolution ×{s['factor']}")
    else:
        parts.append("denoising")
    parts[-1] += f", noise σ·255 = {s['noise']:.1f}"
    return " · ".join(parts)
