"""The lessons: one folder each, ``lNN_name/`` with its computations (``compute.py``, widget-free), its widgets
(``widgets.py``) and its exercises (``exercises.py``); here, the lesson map and the environment check shown by
``00_welcome``. CONTRIBUTING.md, "Add a lesson", says how a new one joins."""

from __future__ import annotations

import html
from pathlib import Path

import torch

from .. import __version__
from ..runtime import describe_device

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

LESSONS = [
    ("00_welcome", "Welcome", "what the suite is, Lab vs Voilà, the environment check and this map"),
    ("01_inverse_problems", "Inverse problems",
     "y = Ax + ε for denoising, inpainting, deblurring and SR; why naive inversion fails"),
    ("02_proximal_operators", "Proximal operators",
     "prox and Moreau envelope, soft-thresholding, TV prox, ISTA vs FISTA"),
    ("03_plug_and_play", "Plug-and-play", "replace the prox by a denoiser; where the guarantees stop"),
    ("04_kernel_denoisers", "Kernel denoisers", "NLM as W = D⁻¹K: row-stochastic, not symmetric; DSG-NLM"),
    ("05_pnp_ista_convergence", "PnP-ISTA convergence", "x_{k+1} = P x_k + q, ρ(P), Gershgorin discs, Theorem 5"),
    ("06_gradient_step_denoiser", "The gradient-step denoiser", "g_σ = ½‖x − N_σ(x)‖², D_σ = x − ∇g_σ"),
    ("07_gs_pnp", "GS-PnP", "a PnP algorithm that provably decreases F = f + λg_σ"),
    ("08_train_your_denoiser", "Train your denoiser", "train a tiny GS denoiser on CPU; the paper model on GPUs"),
]
"""(notebook stem, title, one-line goal) for each lesson, in order."""


def available_lessons() -> list[tuple[str, str, str, bool]]:
    """The lesson list with a flag telling whether the notebook exists in this checkout."""
    return [(stem, title, goal, (NOTEBOOKS / f"{stem}.ipynb").exists()) for stem, title, goal in LESSONS]


def environment_rows(device=None) -> list[tuple[str, str]]:
    """(label, value) rows of the environment check: package, torch and device."""
    return [
        ("Package", f"pnp_lessons {__version__}"),
        ("PyTorch", torch.__version__),
        ("Device", describe_device(device)),
    ]


def environment_report(device=None):
    """An HTML table of the environment (package, torch, device), for the welcome page."""
    from IPython.display import HTML

    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td class='pnp-env-{html.escape(k.lower())}'>{html.escape(v)}</td></tr>"
                   for k, v in environment_rows(device))
    return HTML(f"<table class='pnp-env' aria-label='environment check'>{rows}</table>")


def lesson_map():
    """An HTML list of the lessons with links (relative, so they work in Lab and in Voilà)."""
    from IPython.display import HTML

    items = []
    for stem, title, goal, exists in available_lessons():
        name = f"{stem[:2]} · {html.escape(title)}"
        link = f"<a href='{stem}.ipynb'>{name}</a>" if exists else f"{name} <em>(coming soon)</em>"
        items.append(f"<li>{link}: {html.escape(goal)}</li>")
    return HTML(f"<ol start='0' class='pnp-lessons'>{''.join(items)}</ol>")
