"""JupyterLab, not only Voilà: a lesson opened in Lab runs all its cells and its widgets render (images in their
grid, no "Error displaying widget"), at 1280×800. ``PNP_LESSONS_SCREENSHOTS=1`` saves
``docs/screenshots/lab_<lesson>.png``."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import NOTEBOOKS, ROOT, free_port, serve, stop

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on loopback serving a copy of the notebooks (Lab saves checkpoints; the repository's copies stay
    clean), with the app exposed to the page so a test can run its commands."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), "pnp-test-token"
    args = [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", f"--port={port}",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--expose-app-in-browser",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]  # offline
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    proc = serve(args, work, tmp, f"{url}/api/status?token={token}", "jupyterlab", timeout=90)
    yield url, token
    stop(proc)


@pytest.mark.parametrize("stem, image", [("03_plug_and_play", "img.pnp-img-iterate"),
                                         ("07_gs_pnp", "img.pnp-img-z")])
def test_a_lesson_runs_in_jupyterlab_and_its_widgets_render(lab, browser, stem, image):
    url, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        # a workspace of its own, reset: Lab would otherwise reopen the previous test's notebook beside this one
        page.goto(f"{url}/lab/workspaces/test-{stem}/tree/{stem}.ipynb?reset&token={token}", timeout=120_000)
        page.wait_for_function(f"() => {{ const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                               f" return w && w.context && w.context.path.endsWith('{stem}.ipynb')"
                               f" && w.sessionContext && w.sessionContext.isReady; }}", timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(f"() => {{ const i = document.querySelector('{image}');"
                               " return i && i.naturalWidth > 0; }", timeout=240_000)
        # every cell ran: the kernel is idle and no execution prompt is left at [*]
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                               " === 'idle' && !Array.from(document.querySelectorAll('.jp-InputPrompt'))"
                               ".some(p => p.textContent.includes('*'))", timeout=240_000)
        text = page.inner_text(".jp-NotebookPanel")
        for bad in ("Error displaying widget", "Traceback", "Could not create a view"):
            assert bad not in text, f"{stem} in Lab shows {bad!r}"
        grid = page.locator(f".pnp-grid:has({image})")
        assert grid.count() == 1 and grid.locator("img").count() >= 4, "the images are not in their grid"
        # with Lab's file browser open the grid has less room than the window: its columns shrink, none is cut off
        cut = page.evaluate("""(sel) => { const panel = document.querySelector('.jp-NotebookPanel')
            .getBoundingClientRect(); return Array.from(document.querySelectorAll(sel + ' img'))
            .filter(i => i.getBoundingClientRect().right > panel.right + 1).length; }""", f".pnp-grid:has({image})")
        assert cut == 0, f"{cut} image(s) of the grid reach past the notebook's right edge"
        assert page.locator(".pnp-badge").count() >= 1, "the theory badge is missing"
        if os.environ.get("PNP_LESSONS_SCREENSHOTS") == "1":
            no = page.locator(".jp-toast-button:has-text('No')")   # Lab's "get notified about news?" toast
            if no.count():
                no.first.click()
            grid.scroll_into_view_if_needed()
            page.evaluate("() => window.scrollBy(0, 0)")
            time.sleep(1.0)
            page.screenshot(path=str(ROOT / "docs" / "screenshots" / f"lab_{stem}.png"))
    finally:
        page.close()
