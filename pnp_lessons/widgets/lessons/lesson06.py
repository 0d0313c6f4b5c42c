"""Lesson 06 widgets: the Gradient-Step denoiser D_σ = Id − ∇g_σ, g_σ(x) = ½‖x − N_σ(x)‖².

* :func:`potential_path` / :func:`path_figure` — g_σ along the straight path from a clean image to a noisy one.
* :func:`gradient_check` — ⟨∇g_σ(x), v⟩ by autograd against central finite differences, in float64.
* :func:`score_figure` — ∇g_σ(y) beside the true noise y − x (Tweedie: ∇g_σ ≈ −σ²∇log p_σ).
* :func:`network_figure` — the network's own output N_σ(y) beside D_σ(y): N_σ is not the denoiser.
* :func:`colour_figure` — the colour GS denoiser beside the grey one run on R, G, B and on opponent channels.
* :func:`denoising_tables` — our measured PSNRs (``docs/denoisers.md`` when present, else the weight card)
  beside the paper's table.
* :class:`DenoiserComparison` — a σ slider comparing NLM, TV and GS-DRUNet on one image, in the shared
  :class:`~pnp_lessons.widgets.runner.LiveRunner`.

The math is in :mod:`pnp_lessons.denoisers.gsdrunet` (``potential``, ``grad``, ``denoise``).
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import ipywidgets as W
import torch

from ...denoisers.evaluate import TV_FACTOR
from ...denoisers.nlm import nlm_denoise
from ...exercises import Exercise, register
from ...images import sample
from ...metrics import psnr
from ...prox import tv_prox
from ..panel import ImageSlot
from ..problems import Param
from .common import LessonWidget, Slider, is_fast, new_figure
from .lesson03 import lean_call

__all__ = ["PARAMS", "PAPER_TABLE", "potential_path", "path_figure", "gradient_check", "score_figure",
           "network_figure", "colour_figure", "denoising_tables", "DenoiserComparison", "EXERCISES",
           "register_exercises", "image_size"]

PARAMS = {"sigma": Param("sigma", "σ·255", "noise level", 1.0, 50.0, 0.5, digits=1)}

PAPER_SIGMAS = (5, 15, 25, 50)
PAPER_TABLE = {
    "FFDNet": (39.95, 33.53, 30.84, 27.54),
    "DnCNN": (39.80, 33.55, 30.87, 27.52),
    "DRUNet": (40.31, 33.97, 31.32, 28.08),
    "DRUNet light": (40.19, 33.89, 31.25, 28.00),
    "GS-DRUNet": (40.26, 33.90, 31.26, 28.01),
}
"""Denoising PSNR (dB) on CBSD68 for σ·255 = 5, 15, 25, 50, as printed in Hurault et al. 2022 (the denoising
table reproduced in the review, ``shared/papers/gradient-step-denoiser-review.md``)."""

ROOT = Path(__file__).resolve().parents[3]


def image_size() -> int:
    """Side of the lesson's images (64 in CI-fast mode, 128 otherwise)."""
    return 64 if is_fast() else 128


def _device(D) -> torch.device:
    return next(D.parameters()).device


