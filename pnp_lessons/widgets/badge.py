"""The theory badge: *guarantee holds*, *outside the proven range* or *no guarantee* beside a live run's status,
with the theorem (or the reason) on hover and for screen readers. What it says comes from
:mod:`pnp_lessons.solvers.guarantees` (widget-free); this module only draws it."""

from __future__ import annotations

import html

from ..solvers.guarantees import STATES

__all__ = ["badge_html"]


BADGE_STYLE = {"holds": "color:#1b5e20;border-color:#2e7d32", "outside": "color:#8a4b00;border-color:#b45f06",
               "none": "color:#444;border-color:#888"}


def badge_html(state: str, text: str) -> str:
    """The theory badge: its words (guarantee holds / outside the proven range / no guarantee) and, on hover and
    for screen readers, the theorem or the reason."""
    return (f"<span class='pnp-badge pnp-badge-{state}' role='note' title='{html.escape(text, quote=True)}' "
            f"aria-label='{html.escape(STATES[state] + ': ' + text, quote=True)}' style='border:1px solid;"
            f"border-radius:9px;padding:0 7px;font-size:12px;{BADGE_STYLE[state]}'>{STATES[state]}</span>")
