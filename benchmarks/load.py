"""Classroom load: N students on one Voilà server, each moving the playground's sliders.

    .venv/bin/python benchmarks/load.py                    # N = 10, 60 s of slider moves, peer N = 1
    .venv/bin/python benchmarks/load.py --sessions 20 --duration 90 --think 2
    .venv/bin/python benchmarks/load.py --no-peer --json results.json
    .venv/bin/python benchmarks/load.py --sessions 10,20,30 --no-peer --result-cache both --preheat 30
    .venv/bin/python benchmarks/load.py --client protocol --sessions 10,20,30 --no-peer --result-cache both \
        --preheat 30                                        # the server alone (docs/benchmarks.md)

What it does, on loopback only:

1. starts Voilà on ``notebooks/`` with the project's configuration (``etc/jupyter``) and a short
   culling timeout (``--cull-idle``, default 120 s rather than the production 5 minutes, so the
   culling check ends sooner; much shorter and, under load, the culler removes the kernels of
   pages that have not connected yet: seen with 30 s and 20 sessions);
2. **peer**: one session alone (same script, same duration) — the latency a student gets on an
   otherwise idle server;
3. opens ``--sessions`` pages of the playground concurrently in one headless Chromium (each
   page its own browser context, hence its own kernel). Each session waits for its first frame
   (*time to first frame* from the page request), then for ``--duration`` seconds
   repeatedly presses ArrowRight/ArrowLeft on the γ slider, waits for the new iterate image to
   reach the page (*slider-to-frame latency*: from the key event to the image's ``src`` change,
   both timed by the page itself; the harness polls every 100 ms, never on every animation
   frame, so that waiting costs Chromium next to nothing) and for the run to finish, then
   "looks" at the result for ``--think`` seconds (a student, not a stress test);
4. samples every kernel's resident memory (RSS, and USS — the memory it alone holds) every
   second, and the machine's used memory, and reports the peaks;
5. checks that every session kept responding (every move produced a frame within
   ``--frame-timeout``), then closes the pages and checks that the server culls every kernel
   within the culling timeout + interval + a margin;
6. accounts the CPU time of the round: the kernels, the Voilà server and Chromium (which, here,
   renders all N students' pages on the same two cores; in a classroom each student's browser
   runs on their own machine).

``--client protocol`` replaces Chromium by :mod:`widget_client`: each student sends the page's own HTTP requests
and widget messages without a browser (the list of static files is recorded once with Chromium), so the round
measures the server alone, as in a class whose browsers run on the students' computers. Latencies are then timed
from the slider's message to the first new frame's arrival.

``--preheat P`` gives the cache-on server a pool of P preheated playground kernels
(:mod:`pnp_lessons.serving`, ``make demo POOL=P``), filled before the round as a teacher would
before the class; the time it took is reported.

``--result-cache`` chooses the playground's shared result cache (:mod:`pnp_lessons.result_cache`):
``off`` computes every run (the code before the cache), ``on`` gives the server's kernels one
fresh, empty cache directory, ``both`` runs every N with ``off`` first (the peer) and then ``on``,
each on its own server. A move whose run was replayed says so on the page; the report counts them.

It prints a table and a capacity estimate for this machine (memory bound: how many kernels fit
in the memory left; CPU bound: measured latencies at N, against the peer) — estimates, stated as
such. Nothing is asserted; the exit status is 1 when a session stopped responding or kernels
were not culled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = "apps/playground.ipynb"
QUERY = ""   # e.g. "?size=128": the playground's settings as a link (main sets it from --size)
IMG = "img.pnp-img-iterate"
# In every page, before its own scripts: the time of the last key press (the event's own timestamp, set when the
# browser took the input) and of every change of the iterate image's ``src`` (a MutationObserver), both on the
# page's clock. A move's latency is read from these, so the harness needs no fast polling: Playwright's default
# ``wait_for_function`` polls on every animation frame, which kept all N pages drawing 60 frames a second (measured
# on 4 idle pages: 0.028 CPU-s per page per second, against 0.004 with 100 ms polling and 0.0035 with no wait).
PAGE_CLOCK = """
window.__pnpLoad = {key: null, frames: []};
document.addEventListener('keydown', (e) => { window.__pnpLoad.key = e.timeStamp; }, true);
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.matches && r.target.matches('%s')) { window.__pnpLoad.frames.push(performance.now()); }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['src']});
"""
POLL_MS = 100          # how often the harness looks for the first frame and the end of a run (not a latency)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, q):
    """The q-th percentile (0–100) by linear interpolation; NaN for no data."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# --------------------------------------------------------------------------- server
