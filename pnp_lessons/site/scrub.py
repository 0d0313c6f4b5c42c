"""Scrubbers: a lesson's main widget without a kernel — every run of a grid of two parameters computed ahead, the
frames, error maps, curves and theory badges embedded in the page, two range inputs choosing which one to show.

Each grid is made with the same functions the live widgets call (:func:`~pnp_lessons.problems.start` for the
playground, the lessons' ``compute`` modules for 03, 05 and 07), run to the end. :func:`scrubber_html` writes
the page fragment: plain HTML, an inline script, no network.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..figures import error_caption, error_map, error_scale_html, svg_chart
from ..images import to_png_bytes
from ..metrics import psnr
from ..params import Param
from ..solvers.guarantees import STATES

__all__ = ["Axis", "Scrubber", "scrubber_html", "SCRUBBERS", "run_grid"]


@dataclass
class Axis:
    """One scrubbed parameter: its :class:`~pnp_lessons.params.Param` (symbol, meaning, scale) and grid values."""

    param: Param
    values: tuple
    start: float        # the value the page opens on (the live widget's default)

    @property
    def label(self) -> str:
        return self.param.label


@dataclass
class Scrubber:
    """A precomputed grid: ``run(a, b)`` returns one frame (see :func:`frame`) for each pair of axis values; the
    problem's ground truth and observation (with its caption) are shown beside every frame."""

    key: str
    title: str
    a: Axis
    b: Axis
    run: Callable[[float, float], dict]
    truth: object
    observation: object
    observation_caption: str
    frames: list = field(default_factory=list)


def _png_uri(x) -> str:
    return "data:image/png;base64," + base64.b64encode(to_png_bytes(x)).decode()


def frame(image, truth, history: list[dict], status: str, message: str, caption: str, badge: tuple[str, str],
          charts: list[str]) -> dict:
    """One grid point as the page needs it: the image and its error map (PNG data URIs), the charts (SVG), the
    caption, the run's status and message, and the theory badge ``(state, text)``."""
    emap, mae, mx = error_map(image, truth)
    return {"img": _png_uri(image), "err": _png_uri(emap),
            "errcap": error_caption("the result", mae, mx),
            "charts": "".join(charts), "caption": caption, "status": status, "message": message,
            "badge": [badge[0], STATES[badge[0]], badge[1]], "k": len(history)}


def run_grid(s: Scrubber, progress: Callable[[str], None] | None = None) -> Scrubber:
    """Compute every frame of ``s`` (row-major over ``a`` then ``b``)."""
    s.frames = []
    for i, (a, b) in enumerate(itertools.product(s.a.values, s.b.values)):
        s.frames.append(s.run(a, b))
        if progress:
            progress(f"{s.key}: {i + 1}/{len(s.a.values) * len(s.b.values)}")
    return s


def _drive(gen) -> tuple[object, list[dict]]:
    last, history = None, []
    for rec in gen:
        last = rec
        history.append(rec.summary())
    return last, history


def _finite(v):
    return v if v is not None and math.isfinite(v) else None


# --------------------------------------------------------------------------- the grids
def _pnp_ista_charts(history):
    return [svg_chart("residual ‖xₖ − xₖ₋₁‖ (log)", [([_finite(h["residual"]) for h in history], "#0072B2", False)],
                      log=True),
            svg_chart("PSNR (dB)", [([_finite(h["psnr"]) for h in history], "#0072B2", False)])]


