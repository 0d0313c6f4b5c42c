"""CONTRIBUTING.md's recipes, kept true: a lesson is a unit (its notebook, computations, widgets and exercises
where the recipe says), and a denoiser that keeps the contract ``D(x, sigma)`` plugs into every solver.
(The "add a solver" recipe is kept by tests/test_registry.py.)"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
import torch

from pnp_lessons.denoisers.base import Denoiser, GradientStepDenoiser
from pnp_lessons.lessons import LESSONS, NOTEBOOKS
from pnp_lessons.operators import Blur, Inpainting, gaussian_kernel
from pnp_lessons.solvers import pnp_hqs, pnp_ista, run

ROOT = Path(__file__).resolve().parents[1]
LESSONS_DIR = ROOT / "pnp_lessons" / "lessons"


# --------------------------------------------------------------------------- add a lesson
@pytest.mark.parametrize("stem", [s for s, _, _ in LESSONS if s != "00_welcome"])
def test_every_lesson_is_a_unit(stem):
    folder = LESSONS_DIR / f"l{stem}"
    assert (NOTEBOOKS / f"{stem}.ipynb").is_file(), f"notebooks/{stem}.ipynb is missing"
    for part in ("__init__.py", "compute.py", "widgets.py", "exercises.py"):
        assert (folder / part).is_file(), f"{folder.relative_to(ROOT)}/{part} is missing"
    # the notebook imports the lesson from its own folder, never another lesson's widgets
    src = (NOTEBOOKS / f"{stem}.ipynb").read_text()
    others = {f"l{s}" for s, _, _ in LESSONS if s not in ("00_welcome", stem)}
    assert not any(f"pnp_lessons.lessons.{o}.widgets" in src for o in others)


def test_no_lesson_folder_is_left_out_of_the_map():
    mapped = {f"l{s}" for s, _, _ in LESSONS}
    folders = {d.name for d in LESSONS_DIR.iterdir() if d.is_dir() and d.name.startswith("l")}
    assert folders <= mapped, f"lesson folders missing from LESSONS: {sorted(folders - mapped)}"


def test_a_lessons_computations_import_no_other_lessons_widgets():
    for f in LESSONS_DIR.glob("l*/compute.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and "widgets" in node.module:
                raise AssertionError(f"{f.relative_to(ROOT)} imports {node.module}")


# --------------------------------------------------------------------------- add a denoiser
class ToyDenoiser:
    """The recipe's denoiser: a 3×3 box blur mixed in with weight min(1, 10σ) (σ on the [0, 1] scale)."""

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        w = min(1.0, 10 * float(sigma))
        box = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return (1 - w) * x + w * box


def _denoisers():
    from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser, DRUNetLight, GSDenoiser
    from pnp_lessons.denoisers.nlm import NLMDenoiser, nlm_weights
    from pnp_lessons.denoisers.tv import TVDenoiser

    torch.manual_seed(0)
    net = DRUNetLight(1, (4, 4, 4, 4), 1)
    guide = torch.rand(1, 1, 16, 16)
    return {"toy": ToyDenoiser(), "tv": TVDenoiser(), "nlm-adaptive": NLMDenoiser(3, 5),
            "nlm-fixed": nlm_weights(guide, 3, 5, 0.1), "drunet": DRUNetDenoiser(net).eval(),
            "gs": GSDenoiser(net).eval()}


@pytest.mark.parametrize("name", list(_denoisers()))
def test_every_denoiser_keeps_the_contract_and_plugs_into_the_solvers(name):
    D = _denoisers()[name]
    assert isinstance(D, Denoiser)
    x = torch.rand(1, 1, 16, 16)
    out = D(x, 25 / 255)
    assert out.shape == x.shape and torch.isfinite(out).all()
    plugged = functools.partial(D, sigma=15 / 255)               # σ bound: what PnP-ISTA and PnP-HQS call
    op = Inpainting(ratio=0.5, seed=0)
    y = op.observe(x, 0.02, seed=0)
    for gen in (pnp_ista(op, y, plugged, gamma=0.9, max_iter=2, tol=0),
                pnp_hqs(Blur(gaussian_kernel(3, 1.0)), x, plugged, tau=1.0, max_iter=2, tol=0)):
        res = run(gen)
        assert res.iterations == 2 and torch.isfinite(res.x).all()


def test_only_the_gradient_step_denoiser_offers_a_potential():
    ds = _denoisers()
    assert isinstance(ds["gs"], GradientStepDenoiser)
    assert not any(isinstance(ds[k], GradientStepDenoiser) for k in ("toy", "tv", "nlm-adaptive", "drunet"))


def test_line_colours_are_colour_blind_safe():
    """Curves told apart by colour use the Okabe–Ito palette (no red beside green), lesson 05's ρ(P) curves included."""
    from pnp_lessons.figures import OKABE_ITO
    from pnp_lessons.lessons.l05_pnp_ista_convergence.compute import PALETTE

    assert PALETTE[:4] == OKABE_ITO[:4] and "#d62728" not in PALETTE and "#2ca02c" not in PALETTE
