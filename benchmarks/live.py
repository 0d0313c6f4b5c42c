"""Live playground: slider-to-first-frame latency, frames/s, and memory per Voilà kernel.

    .venv/bin/python benchmarks/live.py                 # in-process parts + Voilà/Chromium part
    .venv/bin/python benchmarks/live.py --no-browser    # in-process parts only
    .venv/bin/python benchmarks/live.py --repeats 10 --size 128

Everything runs on the playground's default settings (inpainting, 70 % missing, noise 10/255,
PnP-ISTA + fixed NLM W, γ = 0.9, σ·255 = 15, 150 iterations, 128² grey camera) unless told
otherwise, on CPU unless CUDA is present. Peers are measured in the same run and printed as ratios:

1. **bare loop** — ``problems.start`` + iterating the solver generator, no widgets, no thread:
   time to the first iterate after a γ change (problem and W cached) and after a σ change (W
   rebuilt), iterations/s;
2. **widgets, in process** — a :class:`~pnp_lessons.widgets.Playground` driven from Python: a
   γ slider change → first frame handed to the views (includes the 150 ms debounce), frames/s and
   iterations/s while streaming; ratio against (1) = the runner's overhead;
3. **Voilà + Chromium** — the real page: ArrowRight on the γ slider handle → the iterate image's
   ``src`` changes in the browser (end-to-end latency), frames/s counted by a MutationObserver,
   and the resident memory (RSS and USS) of the page's kernel once the first run has finished,
   against the kernel of the welcome page (which imports the package and torch) as the peer;
4. **CUDA only** — GS-PnP at 256² with a shipped GS-DRUNet (or a random small one when none is
   shipped, flagged): time per streamed frame.

Timings are medians over ``--repeats``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PNP_LESSONS_FAST", "0")

import torch  # noqa: E402

from pnp_lessons.runtime import describe_device  # noqa: E402
from pnp_lessons import problems as P  # noqa: E402


def med(xs):
    return statistics.median(xs) if xs else float("nan")


# --------------------------------------------------------------------------- 1. bare loop
def bare(settings: dict, repeats: int) -> dict:
    """The bare loop, run in a plain worker thread like the runner's (same torch threading)."""
    import threading

    out: dict = {}
    t = threading.Thread(target=lambda: out.update(_bare(settings, repeats)))
    t.start()
    t.join()
    return out


def _bare(settings: dict, repeats: int) -> dict:
    cache = P.ProblemCache()
    problem, it = P.start(settings, cache)  # warm: problem + W for this σ
    for _ in it:
        pass
    first_gamma, first_sigma, rates = [], [], []
    for r in range(repeats):
        s = dict(settings, gamma=settings["gamma"] + (0.05 if r % 2 == 0 else 0.0))
        t0 = time.perf_counter()
        _, it = P.start(s, cache)
        next(it)
        t1 = time.perf_counter()
        n = 1
        for _ in it:
            n += 1
        t2 = time.perf_counter()
        first_gamma.append(t1 - t0)
        rates.append(n / (t2 - t0))
        s = dict(settings, sigma=settings["sigma"] + 0.5 * (r + 1))  # new σ: W is rebuilt
        t0 = time.perf_counter()
        _, it = P.start(s, cache)
        next(it)
        first_sigma.append(time.perf_counter() - t0)
        it.close()
    return {"first_gamma_s": med(first_gamma), "first_sigma_s": med(first_sigma), "its_per_s": med(rates)}


