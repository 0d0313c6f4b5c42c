"""Build the static site: execute each notebook (CI-fast mode unless told otherwise), replace its widget outputs
by a snapshot or a scrubber, export the cells with nbconvert's ``basic`` template and wrap them in a page with
the lesson list, KaTeX for the math and no request outside the site's folder.

    pnp-lessons site --out site          # or: make site
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..figures import ERROR_SCALE_CSS
from . import scrub as S
from .snapshot import VIEW_KEY, widget_html, widget_state

__all__ = ["build_site", "PAGES", "NOTEBOOKS", "KATEX"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KATEX = ROOT / "node_modules" / "katex" / "dist"
PAGES = [*(p.relative_to(NOTEBOOKS) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))),
         Path("apps/playground.ipynb")]
"""The site's pages: the lessons in order, then the playground (the follow/present pages need a server)."""

CSS = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; margin: 0; }
header.pnp-site, footer.pnp-site { background: #f3f5f7; padding: 8px 24px; font-size: 14px; }
header.pnp-site a, footer.pnp-site a, main a { color: #0b57d0; text-decoration: underline; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 24px 40px; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-Cell { margin: 10px 0; }
.jp-CodeCell .jp-InputArea pre { background: #f7f7f7; border: 1px solid #e3e3e3; border-radius: 4px;
  padding: 8px 10px; overflow-x: auto; font-size: 13.5px; }
.jp-OutputArea pre { font-size: 13px; white-space: pre-wrap; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; }
img { max-width: 100%; }
.pnp-caption { font-size: 12.5px; line-height: 1.35; color: #333; }
.pnp-slot-title { font-weight: 600; font-size: 14px; }
.pnp-static { border-left: 3px solid #bbb; padding: 4px 0 4px 12px; }
.pnp-static-note, .pnp-scrub-note { font-size: 13px; color: #444; margin: 0 0 6px; }
.pnp-static-control { font-size: 13px; }
.pnp-scrub { border: 1px solid #c9d6e3; border-radius: 6px; padding: 10px 14px; background: #fbfdff; }
.pnp-scrub-row { display: flex; align-items: center; gap: 10px; margin: 4px 0; font-size: 14px; }
.pnp-scrub-label { width: 230px; text-align: right; }
.pnp-scrub-row input { width: 300px; }
.pnp-scrub-row output { min-width: 3em; font-weight: 600; }
.pnp-scrub-grid { display: grid; grid-template-columns: repeat(4, max-content); gap: 6px 16px; margin-top: 8px; }
.pnp-scrub-slot { margin: 0; width: min(256px, calc((100vw - 120px) / 4 - 16px)); }
.pnp-scrub-slot img { width: 100%; aspect-ratio: 1; object-fit: contain; image-rendering: pixelated;
  border: 1px solid #ccc; }
.pnp-scrub-charts { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.anchor-link { opacity: 0; text-decoration: none; margin-left: 4px; }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link, .anchor-link:focus { opacity: 1; }
.pnp-badge { border: 1px solid; border-radius: 9px; padding: 0 7px; font-size: 12px; }
.pnp-badge-holds { color: #1b5e20; } .pnp-badge-outside { color: #8a4b00; } .pnp-badge-none { color: #444; }
.pnp-scrub-theory, .pnp-scrub-status { font-size: 13px; }
:focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }
"""

KATEX_JS = """
document.addEventListener('DOMContentLoaded', function () {
  if (window.renderMathInElement) renderMathInElement(document.querySelector('main'), {
    delimiters: [{left: '$$', right: '$$', display: true}, {left: '$', right: '$', display: false},
                 {left: '\\\\(', right: '\\\\)', display: false}, {left: '\\\\[', right: '\\\\]', display: true}],
    ignoredTags: ['script', 'noscript', 'style', 'textarea', 'pre', 'code', 'option', 'svg'],
    throwOnError: false});
});
"""


def _title(nb) -> str:
    for c in nb.cells:
        if c.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", c.source, re.M)
            if m:
                return m.group(1).strip()
    return "Untitled"


def _html_name(rel: Path) -> str:
    return rel.stem + ".html"


@contextlib.contextmanager
def _mode(fast: bool):
    """CI-fast mode (or not) for this process and the kernels it starts, restored afterwards."""
    env = {"PNP_LESSONS_FAST": "1" if fast else "0", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path: Path, timeout: int = 600):
    """The notebook at ``path`` executed, with its widget state stored (in the mode of :func:`_mode`)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as e:
        raise RuntimeError(f"{path.name} raised while executing: {e.ename}: {e.evalue}") from e
    return nb


def replace_widgets(nb, stem: str, scrubbers: dict, progress: Callable[[str], None]) -> int:
    """Replace every widget output of ``nb`` by static HTML: the scrubber registered for the cell in
    :data:`~pnp_lessons.site.scrub.SCRUBBERS` (computed here), else a snapshot of the widget as executed.
    Returns how many widget outputs were replaced."""
    state = widget_state(nb)
    n = 0
    first = True
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(VIEW_KEY)
            if view is None:
                new.append(out)
                continue
            n += 1
            factory = scrubbers.get((stem, cell.get("id"))) or (scrubbers.get((stem, None)) if first else None)
            first = False
            if factory is not None:
                t0 = time.time()
                sc = S.run_grid(factory())
                body = S.scrubber_html(sc)
                progress(f"  {stem}: scrubber '{sc.key}' ({len(sc.frames)} runs, {time.time() - t0:.0f} s)")
            else:
                body = ("<div class='pnp-static'><p class='pnp-static-note'>The live widget as it stood after the page "
                        "was executed (no kernel here: run <code>make demo</code> to move its controls).</p>"
                        + widget_html(view["model_id"], state) + "</div>")
            new.append({"output_type": "display_data", "metadata": {}, "data": {"text/html": body}})
        cell["outputs"] = new
    nb.metadata.pop("widgets", None)
    return n


def _page(title: str, body: str, nav: str) -> str:
    katex = ("<link rel='stylesheet' href='_static/katex/katex.min.css'>"
             "<script defer src='_static/katex/katex.min.js'></script>"
             "<script defer src='_static/katex/contrib/auto-render.min.js'></script>"
             f"<script>{KATEX_JS}</script>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)} — PnP Lessons</title>{katex}"
            f"<link rel='stylesheet' href='_static/pygments.css'><style>{CSS}{ERROR_SCALE_CSS}</style></head><body>"
            f"<header class='pnp-site'>{nav}</header><main>{body}</main>"
            f"<footer class='pnp-site'>{nav}</footer></body></html>")


def _static(out: Path) -> bool:
    """Copy KaTeX (from npm's node_modules) and the code highlighting style; False when KaTeX is missing."""
    from pygments.formatters import HtmlFormatter

    st = out / "_static"
    st.mkdir(parents=True, exist_ok=True)
    (st / "pygments.css").write_text(HtmlFormatter(style="default").get_style_defs(".highlight"))
    if not (KATEX / "katex.min.js").exists():
        return False
    dst = st / "katex"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(KATEX, dst, ignore=shutil.ignore_patterns("*.ttf", "*.woff", "*.mjs", "katex.js", "katex.css",
                                                              "*.map", "README.md"))
    return True


def build_site(out: Path | str = "site", fast: bool = True, pages=None, scrubbers: dict | None = None,
               timeout: int = 600, progress: Callable[[str], None] = print) -> list[Path]:
    """Write the static site to ``out``: ``index.html``, one page per notebook of ``pages`` (default
    :data:`PAGES`), ``_static/``. Returns the pages written.

    Parameters
    ----------
    fast : bool
        Execute in CI-fast mode (small images, few iterations; what CI builds).
    scrubbers : dict, optional
        ``(notebook stem, cell id) → factory`` (default :data:`~pnp_lessons.site.scrub.SCRUBBERS`).
    """
    with _mode(fast):
        return _build(Path(out), fast, pages, scrubbers, timeout, progress)


def _build(out: Path, fast: bool, pages, scrubbers, timeout: int, progress) -> list[Path]:
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    if not _static(out):
        progress("warning: KaTeX not found in node_modules (run `npm ci`); the math stays as TeX source")
    scrubbers = S.SCRUBBERS if scrubbers is None else scrubbers
    rels = [Path(p) for p in (pages or PAGES)]
    missing = [str(r) for r in rels if not (NOTEBOOKS / r).is_file()]
    if missing:
        raise FileNotFoundError(f"no notebook {', '.join(missing)} in notebooks/; the pages are "
                                f"{', '.join(str(p) for p in PAGES)}")
    exporter = HTMLExporter(template_name="basic")
    entries, written = [], []
    for rel in rels:
        t0 = time.time()
        nb = execute(NOTEBOOKS / rel, timeout=timeout)
        n = replace_widgets(nb, rel.stem, scrubbers, progress)
        body, _ = exporter.from_notebook_node(nb)
        body = re.sub(r'href="(?:[^"]*/)?([^"/]+)\.ipynb"', r'href="\1.html"', body)   # links between lessons
        entries.append((rel, _title(nb), body))
        progress(f"{rel}: executed and exported in {time.time() - t0:.0f} s ({n} widgets)")
    names = [_html_name(r) for r, _, _ in entries]
    for i, (_, title, body) in enumerate(entries):
        prev = f"<a href='{names[i - 1]}'>← {html.escape(entries[i - 1][1])}</a> · " if i else ""
        nxt = f" · <a href='{names[i + 1]}'>{html.escape(entries[i + 1][1])} →</a>" if i + 1 < len(entries) else ""
        nav = f"{prev}<a href='index.html'>PnP Lessons: all lessons</a>{nxt}"
        path = out / names[i]
        path.write_text(_page(title, body, nav))
        written.append(path)
    items = "".join(f"<li><a href='{n}'>{html.escape(t)}</a></li>" for n, (_, t, _) in zip(names, entries,
                                                                                          strict=True))
    mode = "CI-fast mode (small images, few iterations)" if fast else "full mode"
    index = (f"<h1>PnP Lessons</h1><p>From inverse problems and proximal operators to convergent plug-and-play "
             f"image restoration: PnP-ISTA with kernel denoisers (Gavaskar &amp; Chaudhury, 2020) and GS-PnP with "
             f"the gradient-step DRUNet (Hurault, Leclaire &amp; Papadakis, 2022).</p><ol>{items}</ol>"
             f"<p>This site was built by <code>make site</code> on {time.strftime('%Y-%m-%d')} with every notebook "
             f"executed in {mode}. It needs no kernel and no network: the live widgets appear as they stood after "
             f"execution, and the main ones can be scrubbed over a precomputed grid. For the live lessons, run "
             f"<code>make demo</code>.</p>")
    (out / "index.html").write_text(_page("PnP Lessons", index, "<a href='index.html'>PnP Lessons</a>"))
    (out / "site.json").write_text(json.dumps({"pages": [str(r) for r in rels], "fast": fast}, indent=1))
    return [out / "index.html", *written]
