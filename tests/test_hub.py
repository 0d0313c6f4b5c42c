"""A real JupyterHub for a class, on loopback: the project's hub configuration (hosting/jupyterhub/) with
configurable-http-proxy from npm, the idle culler, and a memory cgroup per user (cgroup_spawner.py).

Five students log in through the hub's login page at the same time, each lands on the welcome lesson, sees the
lessons in their server, opens the playground and moves γ; every one of them gets a new frame. Their servers and
kernels sit in memory cgroups with the configured limit, a process that exceeds it is killed without harming the
student's server, and once the students leave the culler stops every server and the cgroups are removed.

Only the authenticator and the spawner differ from a real class: SharedPasswordAuthenticator instead of PAM, and
SimpleCgroupSpawner (every server as the test's own user) instead of CgroupSpawner (each user's system account).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (CHROMIUM, CHROMIUM_ARGS, ROOT, assert_no_error_text, cgroup_spawner_module, free_port,
                      run_async, wait_until)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHP = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
STUDENTS = [f"student{i}" for i in range(1, 6)]
PASSWORD = "pnp-class-password-2026"
API_TOKEN = "pnp-test-service-token-5d1e0b7c"
MEM_LIMIT = 1536 * 2**20
CULL_TIMEOUT = 90           # seconds idle before the culler stops a server (an hour in the shipped configuration)
ITERATE = "img.pnp-img-iterate"
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))

CONFIG = """
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821   the shipped configuration, then what a test on loopback changes
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/jupyterhub_cookie_secret"
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "cgroup_spawner.SimpleCgroupSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.CgroupSpawner.require_limit = {require_limit}
c.Spawner.mem_limit = {mem_limit}
c.Spawner.args = {args!r}
# activity reaches the hub every 5 s (default 5 min), so that the culler's short timeout sees who is active
c.JupyterHub.last_activity_interval = 5
c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] = "5"
c.JupyterHub.services.append({{"name": "pnp-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "pnp-test", "services": ["pnp-test"],
                                 "scopes": ["list:users", "read:users", "read:servers", "admin:servers"]}})
