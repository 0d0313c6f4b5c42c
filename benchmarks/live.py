"""Live playground: slider-to-first-frame latency, frames/s, and memory per Voilà kernel.

    .venv/bin/python benchmarks/live.py                 # in-process parts + Voilà/Chromium part
    .venv/bin/python benchmarks/live.py --no-browser    # in-process parts only
    .venv/bin/python benchmarks/live.py --repeats 10 --sizes 128 256

Everything runs on the playground's default problem (inpainting, 70 % missing, noise 10/255, grey camera) with
two methods: PnP-ISTA + fixed NLM W (γ = 0.9, σ·255 = 15, 150 iterations; the slider moved is γ) and GS-PnP with
the shipped grey GS-DRUNet (the registry's suggested σ and λ; the slider moved is λ), on CPU unless CUDA is present.
Each is measured at the playground's default size (256² on CPU, 512² with CUDA) and, as the peer in the same run,
at 128², the default before it grew. Peers are printed as ratios:

1. **bare loop** — ``problems.start`` + iterating the solver generator, no widgets, no thread:
   time to the first iterate after a slider change (problem and W cached) and after a σ change (NLM: W
   rebuilt), iterations/s;
2. **widgets, in process** — a :class:`~pnp_lessons.widgets.Playground` driven from Python: a
   slider change → first frame handed to the views (includes the 150 ms debounce), frames/s and
   iterations/s while streaming; ratio against (1) = the runner's overhead;
3. **Voilà + Chromium** — the real page at its default size: ArrowRight on the slider handle (γ for PnP-ISTA, λ
   for GS-PnP, opened by a link ``?solver=gs-pnp&…``) → the iterate image's ``src`` changes in the browser
   (end-to-end latency), frames/s counted by a MutationObserver, and the resident memory (RSS and USS) of the
   page's kernel once the first run has finished, against the kernel of the welcome page (which imports the
   package and torch) as the peer;
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
def moved(settings: dict, key: str, r: int) -> dict:
    """The settings after the ``r``-th move of the slider ``key`` by one step of its grid, back and forth (what
    ArrowRight / ArrowLeft on its handle does: γ ± 0.05, λ × 10^±0.1; a smaller change is a snap, not a move)."""
    if r % 2:
        return dict(settings)
    p = P.PARAMS[key]
    return dict(settings, **{key: settings[key] * 10 ** p.step if p.log else round(settings[key] + p.step, 6)})


def bare(settings: dict, repeats: int, key: str = "gamma") -> dict:
    """The bare loop, run in a plain worker thread like the runner's (same torch threading)."""
    import threading

    out: dict = {}
    t = threading.Thread(target=lambda: out.update(_bare(settings, repeats, key)))
    t.start()
    t.join()
    return out


def _bare(settings: dict, repeats: int, key: str) -> dict:
    cache = P.ProblemCache()
    problem, it = P.start(settings, cache)  # warm: problem + W for this σ
    for _ in it:
        pass
    first_move, first_sigma, rates = [], [], []
    for r in range(repeats):
        s = moved(settings, key, r)
        t0 = time.perf_counter()
        _, it = P.start(s, cache)
        next(it)
        t1 = time.perf_counter()
        n = 1
        for _ in it:
            n += 1
        t2 = time.perf_counter()
        first_move.append(t1 - t0)
        rates.append(n / (t2 - t0))
        s = dict(settings, sigma=settings["sigma"] + 0.5 * (r + 1))  # new σ: W is rebuilt
        t0 = time.perf_counter()
        _, it = P.start(s, cache)
        next(it)
        first_sigma.append(time.perf_counter() - t0)
        it.close()
    return {"first_move_s": med(first_move), "first_sigma_s": med(first_sigma), "its_per_s": med(rates)}


