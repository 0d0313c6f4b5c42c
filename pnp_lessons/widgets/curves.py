"""Live curves: objective, residual ‖xₖ − xₖ₋₁‖ on a log scale, and PSNR, as inline SVG.

One :class:`ipywidgets.HTML` widget holds three small charts; each update replaces its
``value`` (a few kB of SVG) in one go, so the charts are redrawn in place without flicker and
without matplotlib, ``clear_output`` or any extra front-end package. A pinned run is drawn
dashed in grey beside the live one.
"""

from __future__ import annotations


import ipywidgets as W

from ..figures import svg_chart

__all__ = ["LiveCurves", "svg_chart"]  # svg_chart lives in pnp_lessons.figures

CHARTS = [("objective", "objective F(xₖ)", False), ("residual", "residual ‖xₖ − xₖ₋₁‖ (log)", True),
          ("psnr", "PSNR (dB)", False)]


class LiveCurves(W.HTML):
    """Objective, log residual and PSNR of the current run (and of a pinned run, dashed)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pinned_history: list[dict] | None = None
        self.update([])

    def update(self, history: list[dict]):
        """Redraw from the run's history (list of iterate summaries)."""
        charts = []
        has_z = any(h.get("psnr_z") is not None for h in history)
        for key, title, log in CHARTS:
            series = []
            if self.pinned_history:
                series.append(([h.get(key) for h in self.pinned_history], "#999", True))
            series.append(([h.get(key) for h in history], "#1f77b4", False))
            if key == "psnr" and has_z:   # GS-PnP: the reported image is zₖ, drawn in orange
                series.append(([h.get("psnr_z") for h in history], "#d55e00", False))
                title = "PSNR (dB): xₖ blue, zₖ orange"
            # GS-PnP: the iterations where backtracking rejected a trial step, flagged on the objective's axis
            marks = [i + 1 for i, h in enumerate(history) if h.get("rejected")] if key == "objective" else None
            charts.append(svg_chart(title, series, log=log, marks=marks))
        legend = ("<div style='font-size:11px;color:#555'>solid: current run B"
                  + (" · dashed grey: pinned A" if self.pinned_history else "")
                  + (" · GS-PnP reports zₖ = xₖ − τλ∇g_σ(xₖ) (orange)" if has_z else "") + "</div>")
        self.value = ("<div class='pnp-curves' style='display:flex;gap:6px;flex-wrap:wrap'>"
                      + "".join(charts) + "</div>" + legend)