"""


def cgroups_writable() -> bool:
    found = cgroup_spawner_module().own_memory_cgroup()
    return found is not None and os.access(found[0], os.W_OK)


def api(url: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{url}/hub/api{path}", method=method,
                                 headers={"Authorization": f"token {API_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


def user_cgroup(name: str) -> Path | None:
    """The memory cgroup directory the spawner made for ``name`` (found by its name), or None."""
    for root in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        hits = list(root.rglob(f"jupyterhub-{name}")) if root.is_dir() else []
        if hits:
            return hits[0]
    return None


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    pytest.importorskip("jupyterhub", reason="JupyterHub is in the test extra (pip install -e '.[test]')")
    if not CHP.exists():
        pytest.skip("configurable-http-proxy is not installed (make test runs `npm ci`; it needs node and npm)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when it can)")
    tmp = tmp_path_factory.mktemp("hub")
    port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
    limited = cgroups_writable()
    (tmp / "jupyterhub_config.py").write_text(CONFIG.format(
        config=str(ROOT / "hosting" / "jupyterhub" / "jupyterhub_config.py"), port=port, hub_port=hub_port,
        proxy_api_port=proxy_api_port, chp=str(CHP), tmp=tmp, password=PASSWORD, require_limit=limited,
        mem_limit=MEM_LIMIT, args=["--allow-root"] if os.geteuid() == 0 else [], token=API_TOKEN))
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env.update(PATH=os.pathsep.join([bin_dir, str(CHP.parent), env.get("PATH", "")]), PNP_LESSONS_DIR=str(ROOT),
               PNP_LESSONS_CULL_TIMEOUT=str(CULL_TIMEOUT), PYTHONUNBUFFERED="1",
               CONFIGPROXY_AUTH_TOKEN="pnp-test-proxy-token-0a9c")
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERHUB_API_TOKEN"):
        env.pop(key, None)   # each user's server gets its Jupyter settings from the hub's configuration only
    log_path = tmp / "hub.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([str(Path(bin_dir) / "jupyterhub"), "-f", str(tmp / "jupyterhub_config.py")], cwd=tmp,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return urllib.request.urlopen(f"{url}/hub/health", timeout=2).status == 200
        except Exception:
            return proc.poll() is not None

    if not wait_until(healthy, timeout=90, step=0.5) or proc.poll() is not None:
        proc.kill()
        pytest.fail(f"the hub did not start; log:\n{log_path.read_text()[-4000:]}")
    yield {"url": url, "log": log_path, "limited": limited}
    proc.terminate()    # the hub stops the proxy; the servers were culled (or are stopped by their own cleanup)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    for name in STUDENTS:
        d = user_cgroup(name)
        if d is not None:
            for pid in procs(d):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


async def student(browser, url: str, name: str) -> dict:
    """One student's visit: log in, land on the welcome lesson, list the lessons, move γ in the playground.
    Returns what was seen, and leaves the pages open (the context is returned for the caller to close)."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    seen = {"ctx": ctx, "page": page, "outside": []}
    origin = url + "/"
    page.on("request", lambda r: None if r.url.startswith((origin, "blob:", "data:"))
            else seen["outside"].append(r.url))
    t0 = time.monotonic()
    await page.goto(f"{url}/hub/login")
    await page.fill("#username_input", name)
    await page.fill("#password_input", PASSWORD)
    await page.click("#login_submit")
    # the hub spawns the server and sends the student to the default URL: the welcome lesson in Voilà
    await page.wait_for_url(re.compile(rf"/user/{name}/voila/render/notebooks/00_welcome\.ipynb"), timeout=240_000)
    await page.wait_for_selector("text=Welcome to PnP Lessons", timeout=240_000)
    seen["welcome_s"] = time.monotonic() - t0
    seen["welcome_text"] = await page.inner_text("body")
    # the student's own files, through the server's contents API (cookie login: the hub asks for the XSRF header)
    listing = ("async (u) => { const x = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1];"
               " const r = await fetch(u, {headers: {'X-XSRFToken': x}});"
               " return r.ok ? (await r.json()).content.map(c => c.name) : ['HTTP ' + r.status]; }")
    seen["lessons"] = await page.evaluate(listing, f"/user/{name}/api/contents/notebooks")
    seen["apps"] = await page.evaluate(listing, f"/user/{name}/api/contents/notebooks/apps")
    await page.goto(f"{url}/user/{name}/voila/render/notebooks/apps/playground.ipynb?size=128", timeout=240_000)
    await page.wait_for_function(f"() => {{ const i = document.querySelector('{ITERATE}');"
                                 " return i && i.src && i.src.startsWith('blob:'); }", timeout=240_000)
    await page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=240_000)
    before = await page.get_attribute(ITERATE, "src")
    await page.locator(".pnp-slider-gamma .noUi-handle").focus()
    t1 = time.monotonic()
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function(f"(old) => document.querySelector('{ITERATE}').src !== old", arg=before,
                                 timeout=120_000)
    seen["move_s"] = time.monotonic() - t1
    await page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=240_000)
    seen["caption"] = await page.inner_text(".pnp-caption-iterate")
    seen["playground_text"] = await page.inner_text("body")
    return seen


async def move_again(page) -> str:
    before = await page.get_attribute(ITERATE, "src")
    await page.locator(".pnp-slider-gamma .noUi-handle").focus()
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function(f"(old) => document.querySelector('{ITERATE}').src !== old", arg=before,
                                 timeout=120_000)
    await page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=240_000)
    return await page.inner_text(".pnp-caption-iterate")


def procs(cgroup: Path) -> list[str]:
    return (cgroup / "cgroup.procs").read_text().split()


