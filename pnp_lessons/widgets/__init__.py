"""Live widgets: controls, image panel, curves, the live runner and the composed playground.

Modules (one job each):

* :mod:`~pnp_lessons.widgets.runner` — :class:`LiveRunner`, a cancellable, debounced worker thread;
* :mod:`~pnp_lessons.widgets.controls` — labelled sliders with exact-value boxes, choices, upload, Reset;
* :mod:`~pnp_lessons.widgets.panel` — observation | iterate | ground truth with captions;
* :mod:`~pnp_lessons.widgets.curves` — objective, log residual and PSNR as in-place SVG;
* :mod:`~pnp_lessons.widgets.playground` — :class:`Playground`, all of the above composed.

What they show comes from below: :mod:`pnp_lessons.problems` (settings → problem and solver generator),
:mod:`pnp_lessons.params` (the sliders' symbols and ranges), :mod:`pnp_lessons.solvers.registry` (the solver
menu). Nothing below imports this package (``tests/test_layering.py``). Names are imported lazily.
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
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