def playground_scrubber() -> Scrubber:
    """The playground's default problem (inpainting 70 % missing, noise 10/255, PnP-ISTA with a fixed NLM W) over
    γ × σ."""
    from .. import problems as P

    cache = P.ProblemCache("cpu")

    def run(gamma, sigma):
        s = P.validate_settings(dict(P.default_settings(), gamma=gamma, sigma=sigma))
        pb, gen = P.start(s, cache)
        last, hist = _drive(gen)
        badge = P.guarantee(s, pb, None, inf_norm=P.inf_norm_of_w(s, pb, cache))
        x = last.x.clamp(0, 1)
        cap = (f"x after {last.k} iterations, γ = {gamma:g}, σ·255 = {sigma:g}: PSNR {last.psnr:.2f} dB "
               f"({last.status.replace('_', ' ')}).")
        return frame(x, pb.x_true, hist, last.status, last.message, cap, badge, _pnp_ista_charts(hist))

    s0 = P.validate_settings(P.default_settings())
    pb = cache.problem(s0)
    return Scrubber("playground", "PnP-ISTA + NLM (W fixed), inpainting 70 % missing, noise σ·255 = 10",
                    Axis(P.PARAMS["gamma"], (0.3, 0.6, 0.9, 1.2, 1.5, 1.9, 2.2, 2.5), 0.9),
                    Axis(P.PARAMS["sigma"], (5.0, 10.0, 15.0, 25.0, 40.0), 15.0), run,
                    pb.x_true, pb.y_display, f"y: {P.describe(s0).split(' · ', 1)[1]}")


def lesson03_scrubber() -> Scrubber:
    """Lesson 03's explorer on its inpainting problem with NLM (W fixed), over γ (up to 3, past Theorem 5) × σ."""
    from ..lessons.l03_plug_and_play import compute as C

    pb = C.make_problem("inpaint")

    def run(gamma, sigma):
        last, hist = _drive(C.solve(pb, "nlm", gamma, sigma))
        cap = (f"NLM (W fixed), γ = {gamma:g}, σ·255 = {sigma:g}: iteration k = {last.k}, PSNR {last.psnr:.2f} dB "
               f"({last.status.replace('_', ' ')}).")
        return frame(last.x.clamp(0, 1), pb.x_true, hist, last.status, last.message, cap,
                     C.guarantee("inpaint", "nlm", gamma, pb), _pnp_ista_charts(hist))

    return Scrubber("lesson03", f"PnP-ISTA with NLM (W fixed): {C.TASKS['inpaint']}",
                    Axis(C.PARAMS["gamma"], (0.3, 0.6, 0.9, 1.2, 1.5, 1.9, 2.5, 3.0), 0.9),
                    Axis(C.PARAMS["sigma"], (5.0, 10.0, 15.0, 25.0, 40.0), 15.0), run,
                    pb.x_true, pb.y_display, f"{pb.describe()}: PSNR {psnr(pb.y, pb.x_true):.1f} dB.")


def lesson05_scrubber() -> Scrubber:
    """Lesson 05's explorer (the paper's inpainting, 80 % missing, W fixed from the median-filtered guide) over the
    γ of Fig. 2 × the NLM width h."""
    from ..denoisers.nlm import NLM
    from ..lessons.l05_pnp_ista_convergence import compute as C
    from ..solvers import guarantees
    from ..solvers.pnp_ista import pnp_ista

    pb = C.make_problem("inpaint", size=C.image_size())
    iters = C.iterations()

    def run(gamma, h255):
        cfg = NLM(C.NLM_PATCH, C.NLM_WINDOW, h=h255 / 255)
        last, hist = _drive(pnp_ista(pb.op, pb.y, cfg, gamma=gamma, x0=pb.x0, guide=pb.x0, ref=pb.x_true,
                                     mode="fixed", max_iter=iters, tol=1e-7))
        badge = guarantees.pnp_ista({"operator": "inpaint", "denoiser": "nlm", "gamma": gamma}, pb,
                                    window=C.NLM_WINDOW)
        cap = (f"γ = {gamma:g}, h·255 = {h255:g}, W fixed: iteration k = {last.k}, PSNR {last.psnr:.2f} dB, "
               f"residual {last.residual:.2e} ({last.status.replace('_', ' ')}).")
        return frame(last.x.clamp(0, 1), pb.x_true, hist, last.status, last.message, cap, badge,
                     _pnp_ista_charts(hist))

    return Scrubber("lesson05", "PnP-ISTA with NLM, W fixed: " + C.PROBLEMS["inpaint"],
                    Axis(C.PARAMS["gamma"], (0.5, 0.9, 1.0, 1.5, 2.0, 2.1), 0.9),
                    Axis(C.PARAMS["h"], (10.0, 20.0, 40.0, 80.0), 20.0), run,
                    pb.x_true, pb.y.clamp(0, 1), "80 % of the pixels missing (black), noise σ·255 = 10.")