def command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def over_the_limit(cgroup: Path) -> subprocess.CompletedProcess:
    """A process in the student's cgroup that touches twice the limit, 64 MiB at a time."""
    chunks = 2 * MEM_LIMIT // (64 << 20)
    grab = f"b = []\nfor _ in range({chunks}):\n    b.append(b'\\x01' * (64 << 20))\nprint('survived')"
    return subprocess.run(["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "{sys.executable}" -c "$0"',
                           grab], capture_output=True, text=True, timeout=120)


def test_five_students_use_the_lessons_through_a_real_hub(hub):
    from playwright.async_api import async_playwright

    url = hub["url"]

    async def main():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                visits = await asyncio.gather(*(student(browser, url, name) for name in STUDENTS))
                checks = {}
                if hub["limited"]:
                    checks["killed"] = over_the_limit(user_cgroup(STUDENTS[0]))
                    checks["after_kill"] = await move_again(visits[0]["page"])
                    checks["cgroups"] = {name: user_cgroup(name) for name in STUDENTS}
                    checks["procs"] = {name: {pid: command_line(pid) for pid in procs(d)}
                                       for name, d in checks["cgroups"].items()}
                for v in visits:
                    await v.pop("ctx").close()
                return visits, checks
            finally:
                await browser.close()

    visits, checks = run_async(main())
    log = hub["log"].read_text()
    for name, seen in zip(STUDENTS, visits, strict=True):
        assert_no_error_text(seen["welcome_text"])
        assert_no_error_text(seen["playground_text"])
        assert set(LESSONS) <= set(seen["lessons"]), f"{name} misses lessons: {seen['lessons']}"
        assert "playground.ipynb" in seen["apps"], seen["apps"]
        assert "γ = 0.95" in seen["caption"], f"{name}'s move did not reach γ = 0.95: {seen['caption']}"
        assert seen["outside"] == [], f"{name}'s pages asked other servers: {seen['outside'][:5]}"
    print("\nseconds from login to the welcome lesson:", [round(v["welcome_s"], 1) for v in visits],
          "\nseconds from the γ move to its frame:", [round(v["move_s"], 2) for v in visits])
    assert log.count("memory limit") >= len(STUDENTS) or not hub["limited"]
    if not hub["limited"]:
        pytest.skip("the servers ran, but this machine has no writable memory cgroup: the limit was not applied "
                    "(the hub's log says so)")
    for name, d in checks["cgroups"].items():
        limit_file = d / ("memory.limit_in_bytes" if (d / "memory.limit_in_bytes").exists() else "memory.max")
        assert int(limit_file.read_text()) == MEM_LIMIT, f"{name}: {limit_file}"
        # the single-user server and the Voilà kernel of the open playground page are inside
        commands = [c for c in checks["procs"][name].values()]
        assert any("jupyterhub-singleuser" in c for c in commands), f"{name}'s cgroup holds {commands}"
        assert any("ipykernel" in c for c in commands), f"{name}'s cgroup holds no kernel: {commands}"
    killed = checks["killed"]
    assert killed.returncode in (-9, 137) and "survived" not in killed.stdout, (killed.returncode, killed.stdout)
    assert "γ = 1.00" in checks["after_kill"], "the student's own pages must keep working after the kill"


def test_idle_servers_are_culled_and_their_memory_given_back(hub):
    url = hub["url"]
    if not any(api(url, f"/users/{name}").get("servers") for name in STUDENTS):
        pytest.skip("needs the servers that the class test started")

    def all_stopped():
        return all(not api(url, f"/users/{name}").get("servers") for name in STUDENTS)

    assert wait_until(all_stopped, timeout=CULL_TIMEOUT + 120, step=2), \
        f"servers still running {CULL_TIMEOUT + 120} s after the students left:\n{hub['log'].read_text()[-3000:]}"
    log = hub["log"].read_text()
    for name in STUDENTS:
        assert f"Culling server {name}" in log, f"{name}'s server was not stopped by the culler"
        assert user_cgroup(name) is None, f"{name}'s cgroup was left behind"