def cpu_time(proc) -> float | None:
    """User + system CPU seconds of a psutil process; None once it has gone."""
    import psutil

    try:
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system


def kernel_processes(server_pid: int) -> list:
    """The ipykernel processes started by the server ``server_pid`` (psutil.Process objects)."""
    import psutil

    out = []
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return out
    for c in children:
        try:
            if "ipykernel" in " ".join(c.cmdline()):
                out.append(c)
        except psutil.Error:
            pass
    return out


KERNEL_START_ERRORS = {"port already in use": "Address already in use",
                       "kernel restarted": "restarting kernel",
                       "no kernel client": "Error occurred while starting new kernel client"}


def kernel_start_errors(log: str) -> dict:
    """How often each of KERNEL_START_ERRORS appears in a server's log."""
    return {k: log.count(v) for k, v in KERNEL_START_ERRORS.items()}


class Server:
    """Voilà on a free loopback port, project configuration, its own state directories."""

    def __init__(self, cull_idle: int, cull_interval: int, fast: bool, result_cache: str = "off", pool: int = 0,
                 fill_delay: float = 600.0, extra: list[str] | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="pnp-load-"))
        self.result_cache = result_cache
        self.pool = pool
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(ROOT / "etc" / "jupyter"),
                   JUPYTER_PATH=str(ROOT / "share" / "jupyter"),
                   JUPYTER_DATA_DIR=str(self.tmp / "data"), JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
                   IPYTHONDIR=str(self.tmp / "ipython"), MPLCONFIGDIR=str(self.tmp / "mpl"),
                   JUPYTER_PLATFORM_DIRS="1", PNP_LESSONS_FAST="1" if fast else "0",
                   OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
                   PNP_LESSONS_RESULT_CACHE="off" if result_cache == "off" else str(self.tmp / "results"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cull_idle, self.cull_interval = cull_idle, cull_interval
        self.log = open(self.tmp / "voila.log", "w")
        voila = Path(sys.executable).with_name("voila")
        preheat = [] if not pool else [   # as `make demo POOL=…` (pnp_lessons/serving.py)
            "--VoilaConfiguration.preheat_kernel=True",
            "--VoilaConfiguration.multi_kernel_manager_class=pnp_lessons.serving.ClassKernelManager",
            "--VoilaKernelManager.kernel_pools_config=" + json.dumps({PAGE: {"pool_size": pool},
                                                                      "default": {"pool_size": 0}}),
            f"--VoilaKernelManager.fill_delay={fill_delay}"]
        self.proc = subprocess.Popen(
            [str(voila), "--no-browser", f"--port={self.port}", "--Voila.ip=127.0.0.1",
             "--Voila.log_datefmt=%H:%M:%S", "--Voila.log_format=%(asctime)s [%(name)s]%(highlevel)s %(message)s",
             f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
             f"--MappingKernelManager.cull_interval={cull_interval}", *preheat, *(extra or []), "."],
            cwd=ROOT / "notebooks", env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=2)
                break
            except Exception:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.close()
                    raise SystemExit("Voilà did not start:\n" + (self.tmp / "voila.log").read_text()[-2000:]) from None
                time.sleep(0.5)

        self.pool_fill_s = None
        self.pool_warm = None
        if pool:       # the teacher starts the server before the class: wait until the pool is warm
            t0 = time.monotonic()
            while f"is filled with {pool} kernel(s)" not in self.log_text():
                if self.proc.poll() is not None or time.monotonic() - t0 > 60 + 10 * pool:
                    self.close()
                    raise SystemExit("the kernel pool did not fill:\n"
                                     + (self.tmp / "voila.log").read_text()[-2000:]) from None
                time.sleep(0.5)
            # "filled" is logged when the kernels start; they are warm once they have done their start-up work
            # (importing torch alone takes ~1 CPU-s) and sit idle in page_query's wait. Idle alone is not enough: in
            # one round every pooled kernel stayed at 51 MiB and ~0 CPU, never started, and read as idle at once.
            self.pool_warm = False
            while time.monotonic() - t0 <= 60 + 10 * pool:
                kernels = self.kernels()
                started = len(kernels) >= pool and all((cpu_time(k) or 0.0) > 1.0 for k in kernels)
                if self._kernels_cpu(2.0) <= 0.1 * pool + 0.05 and started:
                    self.pool_warm = True
                    break
            self.pool_fill_s = time.monotonic() - t0

    def _kernels_cpu(self, window: float) -> float:
        """CPU seconds the kernels used during the next ``window`` seconds."""
        def total():
            return sum(filter(None, (cpu_time(k) for k in self.kernels())))

        before = total()
        time.sleep(window)
        return total() - before

    def kernels(self):
        return kernel_processes(self.proc.pid)

    def log_text(self) -> str:
        return (self.tmp / "voila.log").read_text(errors="replace")

    def close(self, keep_log: Path | None = None):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        if keep_log:
            shutil.copy(self.tmp / "voila.log", keep_log)
        shutil.rmtree(self.tmp, ignore_errors=True)


class MemorySampler:
    """Samples the kernels' RSS/USS and the machine's used memory once a second (a thread)."""

    def __init__(self, server: Server):
        import threading

        self.server = server
        self.peak_rss: dict[int, float] = {}
        self.peak_uss: dict[int, float] = {}
        self.peak_total_rss = 0.0
        self.peak_total_uss = 0.0
        self.peak_used = 0.0
        self.server_rss = 0.0
        self.cpu: dict[str, dict[int, float]] = {"kernels": {}, "voila": {}, "clients": {}}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        import psutil

        self.base_used = (psutil.virtual_memory().total - psutil.virtual_memory().available) / 2**20
        self._t.start()
        return self

    def _run(self):
        import psutil

        while not self._stop.is_set():
            rss_tot = uss_tot = 0.0
            for k in self.server.kernels():
                try:
                    info = k.memory_full_info()
                except psutil.Error:
                    continue
                rss, uss = info.rss / 2**20, info.uss / 2**20
                self.peak_rss[k.pid] = max(self.peak_rss.get(k.pid, 0.0), rss)
                self.peak_uss[k.pid] = max(self.peak_uss.get(k.pid, 0.0), uss)
                rss_tot += rss
                uss_tot += uss
            self.peak_total_rss = max(self.peak_total_rss, rss_tot)
            self.peak_total_uss = max(self.peak_total_uss, uss_tot)
            vm = psutil.virtual_memory()
            self.peak_used = max(self.peak_used, (vm.total - vm.available) / 2**20)
            try:
                self.server_rss = max(self.server_rss, psutil.Process(self.server.proc.pid).memory_info().rss / 2**20)
            except psutil.Error:
                pass
            self._account_cpu()
            self._stop.wait(1.0)

    def _account_cpu(self):
        """CPU seconds (user + system) of every kernel, the server and the clients (Chromium, the harness) so far."""
        import psutil

        groups = [("kernels", self.server.kernels())]
        try:
            groups.append(("voila", [psutil.Process(self.server.proc.pid)]))
        except psutil.Error:
            pass
        # the students' side: every Chromium process, and this harness with its children other than the server
        # (Playwright's driver; with --client protocol, the harness alone is every student)
        clients = {p.pid: p for p in psutil.process_iter(["name"])
                   if (p.info.get("name") or "").startswith(("chromium", "chrome"))}
        try:
            me = psutil.Process()
            server = {self.server.proc.pid} | {c.pid for c in psutil.Process(self.server.proc.pid).children(True)}
            clients.update({p.pid: p for p in [me, *me.children(recursive=True)] if p.pid not in server})
        except psutil.Error:
            pass
        groups.append(("clients", list(clients.values())))
        for group, procs in groups:
            for p in procs:
                t = cpu_time(p)
                if t is not None:
                    self.cpu[group][p.pid] = t

    def cpu_seconds(self, base: dict | None = None) -> dict[str, float]:
        """CPU seconds per group, less what ``base`` (an earlier snapshot of :attr:`cpu`) had already counted."""
        base = base or {}
        return {g: sum(v - base.get(g, {}).get(pid, 0.0) for pid, v in d.items()) for g, d in self.cpu.items()}

    def stop(self):
        self._stop.set()
        self._t.join(5)


# --------------------------------------------------------------------------- one student
async def student(browser, url: str, i: int, duration: float, think: float, frame_timeout: float,
                  open_timeout: float = 300.0, motion: str = "reduce") -> dict:
    """One session: open the page, wait for the first frame, move γ for ``duration`` seconds."""
    res = {"session": i, "first_frame_s": None, "latencies": [], "failures": [], "moves": 0, "replayed": 0}
    ctx = await browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion=motion)
    await ctx.add_init_script(PAGE_CLOCK % IMG)
    page = await ctx.new_page()
    try:
        t0 = time.monotonic()
        await page.goto(f"{url}/voila/render/{PAGE}{QUERY}", timeout=open_timeout * 1000)
        left = max(1.0, open_timeout - (time.monotonic() - t0))
        await page.wait_for_function(f"() => {{ const i = document.querySelector('{IMG}');"
                                     " return i && i.src && i.src.startsWith('blob:'); }", timeout=left * 1000,
                                     polling=POLL_MS)
        res["first_frame_s"] = time.monotonic() - t0
        await page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=open_timeout * 1000)
        handle = page.locator(".pnp-slider-gamma .noUi-handle")
        r = 0
        moves_until = time.monotonic() + duration   # each student moves for `duration` once the page is up
        while time.monotonic() < moves_until:
            await handle.focus()
            old = await page.get_attribute(IMG, "src")
            await page.keyboard.press("ArrowRight" if r % 2 == 0 else "ArrowLeft")
            r += 1
            res["moves"] += 1
            try:
                await page.wait_for_function(f"(old) => document.querySelector('{IMG}').src !== old", arg=old,
                                             timeout=frame_timeout * 1000, polling=POLL_MS)
                # key press → first new image, on the page's clock (the run streams frames; the first is the one)
                res["latencies"].append(await page.evaluate(
                    "() => { const c = window.__pnpLoad; const f = c.frames.find((t) => t >= c.key);"
                    " return (f - c.key) / 1000; }"))
                await page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=frame_timeout * 1000)
            except Exception as e:  # a session that stopped responding
                res["failures"].append(f"move {r}: {type(e).__name__}: {str(e)[:120]}")
                continue
            body = await page.inner_text(".pnp-playground")
            if "could not run" in body or "Traceback" in body:
                res["failures"].append(f"move {r}: the page shows an error")
            if "replayed:" in body:      # the run was the shared cache's (the page says so)
                res["replayed"] += 1
            await asyncio.sleep(think)
    except Exception as e:
        res["failures"].append(f"page: {type(e).__name__}: {str(e)[:200]}")
    finally:
        await ctx.close()   # closes the page: the kernel stays until the server culls it
    return res