def lesson07_scrubber() -> Scrubber:
    """Lesson 07's explorer (motion deblurring, the shipped grey GS-DRUNet, backtracking on) over λ × σ; the image
    is zₖ, what GS-PnP returns."""
    from ..denoisers.weights import load_denoiser
    from ..lessons.l07_gs_pnp import compute as C
    from ..solvers import guarantees

    D = load_denoiser("gsdrunet-small-grey", device="cpu")
    pb = C.make_problem("deblur-motion")

    def run(lam, sigma):
        last, hist = _drive(C.solve(pb, D, sigma, lam))
        z = last.info.get("z", last.x).clamp(0, 1)
        pz = psnr(z, pb.x_true)
        charts = [svg_chart("F(xₖ) = f + λg_σ", [([_finite(h["objective"]) for h in hist], "#0072B2", False)],
                            marks=[h["k"] for h in hist if h.get("rejected")], mark_label="rejected"),
                  svg_chart("PSNR (dB): xₖ solid, zₖ dashed", [([_finite(h["psnr"]) for h in hist], "#0072B2", False),
                                                              ([_finite(h.get("psnr_z")) for h in hist], "#E69F00",
                                                               True)])]
        cap = (f"z after {last.k} iterations, λ = {lam:g}, σ·255 = {sigma:g}: PSNR {pz:.2f} dB "
               f"({last.status.replace('_', ' ')}).")
        badge = guarantees.gs_pnp({"lam": lam, "sigma": sigma, "tau_lam": 1.0, "backtracking": True})
        return frame(z, pb.x_true, hist, last.status, last.message, cap, badge, charts)

    d = C.defaults("deblur-motion")
    return Scrubber("lesson07", "GS-PnP with backtracking: " + C.TASKS["deblur-motion"],
                    Axis(C.PARAMS["lam"], (0.03, 0.1, 0.3, 1.0), d["lam"]),
                    Axis(C.PARAMS["sigma"], tuple(sorted({5.0, 10.0, d["sigma"], 20.0, 30.0, 40.0})), d["sigma"]), run,
                    pb.x_true, pb.y_display, f"{pb.describe()}: the input of GS-PnP.")


SCRUBBERS = {
    ("03_plug_and_play", "cell-06"): lesson03_scrubber,
    ("05_pnp_ista_convergence", "cell-06"): lesson05_scrubber,
    ("07_gs_pnp", "cell-04"): lesson07_scrubber,
    ("playground", None): playground_scrubber,
}
"""Which live widget gets a scrubber in the static site: ``(notebook stem, code cell id)`` → its grid (``None``:
the page's first widget)."""


# --------------------------------------------------------------------------- the page fragment
_JS = """
(function () {
  const root = document.getElementById('%(id)s');
  const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  const [ra, rb] = root.querySelectorAll('input[type=range]');
  const nb = data.b.length;
  function show() {
    const i = +ra.value, j = +rb.value, f = data.frames[i * nb + j];
    root.querySelector('.pnp-scrub-a').textContent = data.a[i];
    root.querySelector('.pnp-scrub-b').textContent = data.b[j];
    ra.setAttribute('aria-valuetext', data.alabel + ' = ' + data.a[i]);
    rb.setAttribute('aria-valuetext', data.blabel + ' = ' + data.b[j]);
    const img = root.querySelector('img.pnp-scrub-img'), err = root.querySelector('img.pnp-scrub-err');
    img.src = f.img; img.alt = f.caption;
    err.src = f.err; err.alt = f.errcap;
    root.querySelector('.pnp-scrub-caption').textContent = f.caption;
    root.querySelector('.pnp-scrub-errcap').textContent = f.errcap;
    root.querySelector('.pnp-scrub-charts').innerHTML = f.charts;
    const badge = root.querySelector('.pnp-badge');
    badge.className = 'pnp-badge pnp-badge-' + f.badge[0]; badge.textContent = f.badge[1];
    badge.title = f.badge[2]; root.querySelector('.pnp-scrub-theory').textContent = f.badge[2];
    root.querySelector('.pnp-scrub-status').textContent =
      f.status.replace('_', ' ') + (f.message ? ': ' + f.message : '');
  }
  ra.addEventListener('input', show); rb.addEventListener('input', show);
  show();
})();
"""


