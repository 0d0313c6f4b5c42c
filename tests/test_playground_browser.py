"""Real browser: Voilà serves the playground, the γ slider moves with the keyboard, a new frame appears.

The screenshot goes to a temporary folder; set ``PNP_LESSONS_SCREENSHOTS=1`` to refresh
``docs/screenshots/playground.png`` (the committed one was taken with ``PNP_LESSONS_FAST=0``).
"""

import os
import time

import pytest

from conftest import ROOT, assert_no_error_text

pytestmark = pytest.mark.browser

ITERATE = "img.pnp-img-iterate"


def _src(page):
    return page.get_attribute(ITERATE, "src")


def test_playground_streams_a_new_frame_after_a_keyboard_move(voila_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    widget_errors = []
    page.on("console", lambda m: widget_errors.append(m.text) if m.type == "error" and any(
        k in m.text for k in ("Could not create a view", "Error setting state", "Could not process update")) else None)
    try:
        page.goto(f"{voila_url}/voila/render/apps/playground.ipynb", timeout=120_000)
        # the first reconstruction arrives by itself
        page.wait_for_function(f"() => {{ const i = document.querySelector('{ITERATE}');"
                               " return i && i.src && i.src.startsWith('blob:'); }", timeout=120_000)
        page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
        text = page.inner_text("body")
        assert "Playground" in text and "Device:" in text and "γ (step size)" in text
        assert "from pnp_lessons" not in text, "Voilà must hide the code"
        assert_no_error_text(text)
        assert page.evaluate("() => Array.from(document.querySelectorAll('img.pnp-img'))"
                             ".filter(i => i.naturalWidth > 0).length") == 4, "an image did not render"
        assert "mean" in page.inner_text(".pnp-caption-error")          # y, B, x and B's error map
        assert "run 1:" in page.inner_text(".pnp-playground"), "loading the page must not start a second run"
        before = _src(page)
        caption_before = page.inner_text(".pnp-caption-iterate")
        assert "γ = 0.90" in caption_before
        # the theory on the control: inpainting, W fixed, γ < 1 is Theorem 5's range
        assert page.inner_text(".pnp-badge") == "guarantee holds"
        assert "Theorem 5" in page.get_attribute(".pnp-badge", "aria-label")

        handle = page.locator(".pnp-slider-gamma .noUi-handle")
        handle.focus()
        t0 = time.monotonic()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"(old) => document.querySelector('{ITERATE}').src !== old", arg=before,
                               timeout=15_000)
        latency = time.monotonic() - t0
        page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=60_000)
        caption_after = page.inner_text(".pnp-caption-iterate")
        assert "γ = 0.95" in caption_after, caption_after
        assert page.input_value(".pnp-box-gamma input") == "0.95"
        assert latency < 10, f"a new frame took {latency:.1f} s"
        text = page.inner_text("body")
        assert_no_error_text(text)

        folder = tmp_path
        if os.environ.get("PNP_LESSONS_SCREENSHOTS") == "1":
            folder = ROOT / "docs" / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
        # the widget area, not the page top: the controls, the toolbar with its badge, the images; at 1280×800 and
        # 1920×1080 (where the images go four to a row)
        page.mouse.move(0, 0)
        for (w, h), suffix in (((1280, 800), ""), ((1920, 1080), "-1920")):
            page.set_viewport_size({"width": w, "height": h})
            page.evaluate("() => document.querySelector('.pnp-playground').scrollIntoView({block: 'start'})")
            time.sleep(0.5)
            shot = folder / f"playground{suffix}.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size < 1_000_000
        columns = page.evaluate("() => getComputedStyle(document.querySelector('.pnp-grid')).gridTemplateColumns"
                                ".split(' ').length")
        assert columns == 4, f"at 1920 px the playground's images should stand four to a row, not {columns}"
        page.set_viewport_size({"width": 1280, "height": 800})
        columns = page.evaluate("() => getComputedStyle(document.querySelector('.pnp-grid')).gridTemplateColumns"
                                ".split(' ').length")
        assert columns == 2, f"at 1280 px the playground's images should stand two to a row, not {columns}"

        # pin the result as A: the panel is re-laid out and every image must render again
        page.click("button:has-text('Pin as A')")
        page.wait_for_function("() => { const i = document.querySelector('img.pnp-img-pinned');"
                               " return i && i.naturalWidth > 0; }", timeout=15_000)
        assert "A · iteration" in page.inner_text(".pnp-caption-pinned")
        assert not widget_errors, widget_errors
    finally:
        page.close()


def test_the_playground_opens_with_the_settings_of_its_link(voila_url, browser):
    """A teacher's link (``?solver=fista-tv&gamma=1.30…``) opens the page in that state, a value it cannot use is
    named on the page, and *link to these settings* follows the sliders."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.goto(f"{voila_url}/voila/render/apps/playground.ipynb?solver=fista-tv&gamma=1.30&operator=deblur"
                  "&sigma=999", timeout=120_000)
        page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
        assert page.input_value(".pnp-box-gamma input") == "1.30"
        assert page.evaluate("() => Array.from(document.querySelectorAll('.pnp-playground select'))"
                             ".some(s => s.options[s.selectedIndex] && s.options[s.selectedIndex].text === 'FISTA-TV')")
        assert "σ·255 (denoiser strength) must be between" in page.inner_text(".pnp-link-note")
        assert page.inner_text(".pnp-badge") == "outside the proven range"     # FISTA's rate needs γ ≤ 1
        href = page.get_attribute("a.pnp-share", "href")
        assert href.startswith("?") and "solver=fista-tv" in href and "gamma=1.30" in href and "sigma" not in href
        page.locator(".pnp-slider-gamma .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => document.querySelector('a.pnp-share').getAttribute('href')"
                               ".includes('gamma=1.35')", timeout=15_000)
        page.click("button.pnp-copy")                           # the absolute address goes to the clipboard
        copied = page.get_attribute("button.pnp-copy", "data-copied")
        assert copied.startswith(voila_url + "/voila/render/apps/playground.ipynb?") and "gamma=1.35" in copied
        assert_no_error_text(page.inner_text("body").replace("must be between", ""))
    finally:
        page.close()


def test_students_follow_the_teacher_live(voila_url, browser):
    """Two real pages on one server: the teacher moves γ on the presenter page, the student's read-only page
    shows the new value and recomputes."""
    teacher = browser.new_page(viewport={"width": 1200, "height": 800})
    student = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        teacher.goto(f"{voila_url}/voila/render/apps/present.ipynb?room=t1", timeout=120_000)
        teacher.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
        student.goto(f"{voila_url}/voila/render/apps/follow.ipynb?room=t1", timeout=120_000)
        student.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
        assert "Presenting to room t1" in teacher.inner_text(".pnp-room")
        assert student.is_disabled(".pnp-box-gamma input")
        assert student.input_value(".pnp-box-gamma input") == "0.90"
        teacher.locator(".pnp-slider-gamma .noUi-handle").focus()
        teacher.keyboard.press("ArrowRight")
        student.wait_for_function("() => document.querySelector('.pnp-box-gamma input').value === '0.95'",
                                  timeout=20_000)
        student.wait_for_function("() => document.querySelector('.pnp-caption-iterate').textContent"
                                  ".includes('γ = 0.95')", timeout=60_000)
        assert "Following room t1" in student.inner_text(".pnp-room")
        assert_no_error_text(student.inner_text("body"))
    finally:
        student.close()
        teacher.close()


def test_the_playground_works_by_keyboard_alone(voila_url, browser):
    """Tab walks every control in reading order with a visible focus ring, leaves each slider, and reaches the
    buttons and links; a slider moved with the arrow keys starts a new run."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{voila_url}/voila/render/apps/playground.ipynb", timeout=120_000)
        page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
        seen = []
        for _ in range(40):
            page.keyboard.press("Tab")
            seen.append(page.evaluate("""() => { const e = document.activeElement, cs = getComputedStyle(e);
                return {name: (e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 40),
                        tag: e.tagName, ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2}; }"""))
            if seen[-1]["name"] == "copy link":
                break
        names = [s["name"] for s in seen]
        for wanted in ("γ (step size)", "σ·255 (denoiser strength)", "Reset to defaults", "Pin as A",
                       "link to these settings", "copy link"):
            assert wanted in names, f"{wanted!r} is not reachable with Tab: {names}"
        assert names.index("γ (step size)") < names.index("σ·255 (denoiser strength)") < names.index("Pin as A")
        no_ring = [s["name"] for s in seen if not s["ring"]]
        assert not no_ring, f"focused without a visible focus ring: {no_ring}"
        # the γ handle: the arrows move it, Tab leaves it for its exact-value box
        page.locator(".pnp-slider-gamma .noUi-handle").focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector(".pnp-box-gamma input[value='0.85'], .pnp-busy:has-text('computing')", timeout=15_000)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.closest('.pnp-box-gamma') !== null")
        page.wait_for_function("() => document.querySelector('.pnp-caption-iterate').textContent"
                               ".includes('γ = 0.85')", timeout=60_000)
    finally:
        page.close()


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """Voilà as `make demo POOL=2` starts it (two preheated playground kernels, pnp_lessons.serving's culling),
    with the shared result cache in a directory of its own."""
    import sys
    from pathlib import Path

    from conftest import NOTEBOOKS, free_port, serve, stop, wait_until

    tmp = tmp_path_factory.mktemp("class")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    voila = Path(sys.executable).with_name("voila")
    pools = '{"apps/playground.ipynb": {"pool_size": 2}, "default": {"pool_size": 0}}'
    proc = serve([str(voila), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                  "--VoilaConfiguration.preheat_kernel=True",
                  "--VoilaConfiguration.multi_kernel_manager_class=pnp_lessons.serving.ClassKernelManager",
                  f"--VoilaKernelManager.kernel_pools_config={pools}", "."], NOTEBOOKS, tmp, url + "/", "voila",
                 env={"PNP_LESSONS_RESULT_CACHE": str(tmp / "results")})
    log = tmp / "voila.log"
    assert wait_until(lambda: "is filled with 2 kernel(s)" in log.read_text(), 180, 0.5), log.read_text()[-2000:]
    yield url, log
    stop(proc)


def test_the_class_server_talks_to_its_kernels_over_unix_sockets(class_server):
    """etc/jupyter/voila.json: over loopback TCP a port chosen for a kernel can be taken before the kernel binds it
    when a pool starts (benchmarks/pool_start.py); the pool's kernels must listen on Unix sockets instead."""
    import json
    import re
    from pathlib import Path

    url, log = class_server
    folder = Path(re.search(r"Storing connection files in (\S+?)\.?$", log.read_text(), re.M).group(1))
    infos = [json.loads(f.read_text()) for f in folder.glob("kernel-*.json")]
    assert len(infos) >= 2, "the pool's two kernels"
    for info in infos:
        assert info["transport"] == "ipc", info
        for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
            path = Path(f"{info['ip']}-{info[name]}")
            assert path.is_socket(), path
            assert len(str(path).encode()) <= 107, "a Unix socket path longer than sun_path allows"


def test_a_class_gets_preheated_pages_with_their_links_settings_and_shared_results(class_server, browser):
    """Two students open the same link: each gets a kernel from the pool (warmed before they came), the link's
    settings apply although the kernel ran before the request, and the second student's run is the first one's,
    replayed from the shared result cache, with the same picture."""
    url, log = class_server
    pages = [browser.new_page(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        captions, infos, pictures = [], [], []
        for page in pages:
            t0 = time.monotonic()
            page.goto(f"{url}/voila/render/apps/playground.ipynb?gamma=0.95&size=48", timeout=120_000)
            page.wait_for_function(f"() => {{ const i = document.querySelector('{ITERATE}');"
                                   " return i && i.src && i.src.startsWith('blob:'); }", timeout=120_000)
            page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
            assert time.monotonic() - t0 < 60
            assert_no_error_text(page.inner_text("body"))
            captions.append(page.inner_text(".pnp-caption-iterate"))
            assert "48×48" in page.inner_text(".pnp-caption-truth"), "the link's size"
            infos.append(page.inner_text(".pnp-playground"))
            pictures.append(page.evaluate(f"""async () => {{
                const b = await (await fetch(document.querySelector('{ITERATE}').src)).arrayBuffer();
                return Array.from(new Uint8Array(b)); }}"""))
        assert log.read_text().count("Using pre-heated kernel") == 2
        assert all("γ = 0.95" in c for c in captions), captions      # the link's γ, read after the request came
        assert page.input_value(".pnp-box-gamma input") == "0.95"
        assert "replayed" not in infos[0] and "replayed: a kernel of this server computed these settings" in infos[1]
        assert pictures[0] == pictures[1], "the replayed run shows the computed picture"
        assert captions[0] == captions[1]
    finally:
        for page in pages:
            page.close()