class LoopLag:
    """How late the event loop wakes up from a 50 ms sleep (s): a client whose loop runs late times frames late."""

    def __init__(self, period: float = 0.05):
        self.period, self.lags, self._task = period, [], None

    async def _run(self):
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.period)
            self.lags.append(time.monotonic() - t - self.period)

    def start(self):
        self._task = asyncio.ensure_future(self._run())

    def stop(self):
        self._task.cancel()


async def page_assets(url: str, chromium: str) -> list[str]:
    """The same-origin static files (scripts, styles, fonts) a browser fetches to show the page, in order."""
    from playwright.async_api import async_playwright

    assets = []

    def seen(request):
        path = request.url[len(url):] if request.url.startswith(url) else None
        if path and request.method == "GET" and request.resource_type in ("script", "stylesheet", "font", "image") \
                and not path.startswith(("/api/", "/voila/render/")) and path not in assets:
            assets.append(path)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.on("request", seen)
        await page.goto(f"{url}/voila/render/{PAGE}{QUERY}", timeout=300_000)
        await page.wait_for_function(f"() => {{ const i = document.querySelector('{IMG}');"
                                     " return i && i.src && i.src.startsWith('blob:'); }", timeout=300_000,
                                     polling=POLL_MS)
        await browser.close()
    return assets


