"""What the lesson widgets share: labelled sliders with an exact-value box, figures with a text
alternative, and :class:`LessonWidget`, a base class that runs its computation in the shared
:class:`~pnp_lessons.widgets.runner.LiveRunner` (cancel on change, debounce, busy flag, Stop).

Figures are drawn with matplotlib's object-oriented API on an Agg canvas (no pyplot, so it is
safe in the runner's worker thread) and shown as PNG in an :class:`ipywidgets.Image`; every
figure has a visible caption under it that is its text alternative (see :class:`ImageSlot` for why not a tooltip).
"""

from __future__ import annotations

import html
from typing import Any
from collections.abc import Callable

import ipywidgets as W

from .controls import ParamControl
from .panel import SLOT_CSS
from .panel import ImageSlot as _PanelSlot
from ..figures import figure_html, figure_png, new_figure  # noqa: F401 (the lessons' kit)
from ..runtime import is_fast
from ..params import Param, SettingsError, parse_param
from .runner import Frame, LiveRunner

__all__ = ["Slider", "parse", "FigureSlot", "ImageSlot", "figure_png", "figure_html", "new_figure", "LessonWidget",
           "OneShot", "is_fast", "STYLE"]

STYLE = """<style>
.pnp-lesson img { image-rendering: auto; }""" + SLOT_CSS + """
.pnp-caption { font-size: 12px; line-height: 1.35; color: #333; }
.pnp-field-msg { color: #a33; font-size: 12px; }
.pnp-busy { font-weight: 600; font-size: 12px; }
.pnp-readout { font-size: 13px; }
.pnp-readout td, .pnp-readout th { padding: 1px 8px 1px 0; text-align: left; }
</style>"""


# --------------------------------------------------------------------------- sliders
# A typed value for a lesson slider is checked exactly like the playground's.
parse = parse_param


class Slider(ParamControl):
    """A slider labelled with symbol and meaning (``'τ (prox step)'``), plus a box for an exact value.

    The playground's :class:`~pnp_lessons.widgets.controls.ParamControl` for a lesson's own
    :class:`~pnp_lessons.params.Param`: ``value`` follows the slider (observe it); a
    typed value that is refused is not applied, the box goes back to the current value and a
    message says why.
    """

    def __init__(self, param: Param, value=None, continuous_update: bool = True, width: str = "380px"):
        super().__init__(param, value, slider_width=width, continuous_update=continuous_update)


class ImageSlot(_PanelSlot):
    """:class:`pnp_lessons.widgets.panel.ImageSlot` whose caption is *not* copied to the image's ``tooltip``.

    The front-end of ipywidgets shipped with Voilà here (``@jupyter-widgets/jupyterlab-manager`` 5.0.16)
    crashes in ``ImageView.updateTooltip`` when an Image has a non-empty tooltip (it reads the Image's
    non-existent ``description``), and the whole image is replaced by "Could not create a view". The
    visible caption right under the picture is the text alternative instead.
    """

    def set_caption(self, caption: str):
        if caption != self.caption_text:
            self.caption_text = caption
            self.caption.value = f"<div class='pnp-caption' role='note'>{html.escape(caption)}</div>"


class FigureSlot(W.VBox):
    """An image with a caption under it that is its text alternative (no ``tooltip``: see :class:`ImageSlot`)."""

    def __init__(self, width: str | None = None):
        self.image = W.Image(format="png", layout=W.Layout(width=width) if width else W.Layout())
        self.caption = W.HTML("")
        self.caption_text = ""
        super().__init__([self.image, self.caption], layout=W.Layout(width=width) if width else W.Layout())
        self.add_class("pnp-lesson")

    def show(self, png: bytes | None, caption: str):
        if png is not None:
            self.image.value = png
        self.caption_text = caption
        self.caption.value = f"<div class='pnp-caption' role='note'>{html.escape(caption)}</div>"

    def show_figure(self, fig, caption: str):
        self.show(figure_png(fig), caption)


# --------------------------------------------------------------------------- running computations
class OneShot:
    """The smallest record of the iterate protocol: one result, already done (what ``LiveRunner`` needs)."""

    def __init__(self, result: Any, k: int = 1):
        self.result = result
        self.k = k
        self.status = "converged"
        self.message = ""

    @property
    def done(self) -> bool:
        return True

    def summary(self) -> dict:
        return {"k": self.k, "status": self.status}


def _once(fn: Callable[[Any], Any], settings):
    yield OneShot(fn(settings))


class LessonWidget(W.VBox):
    """Base class: controls → :meth:`settings` → (worker thread) :meth:`compute` → :meth:`render`.

    Subclasses build their controls and outputs, call ``super().__init__(children)``, and
    implement :meth:`settings` (a plain value read from the controls), :meth:`compute` (runs in
    the worker thread: math only, returns anything) and :meth:`render` (sets widget traits from
    the result). For an iterative method, override :meth:`iterate` to return a generator of
    iterate records instead, and :meth:`on_frame` to draw streamed frames.

    Every change calls :meth:`refresh`, which cancels the running computation and starts the new
    one after ``debounce`` seconds. With ``wait_first=True`` (and always in CI-fast mode) the
    constructor waits for the first result, so the page shows it without any thread left running.
    """

    debounce = 0.15
    wait_first = True

    def __init__(self, children, autostart: bool = True):
        self.status = W.HTML("<span class='pnp-busy' role='status'>idle</span>")
        self.stop_button = W.Button(description="Stop", icon="stop", tooltip="stop the running computation",
                                    layout=W.Layout(width="90px"))
        self.stop_button.on_click(lambda _: self.stop())
        self.error = W.HTML("")
        self.runner = LiveRunner(self._start, self._frame, on_busy=self._busy, debounce=self.debounce)
        self.frames = 0
        self.last_result = None
        super().__init__([W.HTML(STYLE)] + list(children) + [W.HBox([self.stop_button, self.status]), self.error])
        if autostart:
            self.refresh()
            if self.wait_first or is_fast():
                self.wait(300)

    # -- to override
    def settings(self):
        return None

    def compute(self, settings):  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, result):  # pragma: no cover - abstract
        raise NotImplementedError

    def iterate(self, settings):
        """A generator of iterate records; default: one :class:`OneShot` holding :meth:`compute`'s result."""
        return _once(self.compute, settings)

    def on_frame(self, frame: Frame):
        """Draw a frame; default: render the one-shot result."""
        if frame.record is not None and isinstance(frame.record, OneShot):
            self.last_result = frame.record.result
            self.render(frame.record.result)

    # -- machinery
    def refresh(self, *_):
        """Cancel what is running and compute the current settings (after the debounce)."""
        try:
            s = self.settings()
        except SettingsError as e:
            self.error.value = f"<div class='pnp-field-msg' role='alert'>{html.escape(str(e))}</div>"
            return
        self.runner.submit(s)

    def _start(self, settings):
        return None, self.iterate(settings)

    def _frame(self, frame: Frame):
        self.frames += 1
        if frame.final and frame.status == "error":
            self.error.value = f"<div class='pnp-field-msg' role='alert'>{html.escape(frame.message)}</div>"
            return
        self.error.value = ""
        self.on_frame(frame)

    def _busy(self, busy: bool):
        self.status.value = ("<span class='pnp-busy' role='status'>⏳ computing…</span>" if busy
                             else "<span class='pnp-busy' role='status'>✓ up to date</span>")

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def stop(self):
        self.runner.stop()

    def wait(self, timeout: float | None = 60) -> bool:
        """Wait until the computation has finished and the worker thread has ended."""
        return self.runner.wait(timeout)

    def close(self):
        self.runner.close()
        super().close()