# --------------------------------------------------------------------------- 2. widgets in process
def widgets(settings: dict, repeats: int, key: str = "gamma") -> dict:
    from pnp_lessons.widgets import Playground

    app = Playground(defaults=settings, autostart=True)
    app.wait(300)
    lat, fps, its = [], [], []
    slider = app.controls.params[key].slider
    for r in range(repeats):
        before = app.runner.stats.get("run_id")
        slider.value = moved(settings, key, r)[key]
        app.wait(300)
        st = app.runner.stats
        if st.get("run_id") == before:
            raise RuntimeError(f"moving {key} started no run: the measurement would be stale")
        lat.append(st["first_frame_latency_s"])
        fps.append(st["frames_per_s"])
        its.append(st["iterations_per_s"])
    sig = []
    for r in range(max(1, repeats // 2)):
        app.controls.params["sigma"].slider.value = settings["sigma"] + 0.5 * (r + 1)
        app.wait(300)
        sig.append(app.runner.stats["first_frame_latency_s"])
    app.close()
    return {"first_frame_move_s": med(lat), "first_frame_sigma_s": med(sig), "frames_per_s": med(fps),
            "its_per_s": med(its), "debounce_s": 0.15}


# --------------------------------------------------------------------------- 3. Voilà + Chromium
def _mem(p) -> tuple[float, float]:
    info = p.memory_full_info()
    return info.rss / 2**20, info.uss / 2**20


def browser(repeats: int, query: str = "", key: str = "gamma") -> dict:
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
            page.goto(f"{url}/voila/render/apps/playground.ipynb" + (f"?{query}" if query else ""), timeout=180_000)
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
            handle = page.locator(f".pnp-slider-{key} .noUi-handle")
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


def methods() -> list[tuple[str, dict, str, str]]:
    """(label, settings, slider moved, link query) for PnP-ISTA + NLM and GS-PnP on the default problem."""
    from pnp_lessons.problems import settings_to_query, suggested_parameters

    s = P.default_settings()
    out = [("PnP-ISTA + NLM", s, "gamma", "")]
    gs = [k for k, _, ok, _ in P.available_denoisers() if ok and k.startswith("gs:")]
    if gs:
        g = dict(s, solver="gs-pnp", denoiser=gs[0])
        g.update(suggested_parameters(g))
        out.append(("GS-PnP (" + gs[0][3:] + ")", g, "lam",
                    settings_to_query({k: g[k] for k in ("solver", "denoiser", "sigma", "lam")})))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="image sizes (default: 128, the peer, and the playground's default)")
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args(argv)
    default = P.default_settings()["size"]
    sizes = a.sizes or sorted({128, default})
    print(f"device: {describe_device()} · torch {torch.__version__} · problem: "
          f"{P.describe(P.default_settings()).split(' · ', 1)[1]}, grey camera · default size {default}² · "
          f"peer: 128² (the default before) · target: first frame ≤ 0.5 s after a slider move")
    for label, s0, key, query in methods():
        sym = P.PARAMS[key].symbol
        rows = {}
        for n in sizes:
            s = dict(s0, size=n)
            b = bare(s, a.repeats, key)
            w = widgets(s, a.repeats, key)
            rows[n] = (b, w)
            print(f"[1] {label:22s} {n:4d}² bare: first iterate after a {sym} change "
                  f"{b['first_move_s'] * 1e3:7.1f} ms · after a σ change {b['first_sigma_s'] * 1e3:7.1f} ms · "
                  f"{b['its_per_s']:6.1f} it/s")
            print(f"[2] {label:22s} {n:4d}² widgets: first frame after a {sym} change "
                  f"{w['first_frame_move_s'] * 1e3:7.1f} ms (incl. {w['debounce_s'] * 1e3:.0f} ms debounce) · "
                  f"σ change {w['first_frame_sigma_s'] * 1e3:7.1f} ms · {w['frames_per_s']:5.1f} frames/s · "
                  f"{w['its_per_s']:6.1f} it/s · runner overhead (minus debounce) "
                  f"{(w['first_frame_move_s'] - w['debounce_s']) / b['first_move_s']:.2f}×")
        if 128 in rows and default in rows and default != 128:
            (b0, w0), (b1, w1) = rows[128], rows[default]
            print(f"    ratios {label:15s} {default}² / 128²: first frame (widgets) "
                  f"{w1['first_frame_move_s'] / w0['first_frame_move_s']:.2f}× · bare first iterate "
                  f"{b1['first_move_s'] / b0['first_move_s']:.2f}× · it/s {b1['its_per_s'] / b0['its_per_s']:.2f}×")
        if a.no_browser:
            continue
        v = browser(a.repeats, query, key)
        if "skipped" in v:
            print(f"[3] Voilà          skipped: {v['skipped']}")
            continue
        w = rows.get(default, next(iter(rows.values())))[1]
        print(f"[3] {label:22s} {default:4d}² Voilà+Chromium: page open → first frame "
              f"{v['page_open_to_first_frame_s']:.2f} s, → first result {v['page_open_to_first_result_s']:.2f} s · "
              f"ArrowRight on {sym} → new frame in the browser {v['browser_first_frame_s'] * 1e3:.0f} ms (median of "
              f"{v['browser_first_frame_all_s']}) · {v['browser_frames_per_s']:.1f} frames/s · "
              f"browser/in-process {v['browser_first_frame_s'] / w['first_frame_move_s']:.2f}×")
        print(f"    memory         playground kernel RSS {v['playground_kernel_rss_mib']:.0f} MiB "
              f"(USS {v['playground_kernel_uss_mib']:.0f} MiB; after the moves RSS "
              f"{v.get('playground_kernel_rss_after_moves_mib', float('nan')):.0f} MiB) · welcome-page kernel "
              f"RSS {v['welcome_kernel_rss_mib']:.0f} MiB (USS {v['welcome_kernel_uss_mib']:.0f}) · ratio "
              f"{v['playground_kernel_rss_mib'] / v['welcome_kernel_rss_mib']:.2f}×")
    g = cuda_gs(a.repeats)
    if "skipped" in g:
        print(f"[4] GS-PnP 256²    skipped: {g['skipped']}")
    else:
        print(f"[4] GS-PnP 256²    {g['device']} · {g['s_per_frame'] * 1e3:.1f} ms per streamed frame · first frame "
              f"{g['first_frame_s'] * 1e3:.0f} ms · {g['denoiser']} {g['note']}")


if __name__ == "__main__":
    main()
