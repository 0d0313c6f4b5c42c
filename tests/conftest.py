"""Shared fixtures: data folder, CUDA skipping, a Voilà server and a headless Chromium."""

from __future__ import annotations

import os
import tempfile
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts OpenMP (see pnp_lessons/__init__.py)
# Every test run computes (the tests check solvers and pages, and a replay from an earlier test would hide them);
# the tests of the shared result cache give it a directory of their own (tests/test_result_cache.py).
os.environ.setdefault("PNP_LESSONS_RESULT_CACHE", "off")
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# CI-fast settings for notebooks and heavy tests come from this variable, never from editing notebooks.
os.environ.setdefault("PNP_LESSONS_FAST", "1")
# follow-the-teacher rooms of the tests (pnp_lessons.follow) in a folder of their own, never the machine's shared one
os.environ.setdefault("PNP_LESSONS_FOLLOW_DIR", tempfile.mkdtemp(prefix="pnp-follow-test-"))


def wait_until(cond, timeout: float = 30.0, step: float = 0.02) -> bool:
    """Poll ``cond()`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def pytest_collection_modifyitems(config, items):
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="no CUDA GPU on this machine (CUDA cases run where one is present)")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks gain nothing from threads, and on a busy 2-core machine two threads
    are several times slower than one (OpenMP barriers); restore the setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def grad_matches_fd():
    """``check(D, x, sigma)``: along three random directions v, ⟨∇g(x), v⟩ from ``D.grad`` equals the
    central difference (g(x + εv) − g(x − εv)) / 2ε of ``D.potential`` to a relative 1e-4 (float64 ``x``)."""

    def check(D, x, sigma, eps=1e-6):
        gx = D.grad(x, sigma)
        gen = torch.Generator().manual_seed(1)
        for _ in range(3):
            v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
            with torch.no_grad():
                fd = (D.potential(x + eps * v, sigma) - D.potential(x - eps * v, sigma)) / (2 * eps)
            an = (gx * v).flatten(1).sum(1)
            assert torch.all((fd - an).abs() <= 1e-4 * an.abs().clamp_min(1e-8)), (fd, an)
        return gx

    return check


@pytest.fixture(scope="session")
def data_root() -> Path:
    from pnp_lessons.images import data_root as _root

    root = _root()
    if not root.is_dir():
        pytest.skip(f"third-party data folder {root} is absent (set PNP_LESSONS_DATA or put ../shared beside the "
                    f"project)")
    return root


def run_async(coro):
    """``asyncio.run(coro)`` in a thread of its own: the session's sync Playwright keeps an event loop running in the
    main thread, where ``asyncio.run`` refuses to start another."""
    import asyncio
    import threading

    out = {}

    def target():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as e:      # re-raised in the test's thread
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def cgroup_spawner_module():
    """``hosting/jupyterhub/cgroup_spawner.py`` imported from its folder (the hub loads it from beside its
    configuration); skipped where JupyterHub is not installed."""
    pytest.importorskip("jupyterhub", reason="JupyterHub is in the test extra (pip install -e '.[test]')")
    sys.path.insert(0, str(ROOT / "hosting" / "jupyterhub"))
    try:
        import cgroup_spawner
    finally:
        sys.path.pop(0)
    return cgroup_spawner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(JUPYTER_CONFIG_DIR=str(ROOT / "etc" / "jupyter"), JUPYTER_PATH=str(ROOT / "share" / "jupyter"),
               JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               MPLCONFIGDIR=str(tmp / "mpl"), JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    return env


def serve(args: list[str], cwd: Path, tmp: Path, probe: str, name: str, timeout: float = 60.0,
          env: dict | None = None):
    """Start a Jupyter server process (output in ``tmp/<name>.log``) and wait until ``probe`` answers; fails the
    test with the log's tail when it does not. Returns the process (stop it with :func:`stop`). ``env``: variables
    set on top of :func:`jupyter_env`."""
    log_path = tmp / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(args, cwd=cwd, env=jupyter_env(tmp) | (env or {}), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(probe, timeout=2)
            return proc
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"{name} did not start; log:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def voila_url(tmp_path_factory):
    """Base URL of a Voilà server serving ``notebooks/`` on a free loopback port."""
    tmp = tmp_path_factory.mktemp("voila")
    port = free_port()
    voila = Path(sys.executable).with_name("voila")
    url = f"http://127.0.0.1:{port}"
    proc = serve([str(voila), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", "."], NOTEBOOKS, tmp,
                 url + "/", "voila")
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


ERROR_MARKERS = ("Traceback", "Error:", "Exception", "There was an error when executing cell",
                 "javascript error", "Could not create a view", "Error displaying widget")


def outside_requests(page, url: str) -> list:
    """The URLs ``page`` will request from anyone but the server of ``url`` (filled as it loads):
    a hosted page asks nothing of a CDN."""
    origin = "{0.scheme}://{0.netloc}/".format(urllib.parse.urlsplit(url))
    outside = []
    page.on("request", lambda r: None if r.url.startswith((origin, "blob:", "data:")) else outside.append(r.url))
    return outside


def assert_no_error_text(text: str):
    for marker in ERROR_MARKERS:
        assert marker not in text, f"page shows error text {marker!r}:\n{text[:2000]}"


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN_JS = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id} (${v.help}) x${v.nodes.length}: ${v.nodes[0].html.slice(0, 160)}`);
}"""


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (``make test`` installs axe-core with
    npm from package-lock.json; skipped with the reason when it is absent)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test runs `npm ci`; it needs node and npm)")
    page.add_script_tag(content=AXE.read_text())
    return page.evaluate(AXE_RUN_JS)
