"""One exercise as a small widget: question, answer box (or choices), Check button and feedback, and a Show
solution button that reveals the answer only when asked.

The checking is :func:`pnp_lessons.exercises.check_answer` (widget-free, tested on its own); this module only shows
it. A wrong answer gets the exercise's hint, a right one a confirmation that says why. The nbgrader student
versions (:mod:`pnp_lessons.grading`) call ``exercise(id, reveal=False)``: no Show solution button there.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..exercises import check_answer, get

__all__ = ["exercise"]


def exercise(exercise_id: str, reveal: bool = True):
    """The exercise as a widget: question, answer box (or dropdown), Check button and feedback; with ``reveal``,
    a Show solution button that shows the answer and why (``.solution``) when clicked, and not before.

    The widget has ``.answer`` (the input), ``.check`` (the button) and ``.feedback`` (HTML with
    ``role='status'``); ``.last`` holds the last ``(ok, message)``; ``.show`` is the Show solution button (None
    without ``reveal``).
    """
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
    solution = W.HTML("")
    buttons = [check]
    show = None
    if reveal:
        show = W.Button(description="Show solution", icon="eye", tooltip="show the answer and why (try first!)")
        buttons.append(show)
    row = W.HBox([answer, *buttons]) if ex.kind == "number" else W.VBox([answer, W.HBox(buttons)])
    box = W.VBox([title, row, feedback, solution],
                 layout=W.Layout(border="1px solid #ccd", padding="6px 10px", margin="6px 0"))
    box.add_class("pnp-exercise")
    box.exercise, box.answer, box.check, box.feedback, box.last = ex, answer, check, feedback, None
    box.show, box.solution = show, solution

    def on_show(_=None):
        shown = ex.answer if ex.kind == "choice" else f"{float(ex.answer):g}"
        solution.value = (f"<div class='pnp-exercise-solution' role='status' style='background:#eef3fb;"
                          f"padding:4px 8px;border-radius:4px'><b>Solution:</b> {html.escape(shown)}. "
                          f"{html.escape(ex.confirmation)}</div>")

    if show is not None:
        show.on_click(on_show)

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