# --------------------------------------------------------------------------- potential along a path
@lean_call
def potential_path(D, x: torch.Tensor, sigma: float, ts=None, seed: int = 0) -> dict:
    """g_σ(x + t·σ·n) for t in ``ts`` (n a fixed standard Gaussian image): t = 0 is the clean image, t = 1 a
    noisy image of noise level σ. Returns ``{"t", "g", "grad_norm"}`` (lists)."""
    if ts is None:
        ts = [i / 10 for i in range(0, 16)] if not is_fast() else [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    x = x.to(_device(D))
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    gs, norms = [], []
    for t in ts:
        xt = x + t * sigma * n
        with torch.no_grad():
            g = float(D.potential(xt, sigma).sum())
        dg = D.grad(xt, sigma)
        gs.append(g)
        norms.append(float(dg.norm()))
    return {"t": list(ts), "g": gs, "grad_norm": norms}


def path_figure(path: dict, sigma: float):
    """(figure, alt text) of :func:`potential_path`."""
    fig = new_figure(6.4, 2.6)
    a1, a2 = fig.subplots(1, 2)
    a1.plot(path["t"], path["g"], marker="o", color="#1f77b4")
    a1.set_xlabel("t   (x_t = x + t·σ·n)")
    a1.set_title("potential g_σ(x_t)", fontsize=10)
    a2.plot(path["t"], path["grad_norm"], marker="o", color="#d62728")
    a2.set_xlabel("t")
    a2.set_title("‖∇g_σ(x_t)‖", fontsize=10)
    g, t = path["g"], path["t"]
    i1 = min(range(len(t)), key=lambda i: abs(t[i] - 1.0))
    rising = all(b >= a for a, b in zip(g, g[1:]))
    alt = (f"Two line plots against t from {t[0]:g} to {t[-1]:g}, for σ·255 = {sigma * 255:.0f}. Left: the potential "
           f"g_σ goes from {g[0]:.3g} at the clean image (t = 0) to {g[i1]:.3g} at the noisy image (t = 1) and "
           f"{g[-1]:.3g} at t = {t[-1]:g}; it {'rises monotonically' if rising else 'does not rise monotonically'} "
           f"along the path. Right: the gradient norm goes from {path['grad_norm'][0]:.3g} to "
           f"{path['grad_norm'][-1]:.3g}.")
    return fig, alt


# --------------------------------------------------------------------------- gradient check
@lean_call
def gradient_check(D, x: torch.Tensor, sigma: float, eps=(1e-1, 1e-2, 1e-3, 1e-4), seed: int = 0) -> list[dict]:
    """Directional derivative of g_σ at ``x`` along a random unit direction v: autograd ⟨∇g_σ(x), v⟩
    against the central difference (g(x + εv) − g(x − εv)) / (2ε), in float64 (a float64 copy of D)."""
    D64 = copy.deepcopy(D).double()
    x = x.to(_device(D64), torch.float64)
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(x.device)
    v = v / v.norm()
    auto = float((D64.grad(x, sigma) * v).sum())
    rows = []
    for e in eps:
        with torch.no_grad():
            gp = float(D64.potential(x + e * v, sigma).sum())
            gm = float(D64.potential(x - e * v, sigma).sum())
        fd = (gp - gm) / (2 * e)
        rows.append({"eps": e, "finite_difference": fd, "autograd": auto,
                     "rel_error": abs(fd - auto) / max(abs(auto), 1e-300)})
    return rows


def gradient_table_html(rows):
    """The rows of :func:`gradient_check` as an HTML table (IPython display object)."""
    from IPython.display import HTML

    body = "".join(f"<tr><td>{r['eps']:.0e}</td><td>{r['finite_difference']:.10g}</td><td>{r['autograd']:.10g}</td>"
                   f"<td>{r['rel_error']:.2e}</td></tr>" for r in rows)
    return HTML("<table class='pnp-readout' aria-label='finite differences against autograd'><tr><th>ε</th>"
                "<th>(g(x+εv) − g(x−εv)) / 2ε</th><th>⟨∇g(x), v⟩ (autograd)</th><th>relative error</th></tr>"
                + body + "</table>")


# --------------------------------------------------------------------------- score
@lean_call
def score_figure(D, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, correlation): the noisy y, ∇g_σ(y) = y − D_σ(y) and the true noise y − x."""
    x = x.to(_device(D))
    noise = sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    y = x + noise
    dg = D.grad(y, sigma)
    a, b = dg.flatten().double(), noise.flatten().double()
    corr = float(((a - a.mean()) * (b - b.mean())).sum() / ((a - a.mean()).norm() * (b - b.mean()).norm() + 1e-30))
    fig = new_figure(7.2, 2.6)
    axes = fig.subplots(1, 3)
    lim = 3 * sigma
    axes[0].imshow(y[0, 0].detach().cpu().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("noisy y", fontsize=10)
    axes[1].imshow(dg[0, 0].detach().cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title("∇g_σ(y) = y − D_σ(y)", fontsize=10)
    axes[2].imshow(noise[0, 0].detach().cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("true noise y − x", fontsize=10)
    for ax in axes:
        ax.axis("off")
    alt = (f"Three images at σ·255 = {sigma * 255:.0f}: the noisy image, the gradient ∇g_σ(y) and the true noise "
           f"(red positive, blue negative, same colour scale ±3σ). The correlation between ∇g_σ(y) and the true noise "
           f"is {corr:.2f} (1 would mean the denoiser recovers the noise exactly; 0 no relation).")
    return fig, alt, corr


# --------------------------------------------------------------------------- N_σ is not D_σ
@lean_call
def network_figure(D, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, PSNRs): the noisy y, the network's own output N_σ(y) and D_σ(y) = y − ∇g_σ(y).

    The training loss is on D_σ only (E‖D_σ(x + σn) − x‖², the review's training section), so N_σ(y) need
    not look like the clean image. The PSNRs (dB, against ``x``, outputs clipped to [0, 1]) are under the keys
    ``noisy``, ``N`` and ``D``.
    """
    x = x.to(_device(D))
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    with torch.no_grad():
        n_out = D.net(y, sigma).clamp(0, 1)
    d_out = D.denoise(y, sigma).detach().clamp(0, 1)
    vals = {"noisy": psnr(y.clamp(0, 1), x), "N": psnr(n_out, x), "D": psnr(d_out, x)}
    fig = new_figure(7.2, 2.6)
    axes = fig.subplots(1, 3)
    for ax, img, title in zip(axes, (y.clamp(0, 1), n_out, d_out),
                              (f"noisy y: {vals['noisy']:.2f} dB", f"N_σ(y) alone: {vals['N']:.2f} dB",
                               f"D_σ(y) = y − ∇g_σ(y): {vals['D']:.2f} dB")):
        ax.imshow(img[0, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    alt = (f"Three images at σ·255 = {sigma * 255:.0f}: the noisy image ({vals['noisy']:.2f} dB), the output of the "
           f"network N_σ used alone ({vals['N']:.2f} dB) and the gradient-step denoiser D_σ ({vals['D']:.2f} dB).")
    return fig, alt, vals


# --------------------------------------------------------------------------- colour
@lean_call
def colour_figure(D_colour, D_grey, x: torch.Tensor, sigma: float, seed: int = 0):
    """(figure, alt text, PSNRs): a noisy colour image and three colour GS denoisers.

    The grey GS denoiser run on R, G and B one at a time; the same grey denoiser run on the opponent
    channels (luminance and two colour differences, :class:`~pnp_lessons.denoisers.colour.OpponentGSDenoiser`);
    and the colour GS denoiser (one network, three channels in and out). ``x`` is a ``(1, 3, H, W)`` image in
    [0, 1]. The PSNRs (dB against ``x``, over the three channels, outputs clipped to [0, 1]) are under
    ``noisy``, ``rgb``, ``opponent`` and ``colour``.
    """
    from ...denoisers.colour import opponent_colour

    if x.dim() != 4 or x.shape[:2] != (1, 3):
        raise ValueError(f"x must be one colour image of shape (1, 3, H, W), got {tuple(x.shape)}")
    if getattr(D_colour.net, "channels", None) != 3 or getattr(D_grey.net, "channels", None) != 1:
        raise ValueError("D_colour must be a 3-channel GS denoiser and D_grey a 1-channel one")
    x = x.to(_device(D_colour))
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device)
    yg = y.to(_device(D_grey))
    outs = {"noisy": y,
            "rgb": D_grey.denoise(yg.transpose(0, 1), sigma).transpose(0, 1),  # R, G, B as 3 grey images
            "opponent": opponent_colour(D_grey).denoise(yg, sigma),
            "colour": D_colour.denoise(y, sigma)}
    outs = {k: v.detach().to(x.device).clamp(0, 1) for k, v in outs.items()}
    vals = {k: psnr(v, x) for k, v in outs.items()}
    titles = {"noisy": "noisy y", "rgb": "grey D_σ on R, G, B", "opponent": "grey D_σ, opponent basis",
              "colour": "colour D_σ"}
    fig = new_figure(9.6, 2.8)
    axes = fig.subplots(1, 4)
    for ax, k in zip(axes, outs):
        ax.imshow(outs[k][0].permute(1, 2, 0).cpu().numpy())
        ax.set_title(f"{titles[k]}\n{vals[k]:.2f} dB", fontsize=9)
        ax.axis("off")
    alt = (f"Four colour images at σ·255 = {sigma * 255:.0f}: the noisy image ({vals['noisy']:.2f} dB); the grey "
           f"gradient-step denoiser applied to the red, green and blue channels separately ({vals['rgb']:.2f} dB); "
           f"the same grey denoiser applied to the luminance and the two colour differences ({vals['opponent']:.2f} "
           f"dB); and the colour gradient-step denoiser ({vals['colour']:.2f} dB).")
    return fig, alt, vals


# --------------------------------------------------------------------------- tables
def _evaluation_table(text: str, header: str = "") -> tuple[list[list[str]], str]:
    """The first Markdown table of ``text`` whose header names noise levels (``σ=``) and contains ``header``,
    as rows of cells, and the ``PSNR (dB), mean over …`` line that ``pnp-lessons evaluate-denoisers`` writes
    under it ('' when absent).

    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and "σ" in lines[i] and header in lines[i]:
            rows, j = [], i
            while j < len(lines) and lines[j].startswith("|"):
                if not set(lines[j]) <= set("|-: "):
                    rows.append([c.strip() for c in lines[j].strip().strip("|").split("|")])
                j += 1
            source = next((ln.strip() for ln in lines[j:j + 3] if ln.strip().startswith("PSNR")), "")
            return rows, source
        i += 1
    return [], ""


def _md_cell(text: str) -> str:
    """One Markdown table cell as HTML: escaped, with bold (double asterisks) and code (backquotes) rendered."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


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
                         + "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{_md_cell(c)}</{'th' if i == 0 else 'td'}>"
                                                    for c in row) + "</tr>" for i, row in enumerate(rows)) + "</table>")
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
            source = (f"From the weight card (validation at the end of training, {D.card.get('training', {}).get('steps', '?')} "
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
        px = 180
        self.views = {k: ImageSlot(t, px, k) for k, t in
                      [("noisy", "Noisy y"), ("nlm", "NLM"), ("tv", "TV prox"), ("gs", "GS-DRUNet D_σ(y)")]}
        super().__init__([self.sigma, W.HBox(list(self.views.values()), layout=W.Layout(flex_flow="row wrap"))],
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


# --------------------------------------------------------------------------- exercises
EXERCISES = [
    Exercise(
        "06.1",
        "Tweedie in one dimension: x ~ N(0, s²) with s² = 0.04 and y = x + noise of variance σ² = 0.01. The MMSE "
        "denoiser is D(y) = s²/(s² + σ²) · y. What is ∇g(y) = y − D(y) at y = 0.5?",
        0.1,
        hint="y − D(y) = σ²/(s² + σ²) · y. Check it against −σ² d/dy log p_σ(y) with p_σ = N(0, s² + σ²).",
        confirmation="0.01/0.05 × 0.5 = 0.1 = −σ² · d/dy log p_σ(0.5): the residual of an MMSE denoiser is σ² times "
                     "minus the score of the noisy density (Tweedie's formula).",
    ),
    Exercise(
        "06.2",
        "A central difference (g(x + εv) − g(x − εv)) / 2ε has an error proportional to ε² (ignoring rounding). "
        "If ε is divided by 10, by what factor does that error shrink?",
        100.0,
        hint="The error is C·ε²: replace ε by ε/10.",
        confirmation="(1/10)² = 1/100: two more correct digits per decade of ε, until rounding errors (of order "
                     "machine precision / ε) take over — which is why the check runs in float64.",
    ),
    Exercise(
        "06.3",
        "Which sentence describes the Gradient-Step denoiser D_σ(x) = x − ∇g_σ(x)?",
        "one explicit gradient step of size 1 on the potential g_σ",
        hint="Compare with x_{k+1} = x_k − τ∇h(x_k), the gradient descent step on a function h.",
        confirmation="D_σ is exactly one gradient-descent step of size 1 on g_σ = ½‖x − N_σ(x)‖²; the prox would be an "
                     "implicit step, which is what GS-PnP applies to f instead (lesson 07).",
        choices=(
            "the proximal map of g_σ",
            "one explicit gradient step of size 1 on the potential g_σ",
            "the projection onto the set of clean images",
            "the network N_σ itself",
        ),
    ),
]


def register_exercises(items=None) -> list[str]:
    """Add this lesson's exercises to :data:`pnp_lessons.exercises.EXERCISES` (idempotent); return their ids."""
    return register(*(EXERCISES if items is None else items))


register_exercises()
