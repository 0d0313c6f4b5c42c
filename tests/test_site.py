"""``make site``: the lessons as a static site, built here and opened from disk in Chromium with no kernel and no
network — every page is there with its figures, a scrubber changes the picture, the math is typeset."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, axe_violations

from pnp_lessons.site.build import KATEX, PAGES, build_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as ``make site`` builds it (CI-fast mode), in a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(["make", "-s", "site", f"SITE={out}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, f"make site failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out


def _names():
    return [Path(p).stem + ".html" for p in PAGES]


def test_every_page_is_built_with_its_outputs_and_nothing_from_outside(site):
    index = (site / "index.html").read_text()
    for name in _names():
        assert f"href='{name}'" in index, f"the index does not link {name}"
        page = (site / name).read_text()
        assert re.search(r"<h1[ >]", page), f"{name} has no title"
        assert "Traceback" not in page and "widget-view+json" not in page
        # everything the page loads is in the site's folder or inline (data: URIs); the SVG namespace is a name
        refs = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
        outside = [r for r in refs if re.match(r"[a-z]+://", r) and not r.startswith("http://www.w3.org/")]
        assert not outside, f"{name} refers outside the site: {outside[:5]}"
        assert ".ipynb\"" not in page, f"{name} still links a notebook instead of its page"
    # the widgets drawn as they stood after execution: lesson 01's explorer shows its pictures
    l01 = (site / "01_inverse_problems.html").read_text()
    assert len(re.findall(r"class=[\"']pnp-static[\"']", l01)) >= 2 and "data:image/png;base64," in l01
    assert json.loads((site / "site.json").read_text())["fast"] is True


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    outside = []

    def route(r):
        if r.request.url.startswith(("file://", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, outside


@pytest.mark.parametrize("name, key, slider, moved", [
    ("03_plug_and_play.html", "lesson03", 0, "γ = 1.2"),
    ("07_gs_pnp.html", "lesson07", 1, "σ·255 = 20"),     # from the reference's 13.8 (noise 7.65) to 20
    ("playground.html", "playground", 0, "γ = 1.2"),
])
def test_a_scrubber_changes_the_picture_without_a_kernel(site, browser, name, key, slider, moved):
    page, outside = _open(browser, site / name)
    try:
        root = f"#pnp-scrub-{key}"
        img = page.locator(f"{root} img.pnp-scrub-img")
        before, caption = img.get_attribute("src"), page.inner_text(f"{root} .pnp-scrub-caption")
        assert before.startswith("data:image/png"), "the scrubber opens without a picture"
        handle = page.locator(f"{root} input[type=range]").nth(slider)
        handle.focus()
        page.keyboard.press("ArrowRight")
        after = page.inner_text(f"{root} .pnp-scrub-caption")
        assert img.get_attribute("src") != before and after != caption, "moving the slider changed nothing"
        assert moved in after, after
        assert page.locator(f"{root} .pnp-scrub-charts svg").count() == 2
        assert page.inner_text(f"{root} .pnp-badge") in ("guarantee holds", "outside the proven range",
                                                          "no guarantee")
        assert not outside, f"the page asked the network for {outside}"
    finally:
        page.close()


def test_beyond_theorem_5_the_badge_says_so(site, browser):
    page, _ = _open(browser, site / "03_plug_and_play.html")
    try:
        root = "#pnp-scrub-lesson03"
        assert page.inner_text(f"{root} .pnp-badge") == "guarantee holds"          # γ = 0.9 < 1
        page.locator(f"{root} input[type=range]").first.focus()
        page.keyboard.press("End")                                                # γ = 3
        assert "γ = 3" in page.inner_text(f"{root} .pnp-scrub-caption")
        assert page.inner_text(f"{root} .pnp-badge") != "guarantee holds"
        assert page.locator(f"{root} input[type=range]").first.get_attribute("aria-valuetext") == "γ = 3"
    finally:
        page.close()


def test_the_math_is_typeset_offline_and_the_page_passes_axe(site, browser):
    if not (KATEX / "katex.min.js").exists():
        pytest.skip("KaTeX is not installed (make site runs `npm ci`; it needs node and npm)")
    page, outside = _open(browser, site / "05_pnp_ista_convergence.html")
    try:
        page.wait_for_selector(".katex", state="attached", timeout=10_000)
        assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").first.inner_text()
        assert not outside
        found = axe_violations(page)
        assert not found, "axe-core finds serious/critical accessibility violations:\n" + "\n".join(found)
    finally:
        page.close()


def test_an_unknown_page_is_named_and_nothing_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook nope.ipynb.*03_plug_and_play.ipynb"):
        build_site(tmp_path, pages=["nope.ipynb"])
    assert not list(tmp_path.glob("*.html"))
