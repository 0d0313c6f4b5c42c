"""The lessons as nbgrader assignments, from the same notebooks (``pnp-lessons release``, ``make release``).

Each lesson's solution cells (tagged ``solution``: ``# Solution NN.k: why…`` then ``solution_NN_k = …``) become
nbgrader *solution* cells — the whole body between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, after a line
that tells the student what to assign — and each is followed by an *autograded* cell whose hidden test calls the
same widget-free check as the in-page exercise (:func:`pnp_lessons.exercises.check_answer`). The instructor
version (nbgrader's ``source/``) keeps the solutions; ``nbgrader generate_assignment`` writes the student version
without them (and without the hidden tests), ``nbgrader autograde`` scores a submission.

    pnp-lessons release --course course/     # source/, release/ and the gradebook, for every lesson
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["to_assignment", "solution_cells", "build_course", "NOTEBOOKS", "POINTS"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
POINTS = 1
"""Points per exercise."""

_SOLUTION = re.compile(r"^#\s*Solution\s+(\d\d\.\d+)\b")
_NAME = re.compile(r"^(solution_\d\d_\d+)\s*=", re.M)


def solution_cells(nb) -> list[tuple[int, str, str]]:
    """``(cell index, exercise id, variable)`` of each solution cell of a lesson notebook.

    Raises ``ValueError`` naming the cell when a cell tagged ``solution`` does not start with ``# Solution NN.k``
    or assigns no ``solution_NN_k``."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "solution" not in cell.metadata.get("tags", []):
            continue
        m, v = _SOLUTION.match(cell.source), _NAME.findall(cell.source)
        if not m or not v:
            raise ValueError(f"cell {cell.get('id', i)}: a solution cell starts with '# Solution NN.k' and assigns "
                             f"solution_NN_k")
        out.append((i, m.group(1), v[-1]))
    return out


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None = None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        m["points"] = points
    return m


def to_assignment(nb):
    """The nbgrader source (instructor) version of a lesson notebook ``nb`` (an ``nbformat`` node; not modified).

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "# Solution 02.1: soft-thresholding.\\nsolution_02_1 = 2.0", metadata={"tags": ["solution"]})])
    >>> a = to_assignment(nb)
    >>> print(a.cells[0].source)
    # Exercise 02.1: assign your answer to solution_02_1 (the question is in the exercise box above).
    ### BEGIN SOLUTION
    # Solution 02.1: soft-thresholding.
    solution_02_1 = 2.0
    ### END SOLUTION
    >>> "check_answer('02.1', solution_02_1)" in a.cells[1].source, a.cells[1].metadata["nbgrader"]["points"]
    (True, 1)
    """
    import nbformat

    out = copy.deepcopy(nb)
    cells = []
    found = {i: (ex, var) for i, ex, var in solution_cells(nb)}
    for i, cell in enumerate(out.cells):
        if i not in found:
            cells.append(cell)
            continue
        ex, var = found[i]
        tag = ex.replace(".", "_")
        cell.source = (f"# Exercise {ex}: assign your answer to {var} (the question is in the exercise box above).\n"
                       f"### BEGIN SOLUTION\n{cell.source.rstrip()}\n### END SOLUTION")
        cell.metadata.setdefault("jupyter", {})["source_hidden"] = False   # the student writes here
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "solution"]
        cell.metadata["nbgrader"] = _meta(f"solution_{tag}", solution=True, grade=False, locked=False)
        test = nbformat.v4.new_code_cell(
            f"# Autograded: exercise {ex} ({POINTS} point{'s' if POINTS != 1 else ''}).\n"
            f"### BEGIN HIDDEN TESTS\nfrom pnp_lessons.exercises import check_answer\n"
            f"ok, why = check_answer('{ex}', {var})\nassert ok, why\n### END HIDDEN TESTS",
            metadata={"nbgrader": _meta(f"test_{tag}", solution=False, grade=True, locked=True, points=POINTS)})
        cells += [cell, test]
    out.cells = cells
    for c in out.cells:
        if c.cell_type == "code":
            # the in-page exercise keeps its Check button, loses Show solution; nbgrader wants a clean source
            c.source = re.sub(r"\bexercise\((['\"]\d\d\.\d+['\"])\)", r"exercise(\1, reveal=False)", c.source)
            c.outputs, c.execution_count = [], None
    return out


CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "pnp-lessons"
c.CourseDirectory.root = {root!r}
c.IncludeHeaderFooter.header = ""
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ExecutePreprocessor.timeout = 600
c.Execute.timeout = 600
'''


def build_course(course: Path | str, lessons=None, generate: bool = True) -> list[Path]:
    """Write an nbgrader course in ``course``: ``nbgrader_config.py``, ``source/<lesson>/<lesson>.ipynb`` (the
    instructor versions) for each lesson notebook (default: every one with exercises), and, with ``generate``, run
    ``nbgrader generate_assignment`` for each, which writes the student versions to ``release/``. Returns the
    student notebooks (or the sources without ``generate``)."""
    import nbformat

    course = Path(course).resolve()
    (course / "source").mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course)))
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if lessons is None else [
        NOTEBOOKS / (s if s.endswith(".ipynb") else s + ".ipynb") for s in lessons]
    written = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        if not solution_cells(nb):
            continue
        dst = course / "source" / p.stem / p.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(to_assignment(nb), dst)
        written.append(dst)
        if generate:
            nbgrader(course, "generate_assignment", p.stem, "--force")
    if generate:
        return [course / "release" / p.parent.name / p.name for p in written]
    return written


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` (raises with its output when it fails)."""
    bindir = Path(sys.executable).parent        # nbgrader runs `alembic` (its database migrations) from PATH
    exe = bindir / "nbgrader"
    cmd = [str(exe) if exe.exists() else "nbgrader", *args]
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc
