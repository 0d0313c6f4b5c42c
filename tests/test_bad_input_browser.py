"""Bad input in the real page: Voilà serves the playground, Chromium uploads broken and odd files
and types impossible values. Every case must end with a clear message in the page, the kernel
alive, and the next valid action working (a typed γ starts a new run that streams a frame).

One page (one kernel) takes every case in turn, so the kernel survives all of them together.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from conftest import assert_no_error_text

pytestmark = pytest.mark.browser

ITERATE = "img.pnp-img-iterate"
UPLOAD_MSG = ".pnp-controls .pnp-field-msg"


# --------------------------------------------------------------------------- files
def _png(a: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", **kw)
    return buf.getvalue()


def _camera(n=96) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.camera()).resize((n, n)))


def _tiff16() -> bytes:
    a = (_camera().astype(np.uint16) * 257)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="TIFF")
    assert Image.open(io.BytesIO(buf.getvalue())).mode.startswith("I;16")
    return buf.getvalue()


def _cmyk_jpeg() -> bytes:
    rgb = np.stack([_camera()] * 3, -1)
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, format="JPEG", quality=90)
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "CMYK"
    return buf.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.fromarray(np.roll(_camera(), 8 * k, axis=1)) for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 3
    return buf.getvalue()


def _huge_png() -> bytes:
    # 10000 × 10000 = 100 megapixels, a few hundred kB once compressed: the decoder must refuse
    # it from the header, before allocating 100 MB of pixels.
    im = Image.new("L", (10000, 10000), 128)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


REFUSED = [  # (case, file name, bytes, words the message must contain)
    ("non-image", "holiday.png", b"this is a text file, not a picture\n" * 40, "not an image"),
    ("truncated PNG", "cut.png", None, "truncated"),
    ("10000 × 10000", "huge.png", None, "megapixels"),
    ("1 × 1", "dot.png", None, "at least 8×8"),
    ("empty", "empty.png", b"", "empty"),
    ("12 MiB file", "big.png", None, "larger than the 10 MiB limit"),
]
ACCEPTED = [  # (case, file name, words the page's note on the upload must contain)
    ("16-bit TIFF", "scan16.tif", "16-bit grey → values scaled to [0, 1]"),
    ("CMYK JPEG", "print.jpg", "CMYK colour (print) → converted to grey"),
    ("animated GIF", "anim.gif", "first of 3 frames used"),
]


def _payload(case: str) -> bytes:
    if case == "truncated PNG":
        full = _png(_camera(128))
        return full[: len(full) // 2]
    if case == "10000 × 10000":
        return _huge_png()
    if case == "12 MiB file":  # a PNG signature, then noise: the size cap must answer first
        return b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(12 * 2**20)
    if case == "1 × 1":
        return _png(np.full((1, 1), 200, np.uint8))
    if case == "16-bit TIFF":
        return _tiff16()
    if case == "CMYK JPEG":
        return _cmyk_jpeg()
    if case == "animated GIF":
        return _animated_gif()
    raise KeyError(case)


# --------------------------------------------------------------------------- page helpers
@pytest.fixture(scope="module")
def page(voila_url, browser):
    pg = browser.new_page(viewport={"width": 1200, "height": 900})
    pg.widget_errors = []
    pg.on("console", lambda m: pg.widget_errors.append(m.text) if m.type == "error" and any(
        k in m.text for k in ("Could not create a view", "Error setting state", "Could not process update",
                              "Kernel died", "Dead kernel")) else None)
    pg.goto(f"{voila_url}/voila/render/apps/playground.ipynb", timeout=120_000)
    pg.wait_for_function(f"() => {{ const i = document.querySelector('{ITERATE}');"
                         " return i && i.src && i.src.startsWith('blob:'); }", timeout=120_000)
    pg.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
    yield pg
    assert not pg.widget_errors, pg.widget_errors
    pg.close()


def _idle(page, timeout=120_000):
    page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=timeout)


def _type(page, key: str, text: str):
    box = page.locator(f".pnp-box-{key} input")
    box.fill(text)
    box.press("Enter")


def assert_still_alive(page):
    """The next valid action works: a typed γ starts a run whose frame shows that γ."""
    _idle(page)
    current = page.input_value(".pnp-box-gamma input")
    g = next(v for v in (0.85, 0.95, 0.8) if f"{v:.2f}" != current)
    before = page.get_attribute(ITERATE, "src")
    _type(page, "gamma", f"{g:.2f}")
    page.wait_for_function(f"(old) => document.querySelector('{ITERATE}').src !== old", arg=before,
                           timeout=60_000)
    _idle(page)
    cap = page.inner_text(".pnp-caption-iterate")
    assert f"γ = {g:.2f}" in cap, cap
    assert_no_error_text(page.inner_text("body"))


def _upload(page, name: str, data: bytes):
    # ipywidgets' FileUpload opens a file chooser from its button (its <input> is not in the page)
    with page.expect_file_chooser(timeout=10_000) as chooser:
        page.click(".pnp-controls .widget-upload")
    chooser.value.set_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])


def _observation_caption(page) -> str:
    return page.inner_text(".pnp-caption-observation")


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("case,name,data,words", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_refused_upload_says_why_and_changes_nothing(page, case, name, data, words):
    data = _payload(case) if data is None else data
    image_before = page.locator(".pnp-controls select").first.input_value()
    obs_before = page.get_attribute("img.pnp-img-observation", "src")
    _upload(page, name, data)
    page.wait_for_selector(f"{UPLOAD_MSG}:has-text('{words}')", timeout=60_000)
    msg = page.inner_text(UPLOAD_MSG)
    assert words in msg and "The image was not changed" in msg, msg
    assert page.locator(".pnp-controls select").first.input_value() == image_before
    assert page.get_attribute("img.pnp-img-observation", "src") == obs_before
    assert_still_alive(page)


@pytest.mark.parametrize("case,name,words", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_an_odd_but_valid_upload_is_used_and_described(page, case, name, words):
    data = _payload(case)
    before = page.get_attribute("img.pnp-img-observation", "src")
    _upload(page, name, data)
    page.wait_for_function("(old) => document.querySelector('img.pnp-img-observation').src !== old",
                           arg=before, timeout=60_000)
    _idle(page)
    options = page.locator(".pnp-controls select").first.inner_text().replace("\xa0", " ")
    assert f"uploaded: {name}" in options
    assert page.locator(UPLOAD_MSG).count() == 0, "no refusal message may remain"
    note = page.inner_text(".pnp-controls .pnp-field-info")
    assert note.startswith(f"Uploaded {name}:") and words in note, note
    assert "B · iteration" in page.inner_text(".pnp-caption-iterate")
    assert_still_alive(page)


BAD_TYPED = [("gamma", "-1"), ("gamma", "nan"), ("gamma", "1e300"), ("gamma", "abc"),
             ("sigma", "-5"), ("sigma", "NaN"), ("sigma", "1e9"),
             ("lam", "-0.1"), ("lam", "nan"), ("lam", "1e9")]


@pytest.mark.parametrize("key,text", BAD_TYPED, ids=[f"{k}={t}" for k, t in BAD_TYPED])
def test_a_refused_typed_value_says_why_and_is_not_applied(page, key, text):
    if key == "lam" and page.locator(".pnp-box-lam input").is_disabled():
        # λ is used by FISTA-TV only: choose that solver first (a valid action, a new run)
        page.locator(".pnp-controls select").nth(_solver_select_index(page)).select_option(label="FISTA-TV")
        _idle(page)
    if key == "sigma" and page.locator(".pnp-box-sigma input").is_disabled():
        page.locator(".pnp-controls select").nth(_solver_select_index(page)).select_option(label="PnP-ISTA")
        _idle(page)
    box = page.locator(f".pnp-box-{key} input")
    old = box.input_value()
    _type(page, key, text)
    # the message quotes what was typed, so it cannot be the previous case's message
    page.wait_for_function("([k, t]) => { const v = document.querySelector('.pnp-box-' + k).closest('.widget-vbox');"
                           " return v && v.innerText.includes(t) && v.innerText.includes('was not applied'); }",
                           arg=[key, text], timeout=10_000)
    page.wait_for_function("([k, old]) => document.querySelector('.pnp-box-' + k + ' input').value === old",
                           arg=[key, old], timeout=10_000)
    time.sleep(0.5)
    assert "computing" not in page.inner_text(".pnp-busy"), "a refused value must not start a run"
    assert_still_alive(page)


def _solver_select_index(page) -> int:
    labels = page.locator(".pnp-controls .widget-dropdown label").all_inner_texts()
    return labels.index("solver")


def test_a_diverging_gamma_is_stopped_and_explained(page):
    i = _solver_select_index(page)
    page.locator(".pnp-controls select").nth(i).select_option(label="PnP-ISTA")
    _idle(page)
    _type(page, "max_iter", "300")
    _idle(page)
    _type(page, "gamma", "2.5")
    page.wait_for_selector(".pnp-message:has-text('diverged')", timeout=120_000)
    _idle(page)
    msg = page.inner_text(".pnp-message")
    assert "γ" in msg, msg
    assert "diverged" in page.inner_text(".pnp-caption-iterate")
    assert_no_error_text(page.inner_text("body"))
    nan_free = page.evaluate("() => { const i = document.querySelector('img.pnp-img-iterate');"
                             " return i.naturalWidth > 0; }")
    assert nan_free, "the last finite iterate must stay on screen"
    assert_still_alive(page)
    assert page.locator(".pnp-message").count() == 0, "a converging run clears the divergence message"


def test_an_upload_beyond_the_websocket_cap_loses_nothing(page):
    """Above 32 MiB (etc/jupyter: websocket_max_message_size) the server drops the message and the
    connection before the app sees it: no message can be shown, but the page reconnects to the
    same kernel, keeps its settings and its results, and the next action works."""
    caption = page.inner_text(".pnp-caption-iterate")
    _upload(page, "enormous.tif", b"II*\x00" + np.random.default_rng(1).bytes(40 * 2**20))
    time.sleep(5)
    assert page.inner_text(".pnp-caption-iterate") == caption, "the result on screen must stay"
    assert_still_alive(page)
