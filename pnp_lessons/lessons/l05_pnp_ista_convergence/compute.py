"""The computations of lesson 05 (PnP-ISTA convergence), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations


import numpy as np

from ...denoisers.nlm import nlm_weights
from ...figures import OKABE_ITO
from ...images import sample
from ...operators import uniform_kernel
from ...problems import Problem
from ...problems import make_problem as core_problem
from ...params import Param
from ...runtime import is_fast, live_size

__all__ = ["PARAMS", "PROBLEMS", "PALETTE", "STATUS", "make_problem", "small_problem", "gamma_grid", "image_size",
           "iterations"]

NLM_PATCH, NLM_WINDOW = 5, 11


PARAMS = {
    "gamma": Param("gamma", "γ", "step size", 0.05, 2.5, 0.05),
    "h": Param("h", "h·255", "NLM kernel width", 10.0, 80.0, 1.0, digits=0),
    "iters": Param("iters", "K", "iterations", 5, 400, 5, integer=True),
}


PROBLEMS = {"inpaint": "Inpainting, 80 % missing, noise 10/255", "deblur": "Deblurring, 3×3 uniform, noise 2/255"}
"""NLM patch and window sides of the lesson (smaller than the paper's, for CPU speed)."""


PALETTE = OKABE_ITO   # colour-blind safe (pnp_lessons.figures)


STATUS = {"running": "running", "converged": "converged", "max_iter": "reached K iterations", "diverged": "diverged",
          "stopped": "stopped"}


def image_size() -> int:
    """Side of the explorer's image: 48 in CI-fast mode, 128 on CPU, 256 on a CUDA GPU."""
    return live_size(cpu=128, cuda=256, fast=48)


def iterations() -> int:
    """The explorer's default K: 20 in CI-fast mode, 150 otherwise."""
    return 20 if is_fast() else 150


def make_problem(kind: str = "inpaint", size: int = 64, crop: tuple | None = None, seed: int = 0) -> Problem:
    """The lesson's problem: the paper's inpainting (80 % missing, noise 10/255) or a 3×3 uniform deblurring
    (noise 2/255) of the camera image, optionally cropped (``((i0, i1), (j0, j1))``); x₀ is the guide of
    :func:`~pnp_lessons.solvers.pnp_ista.default_guide`, unclipped."""
    if kind not in PROBLEMS:
        raise ValueError(f"kind must be one of {', '.join(PROBLEMS)}, got {kind!r}")
    x = sample("camera", size=size, grey=True)
    if crop is not None:
        (i0, i1), (j0, j1) = crop
        x = x[..., i0:i1, j0:j1].contiguous()
    if kind == "inpaint":
        return core_problem("inpaint", x=x, ratio=0.8, noise=10 / 255, seed=seed, clamp=False,
                            description=PROBLEMS[kind])
    return core_problem("deblur", x=x, kernel=uniform_kernel(3), noise=2 / 255, seed=seed, clamp=False,
                        description=PROBLEMS[kind])


def gamma_grid() -> np.ndarray:
    """The γ values of the ρ(P) curves: 0.1 … 2.5 (with 2.0, 2.05 and 2.1); fewer in CI-fast mode."""
    if is_fast():
        return np.array([0.1, 0.5, 0.9, 1.0, 1.5, 1.9, 2.0, 2.1, 2.3, 2.5])
    return np.unique(np.round(np.concatenate([np.arange(0.1, 2.51, 0.1), [2.05]]), 3))


def small_problem(kind: str = "inpaint", h255: float = 30.0, side: int = 20) -> Problem:
    """A ``side × side`` crop of the camera image (n = side² pixels), its problem and, in ``W``, the NLM weights
    frozen from its guide x₀ with h = ``h255``/255 (small enough for the explicit matrices of
    :mod:`pnp_lessons.analysis`)."""
    pb = make_problem(kind, size=64, crop=((10, 10 + side), (22, 22 + side)))
    pb.W = nlm_weights(pb.x0, NLM_PATCH, NLM_WINDOW, h=h255 / 255)
    pb.extras["h255"] = h255
    return pb
