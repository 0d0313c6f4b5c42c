"""Lesson 08, the widgets: train a tiny gradient-step denoiser on the CPU, evaluate it, compare with the shipped one.

* :func:`~.compute.training_folder` — ``<data>/Train400`` when the data folder is present, else a folder of
  scikit-image's bundled images (grey PNGs written once to a temporary folder).
* :func:`~.compute.tiny_config` — a :class:`~pnp_lessons.train.TrainConfig` for a tiny GS-DRUNet that trains in minutes
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
import time

import ipywidgets as W
import numpy as np
import torch

from ...figures import svg_chart
from ...runtime import is_fast, lean_call
from ...train import train, validate
from ...widgets.lesson_base import LessonWidget, Slider
from .compute import PARAMS, _Cancelled, tiny_config

__all__ = ["LossCurve", "evaluation_table", "TrainerWidget"]


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
                          log=True, w=420, xlabel="training step")
        chart2 = svg_chart("−10·log₁₀(loss), dB", [(psnr_like, "#2ca02c", False)],
                           xlabel="training step")
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
