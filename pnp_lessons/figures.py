"""Figures that teach, without widgets: matplotlib figures on an Agg canvas (no pyplot state, so safe in a worker
thread), their PNG bytes, a static figure with a visible caption that is its text alternative, and small inline SVG
charts (objective, residual on a log scale, PSNR) that need neither matplotlib nor a front-end package.
"""

from __future__ import annotations

import base64
import html
import io
import math

__all__ = ["new_figure", "figure_png", "figure_html", "svg_chart", "error_map", "error_scale_html", "ERROR_VMAX",
           "ERROR_SCALE_CSS", "error_caption", "OKABE_ITO"]

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
"""Line colours that stay apart for the common colour-vision deficiencies (Okabe & Ito 2008): blue, vermillion,
bluish green, reddish purple, orange, sky blue, black, yellow. Images use viridis / magma / RdBu, which are too."""

MAX_POINTS = 300
"""An SVG chart draws at most this many points of a curve (evenly subsampled, the last one kept)."""


def new_figure(width: float = 6.0, height: float = 3.0):
    """A matplotlib Figure on an Agg canvas (thread-safe: no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def figure_html(fig, alt: str, caption: str | None = None):
    """A static figure for a notebook cell: ``<img alt=…>`` plus a visible caption (IPython HTML)."""
    from IPython.display import HTML

    data = base64.b64encode(figure_png(fig)).decode("ascii")
    cap = caption if caption is not None else alt
    return HTML(f"<figure class='pnp-figure' style='margin:0'><img src='data:image/png;base64,{data}' "
                f"alt='{html.escape(alt, quote=True)}' style='max-width:100%'/>"
                f"<figcaption class='pnp-caption'>{html.escape(cap)}</figcaption></figure>")


# --------------------------------------------------------------------------- inline SVG charts
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


def svg_chart(title: str, series: list[tuple[list, str, bool]], log: bool = False, w: int = 340,
              h: int = 210, marks: list[int] | None = None, mark_label: str = "rejected trial steps",
              xlabel: str = "iteration k") -> str:
    """An SVG line chart. ``series`` = [(values, colour, dashed)], values indexed by iteration; ``marks``: the
    iterations to flag with a small triangle on the axis (GS-PnP: those where backtracking rejected a trial step).
    The title names the quantity and its unit; the x axis is labelled ``xlabel``, the y axis has its two ends and
    its middle marked (log scale: the middle in decades).

    Examples
    --------
    >>> s = svg_chart("PSNR (dB)", [([20.0, 21.5, 22.0], "#1f77b4", False)])
    >>> s.startswith("<svg") and "polyline" in s
    True
    """
    ml, mr, mt, mb = 54, 10, 22, 32
    pw, ph = w - ml - mr, h - mt - mb
    cleaned = [(_clean(v, log), c, d) for v, c, d in series]
    allpts = [p for pts, _, _ in cleaned for p in pts]
    # the text alternative says what the chart shows: each curve's length, first and last value (and the marks)
    said = []
    for pts, _, _ in cleaned:
        if pts:
            first, last = pts[0][1], pts[-1][1]
            said.append(f"{len(pts)} iterations, from {_fmt(first, log)} to {_fmt(last, log)}")
    summary = title + (": " + "; ".join(said) if said else ": no values")
    if marks:
        summary += f"; {mark_label} at iterations {', '.join(map(str, list(marks)[:10]))}"
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
           f"aria-label='{html.escape(summary, quote=True)}' style='font: 12px sans-serif'>",
           f"<text x='{ml}' y='14' font-weight='600'>{html.escape(title)}</text>",
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

    for v, anchor in ((yhi, mt + 9), ((ylo + yhi) / 2, mt + ph / 2 + 4), (ylo, mt + ph)):
        out.append(f"<text x='{ml - 4}' y='{anchor}' text-anchor='end' fill='#444'>{_fmt(v, log)}</text>")
    out.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{mt + ph / 2}' y2='{mt + ph / 2}' stroke='#eee'/>")
    out.append(f"<text x='{ml}' y='{mt + ph + 14}' fill='#444'>1</text>")
    out.append(f"<text x='{ml + pw}' y='{mt + ph + 14}' text-anchor='end' fill='#444'>{xmax}</text>")
    out.append(f"<text x='{ml + pw / 2}' y='{h - 3}' text-anchor='middle' fill='#444'>{html.escape(xlabel)}</text>")
    for pts, colour, dashed in cleaned:
        if not pts:
            continue
        coords = " ".join(f"{X(i):.1f},{Y(v):.1f}" for i, v in pts)
        dash = " stroke-dasharray='4 3'" if dashed else ""
        out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.6'{dash} points='{coords}'/>")
    flagged = [i for i in (marks or []) if 1 <= i <= xmax]
    for i in flagged:
        x, y = X(i), mt + ph
        out.append(f"<path d='M{x - 3:.1f},{y:.1f} L{x + 3:.1f},{y:.1f} L{x:.1f},{y - 6:.1f} Z' fill='#d62728'/>")
    if flagged:
        out.append(f"<text x='{ml + pw - 4}' y='{mt + 14}' text-anchor='end' fill='#d62728'>"
                   f"▲ {html.escape(mark_label)}</text>")
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- error maps
_MAGMA = None

ERROR_VMAX = 0.25
"""Top of the error maps' fixed scale (intensities on [0, 1]): pale yellow means an error of 0.25 or more."""

