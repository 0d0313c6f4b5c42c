"""Lesson 06, the widgets: the Gradient-Step denoiser D_σ = Id − ∇g_σ, g_σ(x) = ½‖x − N_σ(x)‖².

* :func:`~.compute.potential_path` / :func:`~.compute.path_figure` — g_σ along the straight path from a clean
  image to a noisy one.
* :func:`~.compute.gradient_check` — ⟨∇g_σ(x), v⟩ by autograd against central finite differences, in float64.
* :func:`~.compute.score_figure` — ∇g_σ(y) beside the true noise y − x (Tweedie: ∇g_σ ≈ −σ²∇log p_σ).
* :func:`~.compute.network_figure` — the network's own output N_σ(y) beside D_σ(y): N_σ is not the denoiser.
* :func:`~.compute.colour_figure` — the colour GS denoiser beside the grey one run on R, G, B and on opponent channels.
* :func:`denoising_tables` — our measured PSNRs (``docs/denoisers.md`` when present, else the weight card)
  beside the paper's table.
* :class:`DenoiserComparison` — a σ slider comparing NLM, TV and GS-DRUNet on one image, in the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner`.

The math is in :mod:`pnp_lessons.denoisers.gsdrunet` (``potential``, ``grad``, ``denoise``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import torch

from ...denoisers.nlm import nlm_denoise
from ...denoisers.tv import TV_FACTOR
from ...images import sample
from ...metrics import psnr
from ...prox import tv_prox
from ...runtime import lean_call
from ...widgets.lesson_base import LessonWidget, Slider
from ...widgets.panel import ImageGrid, ImageSlot
from .compute import PAPER_SIGMAS, PAPER_TABLE, PARAMS, ROOT, _device, _evaluation_table, image_size

__all__ = ["denoising_tables", "DenoiserComparison"]


def gradient_table_html(rows):
    """The rows of :func:`gradient_check` as an HTML table (IPython display object)."""
    from IPython.display import HTML

    body = "".join(f"<tr><td>{r['eps']:.0e}</td><td>{r['finite_difference']:.10g}</td><td>{r['autograd']:.10g}</td>"
                   f"<td>{r['rel_error']:.2e}</td></tr>" for r in rows)
    return HTML("<table class='pnp-readout' aria-label='finite differences against autograd'><tr><th>ε</th>"
                "<th>(g(x+εv) − g(x−εv)) / 2ε</th><th>⟨∇g(x), v⟩ (autograd)</th><th>relative error</th></tr>"
                + body + "</table>")


def _md_cell(text: str) -> str:
    """One Markdown table cell as HTML: escaped, with bold (double asterisks) and code (backquotes) rendered."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _md_tag(text: str, tag: str) -> str:
    """``<tag>cell</tag>`` with :func:`_md_cell` inside (``tag`` is ``'th'`` or ``'td'``)."""
    return f"<{tag}>{_md_cell(text)}</{tag}>"


