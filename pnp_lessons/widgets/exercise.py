"""One exercise as a small widget: question, answer box (or choices), Check button and feedback.

The checking is :func:`pnp_lessons.exercises.check_answer` (widget-free, tested on its own); this module only shows
it. A wrong answer gets the exercise's hint, a right one a confirmation that says why.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..exercises import check_answer, get

__all__ = ["exercise"]


def exercise(exercise_id: str):
    """The exercise as a widget: question, answer box (or dropdown), Check button and feedback.

    The widget has ``.answer`` (the input), ``.check`` (the button) and ``.feedback`` (HTML with
    ``role='status'``); ``.last`` holds the last ``(ok, message)``.
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
