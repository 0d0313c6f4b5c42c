"""nbgrader round trip on a lesson: the instructor version comes from the lesson notebook, ``nbgrader
generate_assignment`` writes a student version without any solution, a filled-in student copy is autograded to
full marks by the same checks as the in-page exercises, and a wrong answer loses its point."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from pnp_lessons.exercises import check_answer
from pnp_lessons.grading import NOTEBOOKS, build_course, nbgrader, solution_cells

pytest.importorskip("nbgrader", reason="nbgrader is in the test extra (make test installs it)")

LESSON = "03_plug_and_play"


def test_every_lesson_solution_cell_is_gradable():
    """Each solution cell names its exercise and assigns solution_NN_k; the instructor version pairs it with one
    autograded test cell."""
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = solution_cells(nb)
        if path.stem == "00_welcome":
            assert not cells
            continue
        assert 2 <= len(cells) <= 3, path.name
        assert {ex[:2] for _, ex, _ in cells} == {path.stem[:2]}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    released = build_course(root, [LESSON])
    return root, released


def _answers(source: Path) -> dict[str, str]:
    """grade_id → the instructor's solution cell source."""
    nb = nbformat.read(source, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def test_the_student_version_has_no_solution(course):
    root, released = course
    assert released == [root / "release" / LESSON / f"{LESSON}.ipynb"] and released[0].exists()
    student = released[0].read_text()
    source = root / "source" / LESSON / f"{LESSON}.ipynb"
    for grade_id, body in _answers(source).items():
        solution = body.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
        for line in solution.strip().splitlines():
            assert line.strip() not in student, f"{grade_id}: solution text {line.strip()!r} reached the student"
    assert "BEGIN HIDDEN TESTS" not in student and "check_answer" not in student
    # the in-page exercises stay, without their Show solution button
    assert student.count("reveal=False") == 3 and 'exercise(\\"03.1\\")' not in student
    assert student.count("raise NotImplementedError()") == len(_answers(source))


def _submit(root: Path, student: str, fill) -> Path:
    """Copy the released notebook to submitted/<student>/ with each solution cell replaced by ``fill(grade_id,
    instructor source)``."""
    src = nbformat.read(root / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    answers = _answers(root / "source" / LESSON / f"{LESSON}.ipynb")
    for c in src.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = fill(gid, answers[gid])
    dst = root / "submitted" / student / LESSON / f"{LESSON}.ipynb"
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(src, dst)
    return dst


def _score(root: Path, student: str) -> tuple[float, float]:
    out = nbgrader(root, "export", "--to", str(root / "grades.csv"))
    assert out.returncode == 0
    import csv

    rows = [r for r in csv.DictReader(open(root / "grades.csv")) if r["student_id"] == student]
    return float(rows[0]["raw_score"]), float(rows[0]["max_score"])


def test_a_filled_copy_gets_full_marks_and_a_wrong_answer_loses_its_point(course):
    root, _ = course
    _submit(root, "ada", lambda gid, body: body.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", ""))
    nbgrader(root, "autograde", LESSON, "--student", "ada", "--force")
    score, total = _score(root, "ada")
    assert total == 3 and score == total, (score, total)

    def one_wrong(gid, body):
        body = body.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", "")
        return body + "\nsolution_03_1 = 0.5   # wrong" if gid == "solution_03_1" else body

    _submit(root, "bob", one_wrong)
    nbgrader(root, "autograde", LESSON, "--student", "bob", "--force")
    assert _score(root, "bob") == (2.0, 3.0)
    assert not check_answer("03.1", 0.5)[0]
    feedback = json.dumps(nbformat.read(root / "autograded" / "bob" / LESSON / f"{LESSON}.ipynb", as_version=4))
    assert "Not quite" in feedback, "the autograded copy should carry the exercise's hint"
    shutil.rmtree(root / "autograded", ignore_errors=True)
