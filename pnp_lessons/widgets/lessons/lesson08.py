"""Lesson 08 widgets: train a tiny gradient-step denoiser on the CPU, evaluate it, compare with the shipped one.

* :func:`training_folder` — ``<data>/Train400`` when the data folder is present, else a folder of
  scikit-image's bundled images (grey PNGs written once to a temporary folder).
* :func:`tiny_config` — a :class:`~pnp_lessons.train.TrainConfig` for a tiny GS-DRUNet that trains in minutes
  on a laptop CPU (a few steps in CI-fast mode); never exports into ``data/weights``.
* :class:`LossCurve` — a live loss curve (inline SVG) fed by :func:`pnp_lessons.train.train`'s per-step callback.
* :func:`evaluation_table` — validation PSNRs (:func:`pnp_lessons.train.validate`) of several denoisers.
* :class:`TrainerWidget` — Train / Stop with K and learning-rate sliders; training runs in the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner` and is cancelled between two steps.

The training loop itself is :mod:`pnp_lessons.train`.
"""

from __future__ import annotations

import html
import math
import tempfile
import threading
import time
from pathlib import Path

import ipywidgets as W
import numpy as np
import torch

from ...exercises import Exercise, register
from ...images import data_root, sample
from ...train import TrainConfig, load_image_folder, train, validate
from ..curves import svg_chart
from ..problems import Param
from .common import LessonWidget, Slider, is_fast
from .lesson03 import lean_call, lean_threads_wanted

__all__ = ["PARAMS", "training_folder", "validation_images", "tiny_config", "LossCurve", "evaluation_table",
           "TrainerWidget", "EXERCISES", "register_exercises", "SKIMAGE_IMAGES"]

PARAMS = {
    "steps": Param("steps", "K", "training steps", 1, 2000, 1, integer=True),
    "lr": Param("lr", "lr", "Adam, log scale", 1e-5, 1e-2, 0.1, log=True),
}
SKIMAGE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "cat", "brick", "grass", "gravel")
TINY = {"nc": (8, 16, 32, 32), "nb": 1}
"""The tiny network of the lesson: DRUNet-light with 8/16/32/32 channels and 1 residual block per level."""

_lock = threading.Lock()
_folder: Path | None = None


def training_folder() -> Path:
    """``<data>/Train400`` when present (the paper's grey training set), else scikit-image images as PNGs."""
    global _folder
    t400 = data_root() / "Train400"
    if t400.is_dir() and any(t400.iterdir()):
        return t400
    with _lock:
        if _folder is None or not _folder.exists():
            from PIL import Image

            d = Path(tempfile.mkdtemp(prefix="pnp-train-"))
            for name in SKIMAGE_IMAGES:
                try:
                    x = sample(name, size=180, grey=True)
                except (ValueError, Exception):  # noqa: BLE001 - an image missing from this scikit-image
                    continue
                a = (x[0, 0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)
                Image.fromarray(a).save(d / f"{name}.png")
            _folder = d
    return _folder


def validation_images(n: int | None = None, size: int | None = None) -> tuple[list[torch.Tensor], str]:
    """``(images, description)``: the first ``n`` Set12 images (centre crops of side ``size``) when the data
    folder is present, else scikit-image's camera/astronaut/coffee. CI-fast mode: 2 images, 64²."""
    n = n or (2 if is_fast() else 4)
    size = size or (64 if is_fast() else 128)
    set12 = data_root() / "Set12"
    if set12.is_dir():
        imgs = load_image_folder(set12, 1, n)
        src = f"Set12, first {len(imgs)} images, centre {size}×{size}"
    else:
        imgs = [sample(k, size=256, grey=True) for k in ("camera", "astronaut", "coffee", "chelsea")[:n]]
        src = f"scikit-image camera/astronaut/coffee/chelsea (first {len(imgs)}), centre {size}×{size}"
    out = []
    for x in imgs:
        h, w = x.shape[-2:]
        s = min(size, h, w)
        i, j = (h - s) // 2, (w - s) // 2
        out.append(x[..., i:i + s, j:j + s].contiguous())
    return out, src


def tiny_config(**overrides) -> TrainConfig:
    """A :class:`TrainConfig` for the tiny GS denoiser: crop 32 (48), batch 4 (8), 5 steps in CI-fast mode
    (300 otherwise), lr 10⁻³, a fresh temporary run folder (no resume), no export, no validation during training;
    one torch thread on a small shared CPU (see :func:`~pnp_lessons.widgets.lessons.lesson03.lean_threads`)."""
    fast = is_fast()
    cfg = dict(name="my-tiny-gs", train_dir=str(training_folder()), val_dir=None, kind="gs", preset="small",
               nc=TINY["nc"], nb=TINY["nb"], crop=32 if fast else 48, batch=4 if fast else 8,
               steps=5 if fast else 300, lr=1e-3, lr_milestones=(0.5, 0.75, 0.9), val_every=0, ckpt_every=0,
               run_dir=tempfile.mkdtemp(prefix="pnp-run-"), export_dir=None, train_limit=40, progress=True,
               threads=1 if lean_threads_wanted() else None,
               notes="lesson 08 tiny model")
    cfg.update(overrides)
    return TrainConfig(**cfg)


class LossCurve(W.HTML):
    """A live training-loss curve: pass :meth:`add` as ``train(cfg, callback=curve.add)``.

    Redraws at most every ``interval`` seconds (and on :meth:`finish`), so it costs nothing per step.
    """

    def __init__(self, interval: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.interval = interval
        self.steps: list[int] = []
        self.losses: list[float] = []
        self._t = 0.0
        self.redraw()

    def reset(self):
        self.steps, self.losses = [], []
        self.redraw()

    def add(self, step: int, loss: float):
        self.steps.append(int(step))
        self.losses.append(float(loss))
        now = time.monotonic()
        if now - self._t >= self.interval:
            self._t = now
            self.redraw()

    def finish(self):
        self.redraw()

    def redraw(self):
        n = len(self.losses)
        psnr_like = [(-10 * math.log10(v) if v > 0 else None) for v in self.losses]
        chart = svg_chart("training loss ‖D_σ(x + σn) − x‖² per pixel (log)", [(self.losses, "#1f77b4", False)],
                          log=True, w=420, h=180)
        chart2 = svg_chart("−10·log₁₀(loss), dB", [(psnr_like, "#2ca02c", False)], w=300, h=180)
        if n:
            k = max(1, n // 5)
            early, late = float(np.mean(self.losses[:k])), float(np.mean(self.losses[-k:]))
            alt = (f"Line charts of the training loss over {n} steps (log scale) and of −10·log₁₀ of it: the mean loss "
                   f"of the first {k} steps is {early:.3g}, of the last {k} steps {late:.3g}.")
        else:
            alt = "No training step yet."
        self.value = ("<div style='display:flex;gap:8px;flex-wrap:wrap'>" + chart + chart2 + "</div>"
                      f"<div class='pnp-caption'>{html.escape(alt)}</div>")


@lean_call
def evaluation_table(denoisers: dict, images: list[torch.Tensor], source: str, sigmas=(15, 25, 50)):
    """Validation PSNRs (dB) of ``{label: denoiser}`` on ``images`` at ``sigmas`` (0–255 scale), with the
    noisy input as a baseline row (IPython HTML)."""
    from IPython.display import HTML

    from ...metrics import psnr

    rows = {}
    noisy = {}
    for s in sigmas:
        g = torch.Generator().manual_seed(int(s))
        noisy[s] = float(np.mean([psnr((x + s / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1), x)
                                  for x in images]))
    rows["noisy input (no denoising)"] = noisy
    for label, D in denoisers.items():
        dev = next(D.parameters()).device
        rows[label] = validate(D, images, sigmas=sigmas, device=dev)
    head = "<tr><th>denoiser</th>" + "".join(f"<th>σ·255 = {s}</th>" for s in sigmas) + "</tr>"
    body = "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{v[s]:.2f}</td>" for s in sigmas) + "</tr>"
                   for k, v in rows.items())
    return HTML(f"<table class='pnp-readout' aria-label='denoising PSNR of the trained models'><caption>PSNR (dB) on "
                f"{html.escape(source)}</caption>{head}{body}</table>"), rows


class _Cancelled(Exception):
    pass


class TrainerWidget(LessonWidget):
    """Train the tiny GS denoiser with a live loss curve and a progress bar; Train starts, Stop cancels."""

    wait_first = False

    def __init__(self, steps: int | None = None, lr: float = 1e-3, autostart: bool | None = None):
        self.steps = Slider(PARAMS["steps"], steps or (5 if is_fast() else 300))
        self.lr = Slider(PARAMS["lr"], lr)
        self.train_button = W.Button(description="Train", icon="play", button_style="primary",
                                     tooltip="train a fresh tiny GS denoiser with these settings")
        self.train_button.on_click(lambda _: self.refresh())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps", layout=W.Layout(width="420px"))
        self.progress_text = W.HTML("")
        self.curve = LossCurve()
        self.summary = W.HTML("")
        self._submits = 0
        self.result = None
        super().__init__([self.steps, self.lr, self.train_button, W.HBox([self.progress, self.progress_text]),
                          self.curve, self.summary], autostart=False)
        if autostart if autostart is not None else is_fast():
            self.refresh()
            self.wait(150)

    def refresh(self, *_):
        self._submits += 1
        super().refresh()

    def stop(self):
        self._submits += 1
        super().stop()

    def settings(self):
        return dict(steps=int(self.steps.value), lr=float(self.lr.value))

    @lean_call
    def compute(self, s):
        token = self._submits
        cfg = tiny_config(steps=s["steps"], lr=s["lr"], progress=False)
        self.curve.reset()
        self.progress.max, self.progress.value = s["steps"], 0
        t0 = time.monotonic()

        def callback(step, loss):
            if self._submits != token:
                raise _Cancelled()
            self.curve.add(step, loss)
            self.progress.value = step
            self.progress_text.value = (f"<span class='pnp-caption'>step {step}/{s['steps']}, loss {loss:.3g}, "
                                        f"{time.monotonic() - t0:.0f} s</span>")

        try:
            with torch.enable_grad():  # the live runner computes under no_grad; training needs gradients
                res = train(cfg, callback=callback)
        except _Cancelled:
            self.curve.finish()
            self.summary.value = (f"<div class='pnp-message' role='status'>Stopped after {len(self.curve.steps)} steps "
                                  f"(the model of a stopped run is discarded).</div>")
            raise
        self.curve.finish()
        self.result = res
        return dict(s=s, steps=res["steps"], wall=res["wall_s"], denoiser=res["denoiser"])

    def render(self, r):
        self.summary.value = (f"<div class='pnp-message' role='status'>Trained {r['steps']} steps in {r['wall']:.1f} s "
                              f"(lr = {r['s']['lr']:.3g}). The model is in <code>trainer.result['denoiser']</code>."
                              "</div>")


# --------------------------------------------------------------------------- exercises
EXERCISES = [
    Exercise(
        "08.1",
        "N_σ receives the noise level σ as one extra constant input channel. How many input channels does the "
        "network of a grey-image denoiser have?",
        2.0,
        rtol=0.0, atol=0.0,
        hint="One channel for the grey image, plus …",
        confirmation="1 image channel + 1 σ channel = 2 (and 3 + 1 = 4 for colour): the same network denoises every "
                     "noise level in [0, 50]/255.",
    ),
    Exercise(
        "08.2",
        "The paper trains with batches of 16 crops. With torchrun --nproc_per_node=4, what --batch (per process) "
        "keeps the total batch at 16?",
        4.0,
        rtol=0.0, atol=0.0,
        hint="Each of the 4 processes draws its own batch; DDP averages the 4 gradients.",
        confirmation="16 / 4 = 4 crops per GPU; the card of the exported weights records the total, batch × world size.",
    ),
    Exercise(
        "08.3",
        "Why does training the GS denoiser call autograd with create_graph=True?",
        "the loss depends on ∇g_σ, so its gradient needs second derivatives of g_σ",
        hint="D_σ(x) = x − ∇g_σ(x) is already a gradient; the optimiser needs the gradient of the loss with respect "
             "to the weights, through D_σ.",
        confirmation="The loss ‖x − ∇g_σ(x + σn) − x_clean‖² contains ∇g_σ, so backpropagation differentiates a "
                     "gradient: a double backward, which is why a GS training step costs about twice a plain one.",
        choices=(
            "to save memory",
            "the loss depends on ∇g_σ, so its gradient needs second derivatives of g_σ",
            "because Adam needs the Hessian",
            "to make training deterministic",
        ),
    ),
]


def register_exercises(items=None) -> list[str]:
    """Add this lesson's exercises to :data:`pnp_lessons.exercises.EXERCISES` (idempotent); return their ids."""
    return register(*(EXERCISES if items is None else items))


register_exercises()