def denoising_tables(D=None, docs: Path | None = None):
    """Our measured denoising PSNRs beside the paper's (IPython HTML).

    Ours: ``docs/denoisers.md`` (written by ``pnp-lessons evaluate-denoisers --markdown docs/denoisers.md``) when it
    exists, else the validation PSNRs in the card of ``D``, else a note saying that none are recorded yet.
    """
    from IPython.display import HTML

    docs = Path(docs) if docs is not None else ROOT / "docs" / "denoisers.md"
    paper = ("<table class='pnp-readout' aria-label='denoising PSNR in Hurault et al. 2022'><caption>Hurault et al. "
             "2022, CBSD68 (colour), PSNR in dB</caption><tr><th>denoiser</th>"
             + "".join(f"<th>σ·255 = {s}</th>" for s in PAPER_SIGMAS) + "</tr>"
             + "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{v:.2f}</td>" for v in vals) + "</tr>"
                       for k, vals in PAPER_TABLE.items()) + "</table>")
    ours = ""
    source = ""
    if docs.exists():
        text = docs.read_text()
        table, source = _evaluation_table(text)
        colour, colour_source = _evaluation_table(text, "CBSD68")  # the paper's own test set, when measured
        if colour == table:
            colour = []
        for rows, what in ((table, ""), (colour, ", colour")):
            if rows:
                ours += (f"<table class='pnp-readout' aria-label='our measured denoising PSNR{what}'><caption>ours"
                         f"{what} (from docs/{html.escape(docs.name)})</caption>"
                         + "".join("<tr>" + "".join(_md_tag(c, "th" if i == 0 else "td") for c in row) + "</tr>"
                                   for i, row in enumerate(rows)) + "</table>")
        if colour and colour_source:
            source = f"{source} Colour table: {colour_source}".strip()
    if not ours and D is not None and getattr(D, "card", None):
        val = D.card.get("validation", {}) or {}
        ps = val.get("psnr_fp32") or {}
        if ps:
            ours = (f"<table class='pnp-readout' aria-label='our measured denoising PSNR'><caption>ours: "
                    f"{html.escape(D.card['name'])}, {html.escape(Path(str(val.get('dataset', '?'))).name)} "
                    f"({val.get('images', '?')} images, grey), PSNR in dB</caption><tr><th>denoiser</th>"
                    + "".join(f"<th>σ·255 = {k}</th>" for k in ps) + "</tr><tr><td>GS-DRUNet small</td>"
                    + "".join(f"<td>{float(v):.2f}</td>" for v in ps.values()) + "</tr></table>")
            source = (f"From the weight card (validation at the end of training, "
                      f"{D.card.get('training', {}).get('steps', '?')} "
                      "steps).")
    if not ours:
        ours = ("<p><em>No measured table yet: run <code>pnp-lessons evaluate-denoisers --markdown docs/denoisers.md"
                "</code>, or ship weights whose card holds validation PSNRs.</em></p>")
    return HTML("<div style='display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start'>" + paper + "<div>" + ours
                + (f"<div class='pnp-caption'>{html.escape(source)}</div>" if source else "") + "</div></div>")


# --------------------------------------------------------------------------- the σ slider
class DenoiserComparison(LessonWidget):
    """One noisy image and three denoisers under a σ slider: NLM, TV (prox of 0.8σ·TV) and GS-DRUNet D_σ."""

    def __init__(self, D, image: str = "camera", sigma: float = 25.0, autostart: bool = True):
        self.D = D
        self.x = sample(image, size=image_size(), grey=True).to(_device(D))
        self.sigma = Slider(PARAMS["sigma"], sigma)
        self.views = {k: ImageSlot(t, name=k) for k, t in
                      [("noisy", "Noisy y"), ("nlm", "NLM"), ("tv", "TV prox"), ("gs", "GS-DRUNet D_σ(y)")]}
        super().__init__([self.sigma, ImageGrid(list(self.views.values()), 4)],
                         autostart=False)
        self.sigma.observe(self.refresh, "value")
        if autostart:
            self.refresh()
            self.wait(120)

    def settings(self):
        return dict(sigma=float(self.sigma.value))

    @lean_call
    def compute(self, s):
        sig = s["sigma"] / 255
        g = torch.Generator().manual_seed(0)
        y = self.x + sig * torch.randn(self.x.shape, generator=g).to(self.x.device)
        out = {"noisy": y,
               "nlm": nlm_denoise(y, sig, patch_size=5, window=11),
               "tv": tv_prox(y, TV_FACTOR * sig, max_iter=100),
               "gs": self.D.denoise(y, sig)}
        return dict(s=s, out={k: v.clamp(0, 1) for k, v in out.items()})

    def render(self, r):
        s = r["s"]["sigma"]
        names = {"noisy": f"the clean image plus noise of σ·255 = {s:.1f}",
                 "nlm": "non-local means (patch 5, window 11, h = 0.6σ)",
                 "tv": f"TV prox with λ = {TV_FACTOR}σ", "gs": f"the gradient-step denoiser at σ·255 = {s:.1f}"}
        for k, v in r["out"].items():
            self.views[k].show(v, f"{names[k]}: PSNR {psnr(v, self.x):.2f} dB.")
