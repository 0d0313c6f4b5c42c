"""Live widgets: controls, image panel, curves, the live runner and the composed playground.

Modules (one job each):

* :mod:`~pnp_lessons.widgets.problems` — plain settings dict → problem and solver generator (no widgets);
* :mod:`~pnp_lessons.widgets.runner` — :class:`LiveRunner`, a cancellable, debounced worker thread;
* :mod:`~pnp_lessons.widgets.controls` — labelled sliders with exact-value boxes, choices, upload, Reset;
* :mod:`~pnp_lessons.widgets.panel` — observation | iterate | ground truth with captions;
* :mod:`~pnp_lessons.widgets.curves` — objective, log residual and PSNR as in-place SVG;
* :mod:`~pnp_lessons.widgets.playground` — :class:`Playground`, all of the above composed.

The math modules never import this package. Names are imported lazily so that
``import pnp_lessons.widgets.problems`` does not load ipywidgets.
"""

import importlib

_LAZY = {
    "Playground": "playground",
    "LiveRunner": "runner",
    "Frame": "runner",
    "Controls": "controls",
    "ParamControl": "controls",
    "ImagePanel": "panel",
    "LiveCurves": "curves",
    "ProblemCache": "problems",
    "default_settings": "problems",
    "start": "problems",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
