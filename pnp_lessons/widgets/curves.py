"""Live curves: objective, residual ‖xₖ − xₖ₋₁‖ on a log scale, and PSNR, as inline SVG.

One :class:`ipywidgets.HTML` widget holds three small charts; each update replaces its
``value`` (a few kB of SVG) in one go, so the charts are redrawn in place without flicker and
without matplotlib, ``clear_output`` or any extra front-end package. A pinned run is drawn
dashed in grey beside the live one.
"""

from __future__ import annotations

import html
import math

import ipywidgets as W

__all__ = ["LiveCurves", "svg_chart"]

CHARTS = [("objective", "objective F(xₖ)", False), ("residual", "residual ‖xₖ − xₖ₋₁‖ (log)", True),
          ("psnr", "PSNR (dB)", False)]
MAX_POINTS = 300


def _clean(values, log: bool) -> list[tuple[int, float]]:
    pts = []
    for i, v in enumerate(values):
        if v is None:
            continue
        v = float(v)
        if not math.isfinite(v) or (log and v <= 0):
            continue
        pts.append((i + 1, math.log10(v) if log else v))
    if len(pts) > MAX_POINTS:
        step = len(pts) / MAX_POINTS
        pts = [pts[int(i * step)] for i in range(MAX_POINTS)] + [pts[-1]]
    return pts


def _fmt(v: float, log: bool) -> str:
    if log:
        v = 10 ** v
    return f"{v:.3g}"


def svg_chart(title: str, series: list[tuple[list, str, bool]], log: bool = False, w: int = 228,
              h: int = 150) -> str:
    """An SVG line chart. ``series`` = [(values, colour, dashed)], values indexed by iteration.

    Examples
    --------
    >>> s = svg_chart("PSNR (dB)", [([20.0, 21.5, 22.0], "#1f77b4", False)])
    >>> s.startswith("<svg") and "polyline" in s
    True
    """
    ml, mr, mt, mb = 46, 8, 18, 20
    pw, ph = w - ml - mr, h - mt - mb
    cleaned = [(_clean(v, log), c, d) for v, c, d in series]
    allpts = [p for pts, _, _ in cleaned for p in pts]
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
           f"aria-label='{html.escape(title)}' style='font: 10px sans-serif'>",
           f"<text x='{ml}' y='12' font-weight='600'>{html.escape(title)}</text>",
           f"<rect x='{ml}' y='{mt}' width='{pw}' height='{ph}' fill='#fff' stroke='#bbb'/>"]
    if not allpts:
        out.append(f"<text x='{ml + 6}' y='{mt + ph / 2}' fill='#888'>no values for this solver</text></svg>")
        return "".join(out)
    xmax = max(max(p[0] for p in allpts), 2)
    ys = [p[1] for p in allpts]
    ylo, yhi = min(ys), max(ys)
    if yhi - ylo < 1e-12:
        pad = abs(yhi) * 0.05 or 1.0
        ylo, yhi = ylo - pad, yhi + pad
    else:
        pad = 0.05 * (yhi - ylo)
        ylo, yhi = ylo - pad, yhi + pad

    def X(i):
        return ml + pw * (i - 1) / (xmax - 1)

    def Y(v):
        return mt + ph * (1 - (v - ylo) / (yhi - ylo))

    for v, anchor in ((yhi, mt + 8), (ylo, mt + ph)):
        out.append(f"<text x='{ml - 3}' y='{anchor}' text-anchor='end' fill='#555'>{_fmt(v, log)}</text>")
    out.append(f"<text x='{ml}' y='{h - 5}' fill='#555'>1</text>")
    out.append(f"<text x='{ml + pw}' y='{h - 5}' text-anchor='end' fill='#555'>k = {xmax}</text>")
    for pts, colour, dashed in cleaned:
        if not pts:
            continue
        coords = " ".join(f"{X(i):.1f},{Y(v):.1f}" for i, v in pts)
        dash = " stroke-dasharray='4 3'" if dashed else ""
        out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.6'{dash} points='{coords}'/>")
    out.append("</svg>")
    return "".join(out)


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
            charts.append(svg_chart(title, series, log=log))
        legend = ("<div style='font-size:11px;color:#555'>solid: current run B"
                  + (" · dashed grey: pinned A" if self.pinned_history else "")
                  + (" · GS-PnP reports zₖ = xₖ − τλ∇g_σ(xₖ) (orange)" if has_z else "") + "</div>")
        self.value = ("<div class='pnp-curves' style='display:flex;gap:6px;flex-wrap:wrap'>"
                      + "".join(charts) + "</div>" + legend)