# --------------------------------------------------------------------------- 2. widgets in process
def widgets(settings: dict, repeats: int) -> dict:
    from pnp_lessons.widgets import Playground

    app = Playground(defaults=settings, autostart=True)
    app.wait(300)
    lat, fps, its = [], [], []
    slider = app.controls.params["gamma"].slider
    for r in range(repeats):
        slider.value = round(settings["gamma"] + (0.05 if r % 2 == 0 else 0.0), 2)
        app.wait(300)
        st = app.runner.stats
        lat.append(st["first_frame_latency_s"])
        fps.append(st["frames_per_s"])
        its.append(st["iterations_per_s"])
    sig = []
    for r in range(max(1, repeats // 2)):
        app.controls.params["sigma"].slider.value = settings["sigma"] + 0.5 * (r + 1)
        app.wait(300)
        sig.append(app.runner.stats["first_frame_latency_s"])
    app.close()
    return {"first_frame_gamma_s": med(lat), "first_frame_sigma_s": med(sig), "frames_per_s": med(fps),
            "its_per_s": med(its), "debounce_s": 0.15}


# --------------------------------------------------------------------------- 3. Voilà + Chromium
def _mem(p) -> tuple[float, float]:
    info = p.memory_full_info()
    return info.rss / 2**20, info.uss / 2**20


def browser(repeats: int) -> dict:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"skipped": "chromium not installed"}
    from playwright.sync_api import sync_playwright

    from load import Server   # benchmarks/load.py: Voilà on loopback with the project's configuration

    server = Server(cull_idle=300, cull_interval=60, fast=False)   # the production culling settings
    url = server.url
    out: dict = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
            # peer: the welcome page's kernel (package + torch imported, no playground)
            page = b.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"{url}/voila/render/00_welcome.ipynb", timeout=180_000)
            page.wait_for_selector("table.pnp-env", timeout=180_000)
            time.sleep(1.0)
            ks = server.kernels()
            out["welcome_kernel_rss_mib"], out["welcome_kernel_uss_mib"] = _mem(ks[-1]) if ks else (None, None)
            page.close()
            time.sleep(1.0)
            before = {k.pid for k in server.kernels()}

            page = b.new_page(viewport={"width": 1200, "height": 800})
            t0 = time.monotonic()
            page.goto(f"{url}/voila/render/apps/playground.ipynb", timeout=180_000)
            img = "img.pnp-img-iterate"
            page.wait_for_function(f"() => {{ const i = document.querySelector('{img}');"
                                   " return i && i.src && i.src.startsWith('blob:'); }", timeout=180_000)
            out["page_open_to_first_frame_s"] = time.monotonic() - t0
            page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=180_000)
            out["page_open_to_first_result_s"] = time.monotonic() - t0
            time.sleep(1.0)
            ks = [k for k in server.kernels() if k.pid not in before]
            out["playground_kernel_rss_mib"], out["playground_kernel_uss_mib"] = _mem(ks[-1]) if ks else (None, None)
            page.evaluate(f"""() => {{ window.__frames = 0; const i = document.querySelector('{img}');
                new MutationObserver(() => window.__frames++).observe(i, {{attributes: true,
                attributeFilter: ['src']}}); }}""")
            handle = page.locator(".pnp-slider-gamma .noUi-handle")
            lat, fps = [], []
            for r in range(repeats):
                handle.focus()
                old = page.get_attribute(img, "src")
                page.evaluate("() => { window.__frames = 0; }")
                t0 = time.monotonic()
                page.keyboard.press("ArrowRight" if r % 2 == 0 else "ArrowLeft")
                page.wait_for_function(f"(old) => document.querySelector('{img}').src !== old", arg=old,
                                       timeout=60_000)
                lat.append(time.monotonic() - t0)
                page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=120_000)
                dt = time.monotonic() - t0
                fps.append(page.evaluate("() => window.__frames") / dt)
            out["browser_first_frame_s"] = med(lat)
            out["browser_first_frame_all_s"] = [round(v, 3) for v in lat]
            out["browser_frames_per_s"] = med(fps)
            ks = [k for k in server.kernels() if k.pid not in before]
            if ks:
                rss_uss = _mem(ks[-1])
                out["playground_kernel_rss_after_moves_mib"], out["playground_kernel_uss_after_moves_mib"] = rss_uss
            page.close()
            b.close()
    finally:
        server.close()
    return out


