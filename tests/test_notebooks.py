"""Every lesson executes top to bottom in its CI-fast mode (PNP_LESSONS_FAST=1)."""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
SOLUTIONS_CHECK = """from pnp_lessons.exercises import check_answer as _check
_bad = {k: (v, _check(k[9:].replace('_', '.'), v)[1]) for k, v in list(globals().items())
        if k.startswith('solution_') and not _check(k[9:].replace('_', '.'), v)[0]}
assert not _bad, _bad"""
BUDGET_S = 180  # each lesson must run in under 3 minutes on a 2-core CPU in CI-fast mode


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("PNP_LESSONS_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PNP_LESSONS_DEVICE", os.environ.get("PNP_LESSONS_DEVICE", "cpu"))
    nb = nbformat.read(path, as_version=4)
    # last, every solution_NN_k the notebook computed must pass its exercise's check (what nbgrader's hidden
    # tests call, pnp_lessons/grading.py)
    nb.cells.append(nbformat.v4.new_code_cell(SOLUTIONS_CHECK))
    client = NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.time()
    client.execute()
    elapsed = time.time() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    assert elapsed < BUDGET_S, f"{path.name} took {elapsed:.0f} s in CI-fast mode"
