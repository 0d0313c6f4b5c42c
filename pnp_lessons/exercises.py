"""Auto-checked exercises of the lessons.

The checking is a plain function, testable without any widget::

    >>> ok, msg = check_answer("02.1", "2")
    >>> ok
    True
    >>> check_answer("02.1", "3")[0]
    False

:func:`pnp_lessons.widgets.exercise.exercise` shows one exercise as a small widget (question, answer box or
dropdown, Check button, feedback): a wrong answer gets the exercise's hint, a right one a confirmation.
Worked solutions live in hidden notebook cells (collapsed in Lab, invisible in Voilà); the widget's Show solution
button reveals the answer and its confirmation only when clicked (not in the nbgrader student versions); each lesson's
exercises live in ``pnp_lessons/lessons/lNN_name/exercises.py``.

Each exercise has an id ``'LL.n'`` (lesson number, exercise number). Numeric answers accept
``2``, ``2.0``, ``1/2``, ``1e-3`` and a relative/absolute tolerance; choice answers are one of
the listed options.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["Exercise", "EXERCISES", "get", "check_answer", "parse_number", "for_lesson", "register",
           "load_all"]


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    Attributes
    ----------
    id : str
        ``'LL.n'``.
    question : str
        Plain text (Unicode math), shown by the widget.
    answer : float or str
        The number, or the correct option.
    hint : str
        Shown after a wrong answer.
    confirmation : str
        Shown after a right answer: says *why* it is right.
    choices : tuple of str
        Options for a multiple-choice exercise (empty for a numeric one).
    rtol, atol : float
        Tolerances of a numeric answer: |a − answer| ≤ atol + rtol·|answer|.
    """

    id: str
    question: str
    answer: float | str
    hint: str
    confirmation: str
    choices: tuple = field(default_factory=tuple)
    rtol: float = 1e-3
    atol: float = 1e-6

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "number"


_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(text) -> float:
    """A number typed by a student: ``'2'``, ``' -0.5 '``, ``'1/2'``, ``'1e-3'``, ``'2,5'``, ``'≈ 66'``.

    Raises ValueError (with a message for the student) for anything else.

    Examples
    --------
    >>> parse_number("1/4"), parse_number("2,5"), parse_number("−3")
    (0.25, 2.5, -3.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        v = float(text)
    else:
        raw = str(text).strip().replace("−", "-").replace(",", ".").replace(" ", "").lstrip("≈~")
        if not raw:
            raise ValueError("type a number first")
        parts = raw.split("/")
        if len(parts) > 2 or not all(_NUM.match(p) for p in parts):
            raise ValueError(f"{str(text).strip()[:30]!r} is not a number; type e.g. 2, 0.5 or 1/2")
        v = float(parts[0])
        if len(parts) == 2:
            d = float(parts[1])
            if d == 0:
                raise ValueError("division by zero: type a number")
            v /= d
    if not math.isfinite(v):
        raise ValueError("type a finite number")
    return v


def check_answer(ex: Exercise | str, answer) -> tuple[bool, str]:
    """``(ok, message)``: a confirmation when ``answer`` is right, the hint when it is wrong, and a
    short request when it cannot be read (empty, not a number, not an option)."""
    ex = get(ex) if isinstance(ex, str) else ex
    if ex.kind == "choice":
        if answer is None or str(answer).strip() == "":
            return False, "Choose one of the options first."
        if str(answer) not in ex.choices:
            return False, f"{str(answer)[:40]!r} is not one of the options."
        if str(answer) == ex.answer:
            return True, f"Right. {ex.confirmation}"
        return False, f"Not quite. Hint: {ex.hint}"
    try:
        v = parse_number(answer)
    except ValueError as e:
        return False, f"Please enter a number: {e}."
    target = float(ex.answer)
    if abs(v - target) <= ex.atol + ex.rtol * abs(target):
        return True, f"Right. {ex.confirmation}"
    return False, f"Not quite. Hint: {ex.hint}"


# --------------------------------------------------------------------------- the catalogue
EXERCISES: dict[str, Exercise] = {}
"""Every exercise loaded so far, by id. Each lesson keeps its own in ``pnp_lessons/lessons/lNN_name/exercises.py``
(plain data, no widget); :func:`get`, :func:`for_lesson` and :func:`load_all` read them on demand."""


def register(*exercises: Exercise) -> list[str]:
    """Add exercises to :data:`EXERCISES` (e.g. a teacher's own); idempotent.

    Raises ValueError when a *different* exercise already has the same id.
    """
    for e in exercises:
        if not isinstance(e, Exercise):
            raise TypeError(f"register takes Exercise objects, got {type(e).__name__}")
        old = EXERCISES.setdefault(e.id, e)
        if old != e:
            raise ValueError(f"exercise id {e.id!r} is already used by another exercise")
    return [e.id for e in exercises]


def _lesson_dirs() -> dict[str, str]:
    """``{'03': 'l03_plug_and_play', ...}``: the lesson folders of :mod:`pnp_lessons.lessons`."""
    from pathlib import Path

    root = Path(__file__).resolve().parent / "lessons"
    return {d.name[1:3]: d.name for d in sorted(root.glob("l[0-9][0-9]_*")) if (d / "exercises.py").is_file()}


def _load_lesson(lesson: str) -> None:
    """Register the exercises of lesson ``LL`` from ``pnp_lessons.lessons.lLL_name.exercises`` (a lesson without
    that file has none). Widget-free: loading an exercise never imports ipywidgets."""
    import importlib

    name = _lesson_dirs().get(lesson)
    if name is not None:
        register(*importlib.import_module(f"pnp_lessons.lessons.{name}.exercises").EXERCISES)


def load_all() -> dict[str, Exercise]:
    """Load the exercises of every lesson; returns :data:`EXERCISES`."""
    for ll in _lesson_dirs():
        _load_lesson(ll)
    return EXERCISES


def get(exercise_id: str) -> Exercise:
    """The exercise with this id (``'02.1'``), loading its lesson's exercises if needed; KeyError otherwise."""
    if exercise_id not in EXERCISES and isinstance(exercise_id, str) and re.match(r"^\d\d\.", exercise_id):
        _load_lesson(exercise_id[:2])
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}") from None


def for_lesson(lesson: str | int) -> list[Exercise]:
    """The exercises of one lesson (``1``, ``'01'`` or ``'01_inverse_problems'``), in id order."""
    ll = f"{int(str(lesson)[:2]):02d}"
    _load_lesson(ll)
    return [EXERCISES[k] for k in sorted(EXERCISES) if k.startswith(ll + ".")]