# --------------------------------------------------------------------------- 4. CUDA: GS-PnP 256²
def cuda_gs(repeats: int) -> dict:
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA GPU"}
    from pnp_lessons.widgets import Playground

    shipped = [k for k, _, ok, _ in P.available_denoisers() if ok and k.startswith("gs:")]
    note = ""
    if not shipped:
        from pnp_lessons.denoisers.gsdrunet import DRUNetLight
        from pnp_lessons.denoisers.weights import export_weights

        d = tempfile.mkdtemp(prefix="pnp-gs-")
        export_weights(DRUNetLight.from_preset("small", 1), "gs-random-small", out_dir=d)
        os.environ["PNP_LESSONS_WEIGHTS"] = d
        shipped = ["gs:gs-random-small"]
        note = "random (untrained) small GS-DRUNet: timing only"
    s = dict(size=256, operator="deblur", kernel="gaussian", kernel_size=9, solver="gs-pnp", denoiser=shipped[0],
             sigma=2 * 10.0, lam=0.075, max_iter=100)
    app = Playground(defaults=s, frame_interval=0.0, autostart=True)  # stream every iterate: time per frame
    app.wait(600)
    per, lat = [], []
    for r in range(repeats):
        app.controls.params["lam"].slider.value = 0.075 * (1.1 if r % 2 == 0 else 1.0)
        app.wait(600)
        st = app.runner.stats
        per.append(st["run_s"] / st["frames"])
        lat.append(st["first_frame_latency_s"])
    app.close()
    return {"device": describe_device(), "denoiser": shipped[0], "note": note, "s_per_frame": med(per),
            "first_frame_s": med(lat)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=None, help="image size (default: the playground's)")
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args(argv)
    s = P.default_settings()
    if a.size:
        s["size"] = a.size
    print(f"device: {describe_device()} · torch {torch.__version__} · settings: {P.describe(s)}, "
          f"{s['size']}² grey, K = {s['max_iter']}")
    b = bare(s, a.repeats)
    print(f"[1] bare loop      first iterate after a γ change {b['first_gamma_s'] * 1e3:7.1f} ms · after a σ change "
          f"(W rebuilt) {b['first_sigma_s'] * 1e3:7.1f} ms · {b['its_per_s']:6.1f} it/s")
    w = widgets(s, a.repeats)
    print(f"[2] widgets        first frame after a γ change {w['first_frame_gamma_s'] * 1e3:7.1f} ms (incl. "
          f"{w['debounce_s'] * 1e3:.0f} ms debounce) · σ change {w['first_frame_sigma_s'] * 1e3:7.1f} ms · "
          f"{w['frames_per_s']:5.1f} frames/s · {w['its_per_s']:6.1f} it/s")
    print(f"    ratios         latency widgets/bare (γ) = {w['first_frame_gamma_s'] / b['first_gamma_s']:.2f}× · "
          f"minus debounce = {(w['first_frame_gamma_s'] - w['debounce_s']) / b['first_gamma_s']:.2f}× · "
          f"throughput widgets/bare = {w['its_per_s'] / b['its_per_s']:.2f}")
    if not a.no_browser:
        v = browser(a.repeats)
        if "skipped" in v:
            print(f"[3] Voilà          skipped: {v['skipped']}")
        else:
            print(f"[3] Voilà+Chromium page open → first frame {v['page_open_to_first_frame_s']:.2f} s, → first "
                  f"result {v['page_open_to_first_result_s']:.2f} s · ArrowRight on γ → new frame in the browser "
                  f"{v['browser_first_frame_s'] * 1e3:.0f} ms (median of {v['browser_first_frame_all_s']}) · "
                  f"{v['browser_frames_per_s']:.1f} frames/s")
            print(f"    memory         playground kernel RSS {v['playground_kernel_rss_mib']:.0f} MiB "
                  f"(USS {v['playground_kernel_uss_mib']:.0f} MiB; after the moves RSS "
                  f"{v.get('playground_kernel_rss_after_moves_mib', float('nan')):.0f} MiB) · welcome-page kernel "
                  f"RSS {v['welcome_kernel_rss_mib']:.0f} MiB (USS {v['welcome_kernel_uss_mib']:.0f}) · ratio "
                  f"{v['playground_kernel_rss_mib'] / v['welcome_kernel_rss_mib']:.2f}×")
            print(f"    ratio          browser/in-process first frame = "
                  f"{v['browser_first_frame_s'] / w['first_frame_gamma_s']:.2f}×")
    g = cuda_gs(a.repeats)
    if "skipped" in g:
        print(f"[4] GS-PnP 256²    skipped: {g['skipped']}")
    else:
        print(f"[4] GS-PnP 256²    {g['device']} · {g['s_per_frame'] * 1e3:.1f} ms per streamed frame · first frame "
              f"{g['first_frame_s'] * 1e3:.0f} ms · {g['denoiser']} {g['note']}")


if __name__ == "__main__":
    main()