def record_assets(args) -> list[str]:
    """:func:`page_assets` on a server of its own (so that its kernel takes nothing from a round's pool)."""
    server = Server(args.cull_idle, args.cull_interval, args.fast, "off", 0)
    try:
        return asyncio.run(page_assets(server.url, browser_executable(args.browser_nice, server.tmp)))
    finally:
        server.close()


async def protocol_student(url: str, i: int, duration: float, think: float, frame_timeout: float,
                           open_timeout: float = 300.0, assets: list[str] | None = None) -> dict:
    """One session without a browser (``--client protocol``, :mod:`widget_client`): the same steps as
    :func:`student`, sent as the page's widget messages; latency from the slider's update message to the first new
    frame's arrival."""
    from widget_client import PageClient

    res = {"session": i, "first_frame_s": None, "latencies": [], "failures": [], "moves": 0, "replayed": 0}
    c = PageClient(url, PAGE, QUERY, assets)
    try:
        res["first_frame_s"] = await c.open(open_timeout)
        await c.until_idle(open_timeout)
        r = 0
        moves_until = time.monotonic() + duration
        while time.monotonic() < moves_until:
            r += 1
            res["moves"] += 1
            try:
                latency, replayed = await c.move(r % 2 == 1, frame_timeout)
            except Exception as e:  # a session that stopped responding
                res["failures"].append(f"move {r}: {type(e).__name__}: {str(e)[:120]}")
                continue
            res["latencies"].append(latency)
            text = c.text()
            if "could not run" in text or "Traceback" in text:
                res["failures"].append(f"move {r}: the page shows an error")
            res["replayed"] += replayed
            await asyncio.sleep(think)
    except Exception as e:
        res["failures"].append(f"page: {type(e).__name__}: {str(e)[:200]}")
    finally:
        await c.close()     # as closing the tab: the kernel stays until the server culls it
    return res


