"""Real-browser checks: Voilà serves every page and each renders without error text.

Set ``PNP_LESSONS_SCREENSHOTS=1`` to save a small screenshot of each page under ``docs/screenshots/``
(the README shows them).
"""

import json
import os
import time
from pathlib import Path

import pytest

from conftest import NOTEBOOKS, ROOT, assert_no_error_text, axe_violations, outside_requests

pytestmark = pytest.mark.browser

PAGES = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in NOTEBOOKS.rglob("*.ipynb")
               if ".ipynb_checkpoints" not in p.parts)


def wait_until_settled(page, timeout=150.0, quiet=3.0):
    """Wait until Voilà has executed the notebook: the page text stops changing for ``quiet`` seconds."""
    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        text = page.inner_text("body")
        if text != last:
            last, since = text, time.time()
        elif time.time() - since > quiet and "Executing" not in text and "Loading" not in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"page did not settle in {timeout:.0f} s (a widget still 'Loading'?); it "
                         f"shows:\n{last[:1500]}")


# Lessons open with text; their screenshot starts a little above the first live widget so the
# README shows what a student interacts with (the playground's widgets are already in view).
FIRST_WIDGET_JS = """() => {
  const el = document.querySelector('.widget-slider, .widget-image, .jp-RenderedImage img');
  if (!el || el.getBoundingClientRect().top + window.scrollY < 600) return false;
  const box = el.closest('.jp-OutputArea') || el;
  box.scrollIntoView({block: 'start'});
  let p = box.parentElement;  // Voila's lab template scrolls a container, not the window
  while (p && !(p.scrollHeight > p.clientHeight && getComputedStyle(p).overflowY !== 'visible')) p = p.parentElement;
  (p || document.scrollingElement).scrollBy(0, -90);
  return true;
}"""


# Labels of visible widgets whose text is wider than the box it is shown in (ipywidgets clips
# them with an ellipsis).
CLIPPED_LABELS_JS = """() => Array.from(document.querySelectorAll('.widget-label, .widget-label-basic'))
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.textContent} (${el.scrollWidth} > ${el.clientWidth} px)`)"""


# Font Awesome icons of visible widgets whose glyph is not drawn in a loaded Font Awesome font.
ICONS_JS = """() => {
  const loaded = new Set(Array.from(document.fonts).filter(f => f.status === 'loaded')
                           .map(f => f.family.replace(/["']/g, '')));
  return Array.from(document.querySelectorAll('i.fa'))
    .filter(el => el.offsetParent !== null)
    .map(el => [el.className, getComputedStyle(el, '::before')])
    .filter(([c, s]) => s.content === 'none' || s.content === '""'
                        || !loaded.has(s.fontFamily.split(',')[0].replace(/["']/g, '').trim()))
    .map(([c, s]) => `${c}: ${s.content} in ${s.fontFamily}`);
}"""


def has_math(path: Path) -> bool:
    """Whether a notebook's Markdown holds $…$ math."""
    nb = json.loads(path.read_text())
    return any("$" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def screenshot(page, stem):
    """With ``PNP_LESSONS_SCREENSHOTS=1``: a lesson's (or the playground's) first live widget at 1280×800
    (``<stem>.png``) and at 1920×1080 (``<stem>-1920.png``), in docs/screenshots (what the README shows)."""
    if os.environ.get("PNP_LESSONS_SCREENSHOTS") == "1" and stem not in ("00_welcome", "follow", "present"):
        out = ROOT / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        for (w, h), suffix in (((1280, 800), ""), ((1920, 1080), "-1920")):
            page.set_viewport_size({"width": w, "height": h})
            time.sleep(1.0)
            page.evaluate(FIRST_WIDGET_JS)
            time.sleep(1.0)
            page.screenshot(path=str(out / f"{stem}{suffix}.png"))
        page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_without_errors(voila_url, browser, page_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    outside = outside_requests(page, voila_url)   # Voilà's stock page loads Font Awesome from a CDN
    try:
        page.goto(f"{voila_url}/voila/render/{page_path}", timeout=120_000)
        page.wait_for_selector("h1", timeout=120_000)
        text = wait_until_settled(page)
        assert_no_error_text(text)
        # every widget label is read whole: a clipped "λ (regularisation weig…" hides the scale
        clipped = page.evaluate(CLIPPED_LABELS_JS)
        assert not clipped, f"widget labels cut off by their column (shorten them or widen it): {clipped}"
        assert not outside, f"the page made requests outside the server (offline classrooms, privacy): {outside}"
        # ... and still draws the widgets' icons (Reset's undo, Upload's arrow) from Voilà's own Font Awesome
        missing = page.evaluate(ICONS_JS)
        assert not missing, f"icons drawn without their font: {missing}"
        if has_math(NOTEBOOKS / page_path):   # typeset by the MathJax bundled with Voilà, not left as $…$
            page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
        screenshot(page, Path(page_path).stem)
        # accessibility: no serious or critical axe-core finding (slider handles and boxes named by their label,
        # images by their caption, links underlined: the page template's script, share/jupyter/voila/templates/pnp)
        found = axe_violations(page)
        assert not found, "axe-core finds serious/critical accessibility violations:\n" + "\n".join(found)
    finally:
        page.close()


def test_the_accessibility_audit_sees_what_it_is_meant_to_see(browser):
    """A negative control: axe-core on a page with an unlabelled slider handle, an image without alt text and a
    link told apart by colour only reports exactly those (so a green audit above means something)."""
    page = browser.new_page()
    try:
        page.set_content("<main><h1>t</h1><p style='color:#222'>see <a href='#x' style='color:#0d47a1;"
                         "text-decoration:none'>this</a> page</p><img src='data:image/png;base64,iVBORw0KGgo='>"
                         "<div role='slider' tabindex='0' aria-valuenow='1' aria-valuemin='0' aria-valuemax='2'>"
                         "</div></main>")
        ids = {v.split()[1] for v in axe_violations(page)}
        assert {"image-alt", "aria-input-field-name", "link-in-text-block"} <= ids, ids
    finally:
        page.close()


def test_welcome_page_shows_device_and_lessons(voila_url, browser):
    page = browser.new_page()
    try:
        page.goto(f"{voila_url}/voila/render/00_welcome.ipynb", timeout=120_000)
        page.wait_for_selector("table.pnp-env", timeout=120_000)
        device = page.inner_text("td.pnp-env-device")
        assert device.startswith("CPU") or device.startswith("CUDA")
        text = page.inner_text("body")
        assert "PyTorch" in text and "01 · Inverse problems" in text
        assert_no_error_text(text)
        assert "environment_report()" not in text  # Voilà hides the code
    finally:
        page.close()


@pytest.mark.parametrize("motion, expected", [("no-preference", "rotation"), ("reduce", "none")])
def test_loading_spinner_stops_for_readers_who_ask_for_less_motion(voila_url, browser, motion, expected):
    """Voilà's spinner turns while a page loads, except when the reader's system asks for reduced motion
    (WCAG 2.3.3; the page template's rule)."""
    ctx = browser.new_context(reduced_motion=motion)
    try:
        page = ctx.new_page()
        page.goto(f"{voila_url}/voila/render/00_welcome.ipynb", wait_until="commit", timeout=120_000)
        page.wait_for_selector("#loading .spinner", state="attached", timeout=120_000)
        assert page.evaluate("getComputedStyle(document.querySelector('#loading .spinner')).animationName") == expected
    finally:
        ctx.close()