# magma at 0, 0.2, …, 1 (matplotlib's table): the error maps' colour bar
_MAGMA_STOPS = ("#000004", "#3b0f70", "#8c2981", "#de4968", "#fe9f6d", "#fcfdbf")


ERROR_SCALE_CSS = """
.pnp-scale { display: inline-flex; align-items: center; gap: 4px; font-size: 11px; font-weight: 400; color: #333; }
.pnp-scale span.bar { display: inline-block; width: 90px; height: 9px; border: 1px solid #999; }
"""
"""The CSS of :func:`error_scale_html` (the widgets' and the static site's stylesheets include it)."""


def error_caption(what: str, mae: float, mx: float, vmax: float = ERROR_VMAX) -> str:
    """The caption (and text alternative) of an error map of ``what`` against the ground truth x.

    Examples
    --------
    >>> error_caption("xₖ at k = 3", 0.01234, 0.5)
    '|xₖ at k = 3 − x| per pixel: magma, black = 0, pale yellow ≥ 0.25 (intensities on [0, 1]); mean 0.012, max 0.50.'
    """
    return (f"|{what} − x| per pixel: magma, black = 0, pale yellow ≥ {vmax:g} (intensities on [0, 1]); "
            f"mean {mae:.3f}, max {mx:.2f}.")


def error_scale_html(vmax: float = ERROR_VMAX) -> str:
    """The error maps' colour bar as inline HTML: magma from black (0) to pale yellow (≥ ``vmax``), its two ends
    labelled (hidden from screen readers: the maps' captions say the scale in words)."""
    bar = f"linear-gradient(to right, {', '.join(_MAGMA_STOPS)})"
    return (f"<span class='pnp-scale' aria-hidden='true'>0 <span class='bar' style='background:{bar}'></span> "
            f"≥ {vmax:g}</span>")


def error_map(x, ref, vmax: float = ERROR_VMAX):
    """``|x − ref|`` (mean over channels) as an RGB image in the magma colour map — perceptually uniform and
    readable with the common colour-vision deficiencies — black at 0 and pale yellow at ``vmax`` and above; returns
    ``(image (1, 3, H, W) in [0, 1], mean abs error, max abs error)``.

    Examples
    --------
    >>> import torch
    >>> img, mae, mx = error_map(torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.1))
    >>> img.shape, round(mae, 3), round(mx, 3)
    (torch.Size([1, 3, 4, 4]), 0.1, 0.1)
    """
    import torch

    global _MAGMA
    if _MAGMA is None:
        from matplotlib import colormaps

        _MAGMA = torch.tensor(colormaps["magma"](range(256))[:, :3], dtype=torch.float32)
    e = (x.detach().float() - ref.detach().float().to(x.device)).abs().mean(dim=1)[0].cpu()
    idx = (e / vmax).clamp(0, 1).mul(255).round().long()
    return _MAGMA[idx].permute(2, 0, 1)[None], float(e.mean()), float(e.max())
