"""The live widgets without a browser: drive values from Python, wait for the runner, check the views.

Runs in CI-fast mode (small images, few iterations; conftest sets PNP_LESSONS_FAST=1).
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time

import pytest
import torch

from conftest import wait_until
from pnp_lessons.images import to_png_bytes
from pnp_lessons import problems as P
from pnp_lessons.widgets.runner import LiveRunner, friendly_error

SMALL = dict(size=48, max_iter=20)




@pytest.fixture
def app():
    from pnp_lessons.widgets import Playground

    a = Playground(defaults=dict(SMALL), debounce=0.05, frame_interval=0.02, autostart=True)
    assert a.wait(120), "the first run did not finish"
    yield a
    a.close()


# --------------------------------------------------------------------------- pure parts
def test_problems_module_needs_no_widgets_and_math_never_imports_widgets():
    code = ("import sys; import pnp_lessons.problems, pnp_lessons.widgets.runner; "
            "assert 'ipywidgets' not in sys.modules, 'problems/runner imported ipywidgets'; "
            "import pnp_lessons.operators, pnp_lessons.prox, pnp_lessons.solvers, pnp_lessons.images; "
            "import pnp_lessons.denoisers.nlm, pnp_lessons.metrics; "
            "bad = [m for m in sys.modules if m.startswith('pnp_lessons.') and 'widgets' in m and "
            "m not in ('pnp_lessons.widgets', 'pnp_lessons.widgets.runner')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("text", ["abc", "-1", "nan", "inf", "1e300", "", "0"])
def test_typed_values_are_validated(text):
    with pytest.raises(P.SettingsError, match="not applied"):
        P.parse_value("gamma", text)


def test_integer_and_odd_settings():
    assert P.parse_value("max_iter", "12") == 12
    with pytest.raises(P.SettingsError, match="whole number"):
        P.parse_value("max_iter", "12.5")
    with pytest.raises(P.SettingsError, match="odd"):
        P.parse_value("kernel_size", "8")


def test_validate_settings_fills_defaults_and_refuses_unknowns():
    s = P.validate_settings({"gamma": 1.3})
    assert s["gamma"] == 1.3 and s["operator"] == P.default_settings()["operator"]
    with pytest.raises(P.SettingsError, match="unknown setting"):
        P.validate_settings({"gamam": 1.0})
    with pytest.raises(P.SettingsError, match="operator"):
        P.validate_settings({"operator": "teleport"})


def test_fast_mode_defaults_are_small(monkeypatch):
    monkeypatch.setenv("PNP_LESSONS_FAST", "1")
    fast = P.default_settings()
    monkeypatch.setenv("PNP_LESSONS_FAST", "0")
    full = P.default_settings()
    assert fast["size"] < full["size"] and fast["max_iter"] < full["max_iter"]


@pytest.mark.parametrize("operator", ["denoise", "inpaint", "deblur", "sr"])
def test_every_operator_builds_and_iterates(operator):
    cache = P.ProblemCache("cpu")
    s = dict(size=32, operator=operator, max_iter=3, factor=3, kernel_size=5)
    problem, it = P.start(s, cache)
    assert problem.x_true.shape == problem.x0.shape == problem.y_display.shape
    recs = list(it)
    assert recs[-1].k == 3 and recs[-1].psnr is not None
    # moving γ or σ reuses the cached problem
    problem2, _ = P.start(dict(s, gamma=1.1, sigma=20.0), cache)
    assert problem2 is problem


def test_inpainting_start_fills_every_pixel():
    # one observed pixel: the playground's start point (the masked median) is that pixel's value everywhere
    from pnp_lessons.solvers import masked_median

    y = torch.rand(1, 1, 20, 20)
    m = torch.zeros(1, 1, 20, 20)
    m[..., 3, 4] = 1
    x0 = masked_median(y, m)
    assert torch.isfinite(x0).all() and torch.allclose(x0, y[..., 3, 4].expand_as(x0))


def test_gs_pnp_appears_when_weights_are_shipped(tmp_path, monkeypatch):
    weights = pytest.importorskip("pnp_lessons.denoisers.weights")
    from pnp_lessons.denoisers.gsdrunet import DRUNetLight

    weights.export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "gs-tiny-test", out_dir=str(tmp_path))
    # colour weights are not offered: the playground's images are grey
    weights.export_weights(DRUNetLight(3, (4, 4, 4, 4), 1), "gs-tiny-colour", out_dir=str(tmp_path))
    monkeypatch.setenv("PNP_LESSONS_WEIGHTS", str(tmp_path))
    assert ("gs-pnp", "GS-PnP", True, "") in P.available_solvers()
    assert [k for k, *_ in P.available_denoisers() if k.startswith("gs:")] == ["gs:gs-tiny-test"]
    problem, it = P.start(dict(size=32, operator="deblur", kernel_size=5, solver="gs-pnp",
                               denoiser="gs:gs-tiny-test", max_iter=2), P.ProblemCache("cpu"))
    recs = list(it)
    assert recs[-1].objective is not None and "tau" in recs[-1].info
    with pytest.raises(P.SettingsError, match="gradient-step denoiser"):
        P.validate_settings(dict(solver="gs-pnp", denoiser="tv"))


# --------------------------------------------------------------------------- the runner alone
def _slow_counter(n, delay):
    from pnp_lessons.solvers.base import Iterate

    def gen():
        for k in range(1, n + 1):
            time.sleep(delay)
            yield Iterate(k, torch.zeros(1, 1, 2, 2), None, 1.0 / k, None,
                          "max_iter" if k == n else "running", "done" if k == n else "")
    return gen()


def test_runner_cancels_between_iterations_and_keeps_one_worker():
    frames = []
    starts = []

    def start(settings):
        starts.append(settings)
        return settings, _slow_counter(1000, 0.002)

    base = threading.active_count()
    r = LiveRunner(start, frames.append, debounce=0.05, frame_interval=0.01)
    r.submit("a")
    assert wait_until(lambda: frames)
    for i in range(20):
        r.submit(f"b{i}")
        assert threading.active_count() <= base + 1
    assert wait_until(lambda: r.active_runs == 1 and r.last_frame.settings == "b19", 30)
    r.stop()
    assert r.wait(10)
    assert r.max_active == 1
    assert starts == ["a", "b19"], "the debounce must collapse the 20 changes into one run"
    assert frames[-1].final and frames[-1].status == "stopped" and frames[-1].settings == "b19"
    assert threading.active_count() == base


def test_runner_turns_exceptions_into_plain_messages():
    frames = []

    def start(settings):
        raise RuntimeError("boom")

    r = LiveRunner(start, frames.append, debounce=0)
    r.submit(1)
    assert r.wait(10)
    assert frames[-1].status == "error" and "Traceback" not in frames[-1].message and "boom" in frames[-1].message
    assert friendly_error(ValueError("x must be > 0")) == "x must be > 0"


# --------------------------------------------------------------------------- the composed app
def test_first_run_shows_observation_iterate_truth_and_curves(app):
    f = app.runner.last_frame
    assert f.final and f.status in ("converged", "max_iter")
    for slot in (app.panel.observation, app.panel.iterate, app.panel.truth):
        assert slot.image.value[:4] == b"\x89PNG"
        assert slot.caption_text and slot.image.tooltip == slot.caption_text  # caption = text alternative
        assert slot.image.get_state()["description"] == ""  # lets the front end render the tooltip
    assert "PSNR" in app.panel.iterate.caption_text and "iteration" in app.panel.iterate.caption_text
    assert app.curves.value.count("<svg") == 3 and "polyline" in app.curves.value
    assert "Download" in app.download.value and "data:image/png;base64," in app.download.value
    assert "Device:" in app.device_line.value and "idle" in app.busy.value


def test_moving_gamma_streams_a_new_result(app):
    before_img, before_cap = app.panel.iterate.image.value, app.panel.iterate.caption_text
    runs = app.runner.runs_started
    app.controls.params["gamma"].slider.value = 1.5
    assert app.wait(60)
    assert app.runner.runs_started == runs + 1
    assert app.panel.iterate.image.value != before_img
    assert app.panel.iterate.caption_text != before_cap and "γ = 1.50" in app.panel.iterate.caption_text


def test_fifty_rapid_changes_leave_one_computation_with_the_last_parameters(app):
    base = threading.active_count()
    runs = app.runner.runs_started
    app.runner.debounce = 0.3  # 50 changes from Python take far less than this
    slider = app.controls.params["sigma"].slider
    values = [5.0 + 0.5 * i for i in range(50)]
    for v in values:
        slider.value = v
        assert app.runner.active_runs <= 1 and threading.active_count() <= base + 1
    assert app.wait(120)
    assert app.runner.max_active == 1
    assert app.runner.runs_started == runs + 1
    f = app.runner.last_frame
    assert f.final and f.settings["sigma"] == values[-1]
    assert f"σ·255 = {values[-1]:.1f}" in app.panel.iterate.caption_text or "σ" not in P.describe(f.settings)
    assert threading.active_count() == base


def test_stop_button_stops_the_run(app):
    real_start = app.runner.start

    def slow_start(settings):
        problem, it = real_start(settings)

        def slow():
            for rec in it:
                time.sleep(0.05)
                yield rec
        return problem, slow()

    app.runner.start = slow_start
    app.controls.set_values(max_iter=500)
    assert wait_until(lambda: app.runner.active_runs == 1 and app.runner.last_frame is not None
                     and not app.runner.last_frame.final)
    assert "computing" in app.busy.value and not app.stop_button.disabled
    app.stop_button.click()
    assert app.wait(30)
    f = app.runner.last_frame
    assert f.status == "stopped" and f.record.k < 500
    assert "stopped at iteration" in app.message.value and "idle" in app.busy.value


def test_diverging_gamma_shows_the_message(app):
    app.controls.set_values(gamma=2.5, max_iter=300)
    assert app.wait(120)
    f = app.runner.last_frame
    assert f.status == "diverged"
    assert "diverged" in app.message.value and "Traceback" not in app.message.value
    assert "diverged" in app.panel.iterate.caption_text


def test_bad_typed_values_are_refused_with_a_message(app):
    gamma = app.controls.params["gamma"]
    runs = app.runner.runs_started
    old = gamma.value
    for text in ["abc", "-1", "nan", "1e300"]:
        gamma.box.value = text  # what the browser sends when the user types and presses Enter
        assert gamma.value == old and gamma.box.value == gamma.param.format(old)
        assert "not applied" in gamma.message
    gamma.box.value = "1.23"
    assert gamma.value == 1.23 and gamma.message == ""
    assert app.wait(60) and app.runner.runs_started == runs + 1


def test_a_refusal_message_goes_when_the_slider_gives_a_valid_value(app):
    gamma = app.controls.params["gamma"]
    gamma.box.value = "nan"
    assert "not applied" in gamma.message
    gamma.slider.value = 0.5  # the user drags the slider instead of retyping
    assert gamma.value == 0.5 and gamma.message == ""
    gamma.box.value = "-1"
    assert "not applied" in gamma.message
    gamma.set(0.7)  # Reset / suggested parameters
    assert gamma.message == ""
    assert app.wait(60)


def test_changing_the_solver_applies_its_parameters_in_one_run(app):
    runs = app.runner.runs_started
    app.controls.params["lam"].set(0.5)
    app.controls.solver.value = "fista-tv"
    assert app.controls.settings["lam"] == pytest.approx(0.02) and app.controls.denoiser.disabled
    assert not app.controls.params["lam"].slider.disabled and app.controls.params["sigma"].slider.disabled
    assert app.wait(60) and app.runner.runs_started == runs + 1
    assert "FISTA-TV" in app.panel.iterate.caption_text


def test_gs_pnp_shows_and_downloads_the_image_it_reports(app):
    """GS-PnP's reported image is z_k = D_σ(x_k), not x_k (which keeps the noise the data prox lets through):
    the panel, its caption, the download and the PSNR chart say so."""
    import base64

    from pnp_lessons.images import load_image
    from pnp_lessons.metrics import psnr

    if not any(k == "gs-pnp" and ok for k, _, ok, _ in P.available_solvers()):
        pytest.skip("no GS-PnP in this checkout")
    app.controls.operator.value = "deblur"
    app.controls.solver.value = "gs-pnp"
    assert app.wait(120)
    f = app.runner.last_frame
    z, x = f.record.info["z"], f.record.x
    cap = app.panel.iterate.caption_text
    assert "zₖ = xₖ − τλ∇g_σ(xₖ)" in cap and f"PSNR {f.record.info['psnr_z']:.2f} dB" in cap
    assert torch.equal(app.result, z)
    png = base64.b64decode(app.download.value.split("base64,")[1].split("'")[0])
    assert psnr(load_image(png), z.clamp(0, 1).cpu()) > psnr(load_image(png), x.clamp(0, 1).cpu())
    assert "zₖ orange" in app.curves.value


def test_browser_snapping_echoes_neither_change_the_value_nor_rerun(app):
    runs = app.runner.runs_started
    lam, gamma = app.controls.params["lam"], app.controls.params["gamma"]
    lam.set(0.02)
    lam.slider.value = 10 ** -1.7  # what the log slider's grid sends back for 0.02
    gamma.box.value = "0.937"      # an exact typed value ...
    gamma.slider.value = 0.95      # ... that the browser's slider snaps to its 0.05 grid
    assert lam.value == 0.02 and gamma.value == 0.937 and gamma.box.value == "0.937"
    assert app.wait(60) and app.runner.runs_started == runs + 1  # the typed γ only
    assert app.runner.last_frame.settings["gamma"] == 0.937
    gamma.slider.value = 1.0       # a real move of one step is applied
    assert gamma.value == 1.0
    lam.slider.value = 10 ** -1.6  # one step up the log grid: applied, tidied
    assert lam.value == 0.0251 and lam.box.value == "0.0251"


def test_first_run_waits_for_the_first_view():
    from pnp_lessons.widgets import Playground

    a = Playground(defaults=dict(SMALL), debounce=0.01)
    try:
        time.sleep(0.1)
        assert a.runner.runs_started == 0 and a._view_count == 0
        assert "computing" in a.busy.value  # the page says a result is coming
        a._view_count = 1  # what the front end reports when it shows the app
        assert a.wait(60) and a.runner.runs_started == 1
        a._view_count = 2
        assert a.wait(60) and a.runner.runs_started == 1
    finally:
        a.close()


def test_reset_restores_defaults(app):
    defaults = dict(app.controls.settings)
    app.controls.set_values(gamma=1.7, sigma=30.0, operator="deblur", noise=5.0)
    assert app.controls.settings != defaults
    app.controls.reset_button.click()
    assert app.controls.settings == defaults
    assert app.wait(60)


def test_uploads_good_and_bad(app):
    runs = app.runner.runs_started
    assert not app.controls.load_upload(b"certainly not an image", "notes.txt")
    assert "Upload refused" in app.controls.upload_msg.value and app.controls.image.value == "camera"
    assert not app.controls.load_upload(b"\0" * (P.UPLOAD_MAX_BYTES + 1), "huge.png")
    assert "limit" in app.controls.upload_message
    png = to_png_bytes(torch.rand(1, 3, 40, 60, generator=torch.Generator().manual_seed(0)))
    app.controls.upload.value = ({"name": "mine.png", "type": "image/png", "size": len(png),
                                  "content": memoryview(png),
                                  "last_modified": datetime.datetime.now(datetime.UTC)},)  # as from a browser
    assert app.controls.upload.value == ()  # the widget lets go of the file's bytes
    assert app.controls.image.value.startswith("upload:") and "refused" not in app.controls.upload_msg.value
    assert app.controls.upload_message == "Uploaded mine.png: PNG, 60×40, 8-bit colour → converted to grey"
    assert app.wait(60) and app.runner.runs_started > runs
    assert app.runner.last_frame.status in ("converged", "max_iter")
    assert app.panel.truth.image.value != b""


def test_errors_appear_as_plain_messages(app):
    def broken(settings):
        raise RuntimeError("simulated failure")

    app.runner.start = broken
    app.controls.set_values(gamma=1.1)
    assert app.wait(30)
    assert app.runner.last_frame.status == "error"
    assert "simulated failure" in app.message.value and "Traceback" not in app.message.value


def test_pin_compares_two_settings(app):
    assert app.pin()
    assert app.panel.pinned.visible and "A · iteration" in app.panel.pinned.caption_text
    app.controls.set_values(sigma=30.0)
    assert app.wait(60)
    assert app.panel.pinned.image.value != app.panel.iterate.image.value
    assert "pinned A" in app.curves.value
    app.unpin()
    assert not app.panel.pinned.visible


def test_old_iterates_are_released(app):
    import gc
    import weakref

    ref = weakref.ref(app.runner.last_frame.record.x)
    for g in (1.1, 1.2):
        app.controls.set_values(gamma=g)
        assert app.wait(60)
    gc.collect()
    assert ref() is None, "an old run's iterate is still referenced"


def test_threads_return_to_baseline_after_close():
    from pnp_lessons.widgets import Playground

    base = threading.active_count()
    a = Playground(defaults=dict(SMALL), debounce=0.01, autostart=True)
    for g in (0.5, 0.7, 0.9):
        a.controls.set_values(gamma=g)
    a.close()
    assert wait_until(lambda: threading.active_count() == base, 10), threading.enumerate()


# --------------------------------------------------------------------------- a real ipykernel
def test_worker_thread_updates_reach_the_frontend_from_a_real_kernel(tmp_path):
    """Under ipykernel ≥ 7, widget updates set from the worker thread must still go out on iopub
    as comm messages (what JupyterLab and Voilà render), after the cell has finished, and the
    thread must print nothing (no stream, no error output)."""
    from jupyter_client.manager import start_new_kernel

    from conftest import jupyter_env

    env = jupyter_env(tmp_path)
    env.update(PNP_LESSONS_FAST="1", PNP_LESSONS_DEVICE="cpu")
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        def run_and_collect(code, until):
            """Execute ``code``; collect comm messages that arrive after the cell went idle, until
            one of them satisfies ``until`` (the app reports itself idle again)."""
            msg_id = kc.execute(code)
            idle, after, other = False, [], []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    msg = kc.get_iopub_msg(timeout=0.2)
                except Exception:
                    continue
                t = msg["msg_type"]
                if t == "status" and msg["parent_header"].get("msg_id") == msg_id and \
                        msg["content"]["execution_state"] == "idle":
                    idle = True
                elif t == "comm_msg" and idle:
                    after.append(msg)
                    if until(msg["content"]["data"].get("state", {})):
                        break
                elif t in ("stream", "error"):
                    other.append(msg)
            return idle, after, other

        def done(state):
            return "✓ idle" in str(state.get("value", ""))

        idle, after, other = run_and_collect(
            "from pnp_lessons.widgets import Playground\n"
            "app = Playground(defaults=dict(size=48, max_iter=40), frame_interval=0.01, autostart=True)\napp", done)
        assert idle
        assert not other, other
        # the first run streams after the cell is done: its frames come from the worker thread
        assert after and done(after[-1]["content"]["data"]["state"]), "the worker's updates never reached iopub"
        idle, after, other = run_and_collect("app.controls.params['gamma'].slider.value = 1.2", done)
        assert idle and after and not other
        states = [m["content"]["data"].get("state", {}) for m in after]
        assert any("γ = 1.20" in str(s.get("value", "")) for s in states), "the new caption never arrived"
        reply = kc.execute_interactive("import threading; assert app.wait(60); app.close(); "
                                       "print(threading.active_count())", timeout=120, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_slider_css_classes_are_single_names_for_a_lessons_own_param():
    """The browser adds each of ``_dom_classes`` with ``classList.add``, which throws on a name with spaces
    and then skips the widget's layout and label width (a lesson's sliders came out squeezed)."""
    import re

    from pnp_lessons.widgets.lesson_base import Slider

    from pnp_lessons.params import Param

    s = Slider(Param("tau", "τ", "prox step", 0.1, 2.0, 0.1), 1.0)
    classes = list(s.slider._dom_classes) + list(s.box._dom_classes)
    assert classes == ["pnp-slider-tau", "pnp-box-tau"]
    assert all(re.fullmatch(r"[\w-]+", c) for c in classes)