def browser_executable(nice: int, folder: Path) -> str:
    """Chromium, started through a wrapper that keeps it from raising its own priority, and ``nice`` steps lower.

    Run as root, Chromium gives its browser and GPU processes nice −8 (seen with ``top`` during a round): on two
    shared cores they then take the CPU from the Voilà server whenever 30 pages draw at once, and the server's
    notebook execution stalls (py-spy: Voilà's main thread busy in every sample while all kernels sat idle; the
    pages came up ~90 s late, or without widgets once Voilà's 60 s ``iopub_timeout`` ran out). In a
    classroom the browsers run on the students' own computers; here the wrapper drops ``CAP_SYS_NICE``
    (``setpriv``), so every Chromium process stays at the priority it was started with, like the server's."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    setpriv = shutil.which("setpriv")
    if not setpriv and not nice:
        return chromium
    drop = f'"{setpriv}" --bounding-set -sys_nice --inh-caps -sys_nice -- ' if setpriv else ""
    wrapper = folder / "chromium-wrapped"
    wrapper.write_text(f'#!/bin/sh\nexec {drop}nice -n {int(nice)} "{chromium}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def classroom(url: str, n: int, duration: float, think: float, frame_timeout: float, stagger: float,
                    open_timeout: float, chromium: str, motion: str = "reduce", client: str = "browser",
                    assets: list[str] | None = None) -> tuple[list[dict], list[float]]:
    """Every student's result, and (``client='protocol'``) how late the clients' event loop woke, in seconds."""
    if client == "protocol":
        # The students' side runs in this thread, at a higher priority than the server (nice −5 where permitted,
        # i.e. as root; Linux keeps a nice value per thread): on their own computers their clients wait for no server
        # process. Their CPU time is still taken from the server's cores and reported ("clients"); how late this
        # thread's event loop ran is measured (LoopLag) and reported, to show whether the clients kept up.
        before = os.getpriority(os.PRIO_PROCESS, 0)
        try:
            os.setpriority(os.PRIO_PROCESS, 0, before - 5)
        except OSError:
            pass
        lag = LoopLag()
        lag.start()
        try:
            tasks = []
            for i in range(n):
                tasks.append(asyncio.create_task(protocol_student(url, i, duration, think, frame_timeout,
                                                                  open_timeout, assets)))
                await asyncio.sleep(stagger)
            results = list(await asyncio.gather(*tasks))
        finally:
            lag.stop()
            try:
                os.setpriority(os.PRIO_PROCESS, 0, before)
            except OSError:
                pass
        return results, lag.lags

    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(student(browser, url, i, duration, think, frame_timeout, open_timeout,
                                                       motion)))
            await asyncio.sleep(stagger)  # students do not all click at the same millisecond
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results), []


def run_round(server: Server, n: int, args) -> dict:
    sampler = MemorySampler(server)
    sampler._account_cpu()            # what the processes had used before the round
    base = {g: dict(d) for g, d in sampler.cpu.items()}
    sampler.start()
    t0 = time.monotonic()
    results, lags = asyncio.run(classroom(server.url, n, args.duration, args.think, args.frame_timeout, args.stagger,
                                          args.open_timeout, browser_executable(args.browser_nice, server.tmp),
                                          args.motion, args.client, getattr(args, "assets", None)))
    wall = time.monotonic() - t0
    sampler.stop()
    lat = [v for r in results for v in r["latencies"]]
    first = [r["first_frame_s"] for r in results if r["first_frame_s"] is not None]
    failures = [(r["session"], f) for r in results for f in r["failures"]]
    cpu = sampler.cpu_seconds(base)
    log = server.log_text()
    out = {
        "client_loop_lag_p50_s": pct(lags, 50), "client_loop_lag_p99_s": pct(lags, 99),
        "client_loop_lag_max_s": max(lags) if lags else float("nan"),
        "sessions": n, "client": args.client, "wall_s": wall, "result_cache": server.result_cache,
        "pool": server.pool,
        "pool_fill_s": server.pool_fill_s, "pool_warm": server.pool_warm,
        # Kernels that could not bind a port (over TCP, a port picked for a kernel can be taken before it binds it),
        # and pages whose kernel never answered: each such preheated page never arrives.
        "kernel_start_errors": kernel_start_errors(log),
        "replayed_moves": sum(r["replayed"] for r in results),
        "cpu_s": cpu, "cpu_share": {g: v / max(sum(cpu.values()), 1e-9) for g, v in cpu.items()},
        "moves": sum(r["moves"] for r in results), "frames": len(lat),
        "responding_sessions": sum(1 for r in results if not r["failures"] and r["first_frame_s"] is not None),
        "failures": failures,
        "first_frame_p50_s": pct(first, 50), "first_frame_max_s": max(first) if first else float("nan"),
        "latency_p50_s": pct(lat, 50), "latency_p90_s": pct(lat, 90), "latency_p99_s": pct(lat, 99),
        "latency_max_s": max(lat) if lat else float("nan"),
        "kernel_rss_peak_mib_median": statistics.median(sampler.peak_rss.values()) if sampler.peak_rss else None,
        "kernel_rss_peak_mib_max": max(sampler.peak_rss.values()) if sampler.peak_rss else None,
        "kernel_uss_peak_mib_median": statistics.median(sampler.peak_uss.values()) if sampler.peak_uss else None,
        "kernels_seen": len(sampler.peak_rss),
        "kernels_total_rss_peak_mib": sampler.peak_total_rss,
        "kernels_total_uss_peak_mib": sampler.peak_total_uss,
        "server_rss_peak_mib": sampler.server_rss,
        "machine_used_before_mib": sampler.base_used, "machine_used_peak_mib": sampler.peak_used,
    }
    return out


def wait_culled(server: Server, sessions: int, margin: float = 30.0,
                per_kernel: float = 5.0) -> tuple[bool, float, int]:
    """Wait until the server holds no kernel but those left in its pool (never culled, not refilled before
    ``--fill-delay``); (culled?, seconds waited, kernels left).

    The culler shuts kernels down one after another (~3 s each on this machine), so the wait
    allows ``per_kernel`` seconds for each kernel alive when the pages closed, on top of the
    timeout, the interval and ``margin`` (runs still in flight finish first: busy kernels are
    not culled)."""
    t0 = time.monotonic()
    pooled = max(0, server.pool - sessions)
    limit = server.cull_idle + server.cull_interval + margin + per_kernel * len(server.kernels())
    while time.monotonic() - t0 < limit:
        if len(server.kernels()) <= pooled:
            return True, time.monotonic() - t0, 0
        time.sleep(1.0)
    return False, time.monotonic() - t0, len(server.kernels()) - pooled


# --------------------------------------------------------------------------- report
def report(rounds: list[dict], culled: list[tuple], args) -> str:
    import psutil

    lines = []
    total_mib = psutil.virtual_memory().total / 2**20
    mode = "CI-fast (48², 20 iterations)" if args.fast else f"full ({args.size}², 150 iterations)"
    who = ("students without a browser (widget protocol)" if args.client == "protocol"
           else "students in Chromium" + (f" at nice {args.browser_nice}" if args.browser_nice else ""))
    lines.append(f"machine: {os.cpu_count()} CPU cores, {total_mib / 1024:.1f} GiB memory; "
                 f"page {PAGE}{QUERY}, {mode} settings; {who}; "
                 f"{args.duration:.0f} s of moves per round, {args.think:.1f} s think time")
    hdr = (f"{'cache':>10} {'N':>3} {'resp.':>6} {'moves':>6} {'replayed':>8} {'first frame p50/max s':>22} "
           f"{'slider→frame p50/p90/p99/max s':>32} "
           f"{'kernel RSS MiB (peak, median)':>30} {'USS':>6} {'all kernels MiB':>16} {'machine used MiB':>17} "
           f"{'CPU s kernels/voila/clients':>29}")
    lines.append(hdr)
    for r in rounds:
        cpu = r["cpu_s"]
        label = r["result_cache"] + (f"+pool {r['pool']}" if r.get("pool") else "")
        lines.append(f"{label:>10} {r['sessions']:>3} {r['responding_sessions']:>3}/{r['sessions']:<2} "
                     f"{r['moves']:>6} {r['replayed_moves']:>8} "
                     f"{r['first_frame_p50_s']:>10.2f} / {r['first_frame_max_s']:<9.2f} "
                     f"{r['latency_p50_s']:>9.2f} / {r['latency_p90_s']:.2f} / {r['latency_p99_s']:.2f} / "
                     f"{r['latency_max_s']:<6.2f} "
                     f"{(r['kernel_rss_peak_mib_median'] or float('nan')):>30.0f} "
                     f"{(r['kernel_uss_peak_mib_median'] or float('nan')):>6.0f} "
                     f"{r['kernels_total_rss_peak_mib']:>16.0f} "
                     f"{r['machine_used_before_mib']:>7.0f}→{r['machine_used_peak_mib']:<8.0f} "
                     f"{cpu['kernels']:>10.0f} / {cpu['voila']:.0f} / {cpu['clients']:.0f}")
    for (ok, waited, left), r in zip(culled, rounds, strict=False):
        verdict = (f"all kernels culled {waited:.0f} s after the pages closed" if ok
                   else f"{left} kernels still alive after {waited:.0f} s")
        lines.append(f"culling after N = {r['sessions']} (cache {r['result_cache']}): " + verdict)
    for r in rounds:
        if r.get("client") == "protocol":
            lines.append(f"N = {r['sessions']}, cache {r['result_cache']}: the clients' event loop ran late by "
                         f"p50 {1000 * r['client_loop_lag_p50_s']:.1f} ms, p99 {1000 * r['client_loop_lag_p99_s']:.1f} "
                         f"ms, max {1000 * r['client_loop_lag_max_s']:.0f} ms (a 50 ms sleep's overshoot)")
    for r in rounds:
        if r.get("pool_fill_s") is not None and r.get("pool_warm") is False:
            lines.append(f"N = {r['sessions']}: the pool of {r['pool']} preheated kernels was NOT warm after "
                         f"{r['pool_fill_s']:.0f} s (some kernel had not done its start-up work); the round ran anyway")
        elif r.get("pool_fill_s") is not None:
            lines.append(f"N = {r['sessions']}: the pool of {r['pool']} preheated kernels filled in "
                         f"{r['pool_fill_s']:.0f} s before the round (the teacher's server start)")
    for r in rounds:
        errors = {k: v for k, v in r.get("kernel_start_errors", {}).items() if v}
        if errors:
            lines.append(f"N = {r['sessions']}, cache {r['result_cache']}: kernel start errors in the server's log: "
                         + ", ".join(f"{k} ×{v}" for k, v in errors.items()) + " (see --keep-log)")
    for r in rounds:
        for s, f in r["failures"][:10]:
            lines.append(f"  N = {r['sessions']}, cache {r['result_cache']}, session {s}: {f}")
    offs = {r["sessions"]: r for r in rounds if r["result_cache"] == "off"}
    for r in rounds:
        peer = offs.get(r["sessions"])
        if r["result_cache"] == "on" and peer is not None:
            lines.append(f"N = {r['sessions']}, cache on against off (same run, each on its own server): slider→frame "
                         f"p50 ×{r['latency_p50_s'] / peer['latency_p50_s']:.2f}, "
                         f"p90 ×{r['latency_p90_s'] / peer['latency_p90_s']:.2f}; first frame p50 "
                         f"×{r['first_frame_p50_s'] / peer['first_frame_p50_s']:.2f}; moves "
                         f"{r['moves']} against {peer['moves']}")
    main = rounds[-1]
    ones = [r for r in rounds if r["sessions"] == 1 and r["result_cache"] == main["result_cache"]]
    if ones and main["sessions"] > 1:
        peer = ones[0]
        lines.append(f"latency at N = {main['sessions']} against N = {peer['sessions']} (same run): "
                     f"p50 ×{main['latency_p50_s'] / peer['latency_p50_s']:.1f}, "
                     f"p90 ×{main['latency_p90_s'] / peer['latency_p90_s']:.1f}")
    uss = main["kernel_uss_peak_mib_median"] or float("nan")
    rss = main["kernel_rss_peak_mib_median"] or float("nan")
    free = total_mib - main["machine_used_before_mib"]
    lines.append(f"capacity estimate (memory): {free:.0f} MiB free before the run / {rss:.0f} MiB peak RSS per "
                 f"kernel ≈ {free / rss:.0f} open pages (RSS counts the shared torch libraries once per kernel; "
                 f"by USS, {uss:.0f} MiB, ≈ {free / uss:.0f})")
    lines.append(f"capacity estimate (CPU): {os.cpu_count()} cores; at N = {main['sessions']} active students the "
                 f"median slider→frame latency was {main['latency_p50_s']:.2f} s (p90 {main['latency_p90_s']:.2f} s)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", default="10",
                    help="concurrent students (default 10); a comma list (10,20,30) runs one round for each")
    ap.add_argument("--result-cache", choices=["off", "on", "both"], default="on",
                    help="the playground's shared result cache: off (every run computed), on (default, as served), "
                         "both (each N with off, the peer, then on)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of slider moves per round")
    ap.add_argument("--think", type=float, default=1.0, help="seconds a student looks at a result")
    ap.add_argument("--frame-timeout", type=float, default=120.0, help="a move without a frame by then fails")
    ap.add_argument("--open-timeout", type=float, default=300.0,
                    help="a page without its first frame by then fails (s)")
    ap.add_argument("--stagger", type=float, default=0.5, help="seconds between two students opening the page")
    ap.add_argument("--cull-idle", type=int, default=120,
                    help="server's cull_idle_timeout for this run (s; production: 300). Below the time a "
                         "starved page needs to connect, the culler kills kernels of pages still loading")
    ap.add_argument("--cull-interval", type=int, default=5)
    ap.add_argument("--preheat", type=int, default=0,
                    help="with the result cache on: a pool of this many preheated playground kernels, filled before "
                         "the round (make demo POOL=…); the peer (cache off) never has one")
    ap.add_argument("--fill-delay", type=float, default=600.0,
                    help="seconds before Voilà refills the pool after a kernel is taken (default 600: not during "
                         "the first minutes of a class)")
    ap.add_argument("--browser-nice", type=int, default=0,
                    help="run Chromium this many nice steps below the server (default 0). On this one machine "
                         "Chromium renders every student's page; with 10 its share goes to the kernels first, as "
                         "when each student's browser runs on their own computer")
    ap.add_argument("--motion", choices=["reduce", "no-preference"], default="reduce",
                    help="the pages' prefers-reduced-motion (default reduce: Voilà's loading spinner stands still, "
                         "which spares this machine's shared CPU 0.03 CPU-s per loading page per second; a "
                         "student's browser pays that on their own computer)")
    ap.add_argument("--voila-arg", action="append", default=[], metavar="ARG",
                    help="one more command-line argument for Voilà (repeatable), e.g. --voila-arg=--debug")
    ap.add_argument("--client", choices=["browser", "protocol"], default="browser",
                    help="browser (default): each student a Chromium page on this machine; protocol: each student "
                         "the page's HTTP request and widget messages without a browser (benchmarks/widget_client.py)"
                         ", as when the browsers run on the students' own computers")
    ap.add_argument("--no-peer", action="store_true", help="skip the N = 1 round")
    ap.add_argument("--fast", action="store_true", help="CI-fast page settings (48², 20 iterations)")
    ap.add_argument("--size", type=int, default=128,
                    help="image size, opened as a link ?size=N (default 128: the size of the table in "
                         "docs/benchmarks.md; the playground itself now opens at 256² on a CPU)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--keep-log", type=Path, help="copy the Voilà server's log there")
    args = ap.parse_args(argv)
    global QUERY
    QUERY = "" if args.fast else f"?size={args.size}"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):   # --client protocol: to list the assets
        raise SystemExit("chromium is not installed (make test installs Debian's chromium)")

    try:
        sessions = [int(v) for v in str(args.sessions).split(",")]
        if min(sessions) < 1:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--sessions must be a positive number or a comma list of them, got {args.sessions!r}") \
            from None
    if args.client == "protocol":
        args.assets = record_assets(args)
        print(f"the page's static files, as a browser fetched them: {len(args.assets)}", flush=True)
    modes = ["off", "on"] if args.result_cache == "both" else [args.result_cache]
    rounds, culled = [], []
    for n in ([] if args.no_peer else [1]) + sessions:
        for mode in modes:
            pool = args.preheat if mode == "on" else 0
            server = Server(args.cull_idle, args.cull_interval, args.fast, mode, pool, args.fill_delay, args.voila_arg)
            try:
                print(f"round N = {n}, result cache {mode} …", flush=True)
                rounds.append(run_round(server, n, args))
                culled.append(wait_culled(server, n))
                print(report(rounds[-1:], culled[-1:], args).splitlines()[2], flush=True)
            finally:
                log = args.keep_log.with_name(f"{args.keep_log.stem}-{n}-{mode}.log") if args.keep_log else None
                server.close(log)
    text = report(rounds, culled, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "culled": culled,
                                         "args": vars(args) | {"json": str(args.json)}},
                                        indent=2, default=str))
    bad = (any(r["failures"] or r["responding_sessions"] < r["sessions"] for r in rounds)
           or not all(c[0] for c in culled))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
