"""Auto-checked exercises of the lessons.

The checking is a plain function, testable without any widget::

    >>> ok, msg = check_answer("02.1", "2")
    >>> ok
    True
    >>> check_answer("02.1", "3")[0]
    False

:func:`exercise` shows one exercise as a small widget (question, answer box or dropdown, Check
button, feedback): a wrong answer gets the exercise's hint, a right one a confirmation.
Solutions live in hidden notebook cells (collapsed in Lab, invisible in Voilà), not here.

Each exercise has an id ``'LL.n'`` (lesson number, exercise number). Numeric answers accept
``2``, ``2.0``, ``1/2``, ``1e-3`` and a relative/absolute tolerance; choice answers are one of
the listed options.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

__all__ = ["Exercise", "EXERCISES", "get", "check_answer", "parse_number", "for_lesson", "exercise", "register",
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


def check_answer(ex: "Exercise | str", answer) -> tuple[bool, str]:
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


# --------------------------------------------------------------------------- the exercises
_ALL = [
    # 01 inverse problems
    Exercise(
        "01.1",
        "Every blur kernel k of the lesson is normalised: its entries sum to 1. What is |K̂(0)|, the "
        "transfer function at frequency zero (the gain on a constant image)?",
        1.0,
        hint="K̂(ω) = Σₙ k[n] e^{−i ω·n}; at ω = 0 every exponential is 1.",
        confirmation="K̂(0) = Σ k = 1: a blur keeps the mean brightness of the image, so low frequencies are "
                     "easy to invert; the trouble is at high frequencies, where |K̂| is small.",
    ),
    Exercise(
        "01.2",
        "The naive inverse divides the spectrum of y by K̂. At a frequency where |K̂(ω)| = 0.002, the noise "
        "spectrum has modulus 0.05. What modulus does the noise have in the naive inverse at that frequency?",
        25.0,
        hint="ŷ/K̂ = x̂ + ε̂/K̂: divide the noise modulus by |K̂|.",
        confirmation="0.05 / 0.002 = 25: noise that was invisible becomes 500 times larger than it was. "
                     "This is the noise amplification that makes the naive inverse useless.",
    ),
    Exercise(
        "01.3",
        "Which sentence explains why x = F⁻¹(ŷ / K̂) fails on a blurred, noisy image?",
        "K̂ is close to zero at high frequencies, so the division amplifies the noise there",
        hint="Look at the spectrum |K̂| on a log scale in the widget, then at the naive inverse with σ = 0.",
        confirmation="With no noise the division is harmless (the widget's naive inverse is nearly exact at "
                     "σ = 0); with noise, tiny |K̂| turns tiny noise into huge oscillations.",
        choices=(
            "The FFT is only an approximation of the convolution",
            "K̂ is close to zero at high frequencies, so the division amplifies the noise there",
            "The kernel is not symmetric",
            "The image is too small",
        ),
    ),
    # 02 proximal operators
    Exercise(
        "02.1",
        "Compute prox_{τ|·|}(3) for τ = 1 (the prox of the absolute value at x = 3).",
        2.0,
        hint="The prox of τ|·| is soft-thresholding: move x towards 0 by τ, and stop at 0.",
        confirmation="sign(3)·max(|3| − 1, 0) = 2: soft-thresholding shrinks by τ.",
    ),
    Exercise(
        "02.2",
        "The Moreau envelope of the indicator of [−1, 1] is M(x) = dist(x, [−1, 1])² / (2τ). "
        "What is M(3) for τ = 2?",
        1.0,
        hint="The prox of an indicator is the projection: p = 1. Then M(3) = 0 + (3 − p)²/(2τ).",
        confirmation="(3 − 1)² / (2·2) = 1: the envelope replaces the wall ∞ of the indicator by a smooth "
                     "quadratic that gets steeper as τ shrinks.",
    ),
    Exercise(
        "02.3",
        "For a convex F = f + λR with ∇f L-Lipschitz and step 1/L, how fast does F(x_k) − F* decrease?",
        "ISTA as O(1/k), FISTA as O(1/k²)",
        hint="Compare the two curves of the race: one gap shrinks like 1/k, the other like 1/k² "
             "(Beck & Teboulle 2009, Thm. 3.1 and Thm. 4.4).",
        confirmation="ISTA's objective gap is O(1/k) (Beck & Teboulle 2009, Thm. 3.1); FISTA's momentum "
                     "gives O(1/k²) (Thm. 4.4) at the same cost per iteration.",
        choices=(
            "both as O(1/k)",
            "ISTA as O(1/k), FISTA as O(1/k²)",
            "ISTA as O(1/k²), FISTA as O(1/k)",
            "both linearly, as O(ρᵏ)",
        ),
    ),
    # 04 kernel denoisers
    Exercise(
        "04.1",
        "W = D⁻¹K with D = diag(K1). What does every row of W sum to?",
        1.0,
        hint="Row i of W is row i of K divided by its own sum D_ii.",
        confirmation="Each row is divided by its own sum, so W1 = 1: W is row-stochastic, and Wx is a "
                     "weighted average of the pixels of the window.",
    ),
    Exercise(
        "04.2",
        "With a 11 × 11 search window Ω_i, how many non-zero weights does the row of an interior pixel have "
        "(Assumption 2(i): W_ij > 0 exactly for j ∈ Ω_i)?",
        121.0,
        rtol=0.0, atol=0.0,
        hint="Every pixel of the window, the centre included, gets a positive weight exp(−d²/h²) > 0.",
        confirmation="11·11 = 121 weights are positive, all others are zero. Near the border the window is "
                     "clipped, so corner pixels have only 6·6 = 36.",
    ),
    Exercise(
        "04.3",
        "Which of these matrices is symmetric?",
        "K and the DSG-NLM matrix, but not W = D⁻¹K",
        hint="K_ij depends on the distance between the patches of i and j, which is symmetric in i and j. "
             "Dividing row i by D_ii and row j by D_jj breaks it unless D_ii = D_jj.",
        confirmation="K is symmetric; W = D⁻¹K is not (the widget shows max|W − Wᵀ| > 0); DSG-NLM rescales K "
                     "symmetrically, diag(d) K diag(d), and is symmetric and doubly stochastic.",
        choices=(
            "W = D⁻¹K",
            "K and the DSG-NLM matrix, but not W = D⁻¹K",
            "none of them",
            "all of them",
        ),
    ),
    # 05 PnP-ISTA convergence
    Exercise(
        "05.1",
        "Theorem 5 of Gavaskar & Chaudhury: for inpainting, PnP-ISTA converges from any start if 0 < γ < b. "
        "What is b?",
        1.0,
        hint="For inpainting Q_ij is W_ij or 0, and the proof can take α_i = β_ij = …",
        confirmation="γ ∈ (0, 1) is enough (Theorem 5): the same bound 1/L as ISTA, since ‖AᵀA‖ = L = 1. "
                     "Experiments (Fig. 2) show convergence up to γ = 2 as well.",
    ),
    Exercise(
        "05.2",
        "If ρ(P) = 0.9, the error e_k = x_k − x* shrinks roughly like 0.9ᵏ. About how many iterations does it "
        "take to divide the error by 1000?",
        math.log(1e-3) / math.log(0.9),
        rtol=0.05,
        hint="Solve 0.9ᵏ = 10⁻³ for k: k = ln(10⁻³)/ln(0.9).",
        confirmation="k = ln(10⁻³)/ln(0.9) ≈ 66 iterations: the closer ρ(P) is to 1, the slower the "
                     "linear convergence.",
    ),
    Exercise(
        "05.3",
        "For inpainting (AᵀA = diag(m), m_j = 1 when pixel j is observed), what is Q_ij, with Q = W AᵀA?",
        "W_ij if pixel j is observed, 0 otherwise",
        hint="Multiplying W on the right by a diagonal matrix scales its columns.",
        confirmation="Q = W diag(m) keeps the columns of the observed pixels: this is why Assumption 2(iii) "
                     "holds as soon as every window sees an observed pixel (Proposition 3).",
        choices=(
            "W_ij for every j",
            "W_ij if pixel j is observed, 0 otherwise",
            "W_ij if pixel i is observed, 0 otherwise",
            "1 if j ∈ Ω_i, 0 otherwise",
        ),
    ),
]

EXERCISES: dict[str, Exercise] = {e.id: e for e in _ALL}
"""Every exercise by id: those above, plus those a lesson module adds with :func:`register`."""


def register(*exercises: Exercise) -> list[str]:
    """Add exercises (e.g. defined next to a lesson's widgets) to :data:`EXERCISES`; idempotent.

    Raises ValueError when a *different* exercise already has the same id.
    """
    for e in exercises:
        if not isinstance(e, Exercise):
            raise TypeError(f"register takes Exercise objects, got {type(e).__name__}")
        old = EXERCISES.setdefault(e.id, e)
        if old != e:
            raise ValueError(f"exercise id {e.id!r} is already used by another exercise")
    return [e.id for e in exercises]


def _load_lesson(lesson: str) -> None:
    """Import ``pnp_lessons.widgets.lessons.lessonLL`` (which may register exercises); ignore failures."""
    import importlib

    try:
        importlib.import_module(f"pnp_lessons.widgets.lessons.lesson{lesson}")
    except Exception:   # a lesson module that is missing or cannot load has no exercises to offer
        pass


def load_all() -> dict[str, Exercise]:
    """Import every lesson module that exists (so that their exercises are registered); returns :data:`EXERCISES`."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent / "widgets" / "lessons"
    for f in sorted(folder.glob("lesson[0-9][0-9].py")):
        _load_lesson(f.stem[-2:])
    return EXERCISES


def get(exercise_id: str) -> Exercise:
    """The exercise with this id (``'02.1'``), loading its lesson module if needed; KeyError otherwise."""
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


# --------------------------------------------------------------------------- the widget
def exercise(exercise_id: str):
    """The exercise as a widget: question, answer box (or dropdown), Check button and feedback.

    The widget has ``.answer`` (the input), ``.check`` (the button) and ``.feedback`` (HTML with
    ``role='status'``); ``.last`` holds the last ``(ok, message)``.
    """
    import ipywidgets as W

    ex = get(exercise_id)
    title = W.HTML(f"<div class='pnp-exercise-q'><b>Exercise {html.escape(ex.id)}.</b> "
                   f"{html.escape(ex.question)}</div>")
    if ex.kind == "choice":
        answer = W.RadioButtons(options=list(ex.choices), value=None, layout=W.Layout(width="auto"))
    else:
        answer = W.Text(placeholder="your answer, e.g. 0.5 or 1/2", continuous_update=False,
                        layout=W.Layout(width="220px"))
    check = W.Button(description="Check", icon="check", button_style="primary",
                     tooltip="check your answer")
    feedback = W.HTML("<div class='pnp-exercise-feedback' role='status'></div>")
    box = W.VBox([title, W.HBox([answer, check]) if ex.kind == "number" else W.VBox([answer, check]), feedback],
                 layout=W.Layout(border="1px solid #ccd", padding="6px 10px", margin="6px 0"))
    box.add_class("pnp-exercise")
    box.exercise, box.answer, box.check, box.feedback, box.last = ex, answer, check, feedback, None

    def on_check(_=None):
        ok, msg = check_answer(ex, answer.value)
        box.last = (ok, msg)
        colour, mark = ("#e7f6e7", "✔") if ok else ("#fff1e0", "✘")
        feedback.value = (f"<div class='pnp-exercise-feedback' role='status' style='background:{colour};"
                          f"padding:4px 8px;border-radius:4px'>{mark} {html.escape(msg)}</div>")

    check.on_click(on_check)
    if ex.kind == "number":
        answer.observe(lambda ch: on_check() if ch["new"] != "" else None, "value")  # Enter also checks
    return box