def scrubber_html(s: Scrubber) -> str:
    """The scrubber as an HTML fragment: two labelled range inputs (symbol, meaning and scale, with the value
    shown beside them), the observation, the chosen run's image, the ground truth, the error map, the curves,
    the status and the theory badge, and the data for every grid point."""
    if not s.frames:
        raise ValueError(f"scrubber {s.key!r} has no frames: call run_grid first")
    ia = min(range(len(s.a.values)), key=lambda i: abs(s.a.values[i] - s.a.start))
    ib = min(range(len(s.b.values)), key=lambda j: abs(s.b.values[j] - s.b.start))
    data = {"a": [f"{v:g}" for v in s.a.values], "b": [f"{v:g}" for v in s.b.values],
            "alabel": s.a.param.symbol, "blabel": s.b.param.symbol, "frames": s.frames}
    blob = json.dumps(data).replace("</", "<\\/")
    dom = f"pnp-scrub-{s.key}"

    def slider(axis: Axis, cls: str, start: int) -> str:
        return (f"<label class='pnp-scrub-row'><span class='pnp-scrub-label'>{html.escape(axis.label)}</span>"
                f"<input type='range' min='0' max='{len(axis.values) - 1}' step='1' value='{start}' "
                f"aria-label='{html.escape(axis.label, quote=True)}'>"
                f"<output class='{cls}'></output></label>")

    def slot(title, cls, src, caption, capcls, scale=""):
        return (f"<figure class='pnp-scrub-slot'><figcaption class='pnp-slot-title'>{html.escape(title)}"
                f"</figcaption>"
                f"<img class='{cls}' src='{src}' alt='{html.escape(caption, quote=True)}'>{scale}"
                f"<div class='pnp-caption {capcls}'>{html.escape(caption)}</div></figure>")

    n = len(s.a.values) * len(s.b.values)
    return (f"<section class='pnp-scrub' id='{dom}' aria-label='{html.escape(s.title, quote=True)}'>"
            f"<p class='pnp-scrub-note'><b>Precomputed, no kernel:</b> {html.escape(s.title)}. The {n} runs of "
            f"this grid were computed when the site was built; move a slider to see another one "
            f"(the live widget, with any value, runs under <code>make demo</code>).</p>"
            + slider(s.a, "pnp-scrub-a", ia) + slider(s.b, "pnp-scrub-b", ib)
            + "<div><span class='pnp-badge' role='note'></span> <span class='pnp-scrub-theory'></span></div>"
            + "<div class='pnp-scrub-status' role='status'></div>"
            + "<div class='pnp-scrub-grid'>"
            + slot("Observation y", "pnp-scrub-obs", _png_uri(s.observation), s.observation_caption, "")
            + slot("Result after the run", "pnp-scrub-img", "", "", "pnp-scrub-caption")
            + slot("Ground truth x", "pnp-scrub-truth", _png_uri(s.truth), "the clean image, for comparison", "")
            + slot("Error |result − x|", "pnp-scrub-err", "", "", "pnp-scrub-errcap", error_scale_html())
            + "</div><div class='pnp-scrub-charts'></div>"
            + f"<script type='application/json'>{blob}</script><script>{_JS % {'id': dom}}</script></section>")
