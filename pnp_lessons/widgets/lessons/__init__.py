"""Small widgets written for one lesson each (``lesson01`` … ``lesson05``) and what they share (``common``).

They call the math modules (operators, prox, solvers, denoisers, analysis) and never the other way round;
anything that takes more than a blink runs in the shared :class:`~pnp_lessons.widgets.runner.LiveRunner`
(cancel on change, debounce, busy flag, Stop).
"""
