"""The hosting recipes of hosting/README.md, tried as far as this machine allows: Voilà as a
Jupyter-server extension (Binder, JupyterHub's default mode) started through ``binder/start``,
the GPU-server script behind a base URL with a token, and the files the other hosts read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, assert_no_error_text, cgroup_spawner_module, free_port, jupyter_env, outside_requests

ITERATE = "img.pnp-img-iterate"
TOKEN = "pnp-test-token-8f3a1c"


# --------------------------------------------------------------------------- files
def test_binder_installs_the_cpu_torch_pinned_in_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch"))
    req = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    lines = [ln.strip() for ln in req if ln.strip() and not ln.startswith("#")]
    assert torch_pin in lines, f"binder/requirements.txt must pin {torch_pin}"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    py = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(\d+)", py) and int(py.split(".")[1]) >= 11, py
    for script in ("postBuild", "start"):
        p = ROOT / "binder" / script
        assert os.access(p, os.X_OK), f"binder/{script} must be executable"
        subprocess.run(["bash", "-n", str(p)], check=True)
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_both_serving_modes_read_the_same_voila_settings():
    """Standalone Voilà reads voila.json, the server extension jupyter_server_config.json:
    sources hidden, tracebacks hidden, culling and the upload cap must agree."""
    import json

    standalone = json.loads((ROOT / "etc/jupyter/voila.json").read_text())
    extension = json.loads((ROOT / "etc/jupyter/jupyter_server_config.json").read_text())
    assert standalone["VoilaConfiguration"] == extension["VoilaConfiguration"]
    assert standalone["VoilaExecutor"] == extension["VoilaExecutor"]
    assert standalone["VoilaExecutor"]["iopub_timeout"] >= 30, "pages lose their widgets under load otherwise"
    assert standalone["VoilaConfiguration"]["strip_sources"] is True
    assert standalone["VoilaConfiguration"]["show_tracebacks"] is False
    assert standalone["MappingKernelManager"] == extension["MappingKernelManager"]
    assert standalone["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert (standalone["Voila"]["tornado_settings"]["websocket_max_message_size"]
            == extension["ServerApp"]["tornado_settings"]["websocket_max_message_size"])
    # The classroom server starts dozens of kernels at once: over loopback TCP a port picked for a kernel can be taken
    # before the kernel binds it (ZMQError: Address already in use; its preheated page never arrives). Voilà keeps
    # its connection files in a short /tmp/voila_* directory, so the Unix socket paths fit in 107 bytes.
    assert standalone["KernelManager"]["transport"] == "ipc"


@pytest.mark.parametrize("mode", ["extension", "voila-only"])
def test_the_jupyterhub_config_loads_in_both_modes(mode, monkeypatch):
    from traitlets.config import Config

    cfg = Config()
    monkeypatch.setenv("PNP_LESSONS_HUB_MODE", mode)
    path = ROOT / "hosting/jupyterhub/jupyterhub_config.py"
    code = path.read_text()
    exec(compile(code, "jupyterhub_config.py", "exec"), {"get_config": lambda: cfg, "__file__": str(path)})
    assert cfg.Spawner.mem_limit and cfg.Spawner.environment["OMP_WAIT_POLICY"] == "PASSIVE"
    assert cfg.Spawner.environment["JUPYTER_CONFIG_PATH"].endswith("/etc/jupyter")
    if mode == "extension":
        assert cfg.Spawner.default_url == "/voila/render/notebooks/00_welcome.ipynb"
        assert (ROOT / "notebooks/00_welcome.ipynb").exists()
    else:
        assert cfg.Spawner.cmd == ["jhsingle-native-proxy"] and "voila" in cfg.Spawner.args
    monkeypatch.setenv("PNP_LESSONS_HUB_MODE", "lab")
    with pytest.raises(ValueError, match="PNP_LESSONS_HUB_MODE"):
        exec(compile(code, "jupyterhub_config.py", "exec"), {"get_config": lambda: Config(), "__file__": str(path)})


def test_nginx_forwards_websockets_under_the_base_url_of_the_gpu_script():
    conf = (ROOT / "hosting/gpu/nginx.conf").read_text()
    script = (ROOT / "hosting/gpu/serve.sh").read_text()
    base = re.search(r'BASE_URL="\$\{BASE_URL:-([^}]+)\}"', script).group(1)
    assert f"location {base} " in conf
    for line in ("proxy_http_version 1.1", "proxy_set_header Upgrade $http_upgrade",
                 "proxy_set_header Connection $connection_upgrade", "proxy_read_timeout"):
        assert line in conf, line
    for var in ("CUDA_VISIBLE_DEVICES", "PYTORCH_NVML_BASED_CUDA_CHECK", "PNP_LESSONS_TOKEN", "JUPYTER_CONFIG_DIR",
                "JUPYTER_PATH"):
        assert var in script, var


# --------------------------------------------------------------------------- servers
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None   # report the 302 itself (a redirect to the login page means "token needed")


def _status(url: str) -> int:
    try:
        return urllib.request.build_opener(_NoRedirect).open(url, timeout=60).status
    except urllib.error.HTTPError as e:
        return e.code


def _wait(url: str, proc, log: Path):
    """Until the server answers anything (a page, a redirect to a login, a refusal)."""
    deadline = time.time() + 120
    while True:
        try:
            _status(url)
            return
        except Exception:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"server did not start; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _first_frame(browser, url: str):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    outside = outside_requests(page, url)
    try:
        page.goto(url, timeout=180_000)
        page.wait_for_function(f"() => {{ const i = document.querySelector('{ITERATE}');"
                               " return i && i.src && i.src.startsWith('blob:'); }", timeout=180_000)
        page.wait_for_selector(".pnp-busy:has-text('idle')", timeout=180_000)
        text = page.inner_text("body")
        assert "Playground" in text and "from pnp_lessons" not in text, "sources must stay hidden"
        assert_no_error_text(text)
        before = page.get_attribute(ITERATE, "src")
        page.locator(".pnp-slider-gamma .noUi-handle").focus()
        page.keyboard.press("ArrowRight")   # the kernel websocket works through this route
        page.wait_for_function(f"(old) => document.querySelector('{ITERATE}').src !== old", arg=before,
                               timeout=60_000)
        assert not outside, f"the page made requests outside its server: {outside}"
    finally:
        page.close()


def _math_typeset(browser, url: str):
    """A lesson's formulas are typeset by the MathJax bundled with Voilà. As a server extension,
    Voilà falls back to MathJax 2 from cdnjs unless the server's settings null both mathjax_url and
    mathjax_config (etc/jupyter/jupyter_server_config.json): offline, the $…$ then stay raw."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    outside = outside_requests(page, url)
    try:
        page.goto(url, timeout=180_000)
        page.wait_for_selector("mjx-container", state="attached", timeout=120_000)
        assert not outside, f"the page made requests outside its server: {outside}"
    finally:
        page.close()


@pytest.mark.browser
def test_voila_as_a_server_extension_through_binder_start(browser, tmp_path):
    """What Binder and JupyterHub's default mode run: a Jupyter server with Voilà's extension,
    configured only by binder/start (JUPYTER_CONFIG_PATH), the playground at /voila/render/…"""
    env = jupyter_env(tmp_path)
    env.pop("JUPYTER_CONFIG_DIR")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "user-config")   # an empty user config, as on Binder
    port = free_port()
    log = tmp_path / "server.log"
    server = Path(sys.executable).with_name("jupyter-server")
    proc = subprocess.Popen([str(ROOT / "binder" / "start"), str(server), "--no-browser", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                             f"--ServerApp.root_dir={ROOT}"] + (["--allow-root"] if os.geteuid() == 0 else []),
                            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/api/status", proc, log)
        page = "/voila/render/notebooks/apps/playground.ipynb"
        assert _status(url + page) in (302, 403), "the server must ask for the token"
        _first_frame(browser, f"{url}{page}?token={TOKEN}")
        _math_typeset(browser, f"{url}/voila/render/notebooks/02_proximal_operators.ipynb?token={TOKEN}")
        assert "Culling kernels" in log.read_text() or "cull" in log.read_text().lower(), \
            "binder/start must bring the project's culling configuration"
    finally:
        _stop(proc)


@pytest.mark.browser
def test_the_gpu_script_serves_under_its_base_url_with_a_token(browser, tmp_path):
    env = dict(os.environ, PNP_LESSONS_TOKEN=TOKEN, PORT=str(free_port()), BASE_URL="/pnp/",
               CUDA_VISIBLE_DEVICES="", PNP_LESSONS_FAST="1")
    log = tmp_path / "serve.log"
    if not (ROOT / ".venv" / "bin" / "voila").exists():
        pytest.skip("hosting/gpu/serve.sh runs the project's .venv (make install)")
    proc = subprocess.Popen([str(ROOT / "hosting/gpu/serve.sh")], cwd=tmp_path, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        _wait(url + "/pnp/", proc, log)
        assert _status(url + "/pnp/voila/render/00_welcome.ipynb") in (302, 403), \
            "a page without the token must be refused (Voilà redirects to a login it does not serve)"
        try:
            body = urllib.request.urlopen(url + "/pnp/voila/render/00_welcome.ipynb", timeout=60).read().decode()
        except urllib.error.HTTPError as e:
            body = str(e.code)
        assert "kernelId" not in body, "no page (and no kernel) without the token"
        assert _status(url + "/voila/render/00_welcome.ipynb") == 404, "nothing is served outside the base URL"
        _first_frame(browser, f"{url}/pnp/voila/render/apps/playground.ipynb?token={TOKEN}")
    finally:
        _stop(proc)
    assert "Culling kernels" in log.read_text(), log.read_text()[-2000:]


def test_serve_sh_refuses_to_start_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PNP_LESSONS_TOKEN"}
    r = subprocess.run([str(ROOT / "hosting/gpu/serve.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "PNP_LESSONS_TOKEN" in r.stderr


@pytest.mark.cuda
def test_an_idle_kernel_holds_no_gpu_memory_until_it_computes():
    code = """
import os, torch
from pnp_lessons.widgets import Playground
app = Playground(autostart='view')
assert app.cache.device.type == 'cuda', app.cache.device
assert not torch.cuda.is_initialized(), 'building the page initialised CUDA'
app.runner.submit(app.controls.settings); assert app.wait(300)
assert torch.cuda.is_initialized()
import time; time.sleep(0.5)
cached = torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
assert cached < 64 * 2**20, f'{cached / 2**20:.0f} MiB of free blocks kept after the run'
print('ok')
"""
    env = dict(os.environ, PYTORCH_NVML_BASED_CUDA_CHECK="1", PNP_LESSONS_FAST="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


# --------------------------------------------------------------------------- the hub's memory cgroups
def test_the_hub_finds_its_own_memory_cgroup_in_v1_and_v2_layouts(tmp_path):
    cs = cgroup_spawner_module()
    v1 = tmp_path / "v1"
    (v1 / "memory" / "pod" / "hub").mkdir(parents=True)
    (v1 / "memory" / "pod" / "hub" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "v1.cgroup").write_text("4:memory:/pod/hub\n1:cpu:/\n0::/\n")
    assert cs.own_memory_cgroup(v1, str(tmp_path / "v1.cgroup")) == (v1 / "memory" / "pod" / "hub", 1)
    v2 = tmp_path / "v2"
    (v2 / "user.slice").mkdir(parents=True)
    (v2 / "user.slice" / "cgroup.controllers").write_text("cpu io memory pids\n")
    (tmp_path / "v2.cgroup").write_text("0::/user.slice\n")
    assert cs.own_memory_cgroup(v2, str(tmp_path / "v2.cgroup")) == (v2 / "user.slice", 2)
    (v2 / "user.slice" / "cgroup.controllers").write_text("cpu io pids\n")      # memory not delegated
    assert cs.own_memory_cgroup(v2, str(tmp_path / "v2.cgroup")) is None
    assert cs.own_memory_cgroup(v2, str(tmp_path / "absent")) is None


def test_the_spawner_writes_the_users_limit_or_says_why_it_cannot(tmp_path):
    from types import SimpleNamespace

    cs = cgroup_spawner_module()
    parent = tmp_path / "hub"
    parent.mkdir()
    (parent / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    user = SimpleNamespace(name="ada", url="/user/ada/", escaped_name="ada")
    spawner = cs.CgroupSpawner(user=user, cgroup_parent=str(parent), mem_limit="1G")
    d = Path(spawner._make_cgroup())
    assert d == parent / "jupyterhub-ada" and int((d / "memory.limit_in_bytes").read_text()) == 2**30
    nowhere = cs.CgroupSpawner(user=user, cgroup_parent=str(tmp_path / "absent" / "hub"), mem_limit="1G")
    assert nowhere._make_cgroup() == ""                      # no limit: the server still starts, the log says why
    nowhere.require_limit = True
    with pytest.raises(RuntimeError, match="mem_limit=1073741824 not applied to ada's server"):
        nowhere._make_cgroup()
    assert cs.CgroupSpawner(user=user, cgroup_parent=str(parent))._make_cgroup() == "", "no mem_limit, no cgroup"
    spawner.cgroup = str(d)                                  # a hub restart: the database gives the cgroup back
    restarted = cs.CgroupSpawner(user=user, cgroup_parent=str(parent), mem_limit="1G")
    restarted.load_state(spawner.get_state())
    assert restarted.cgroup == str(d)


# --------------------------------------------------------------------------- Zero to JupyterHub
def test_the_z2jh_values_validate_against_the_charts_schema_and_match_the_project():
    import json

    import jsonschema
    import yaml

    def helm_merge(defaults, override):
        """Helm's coalescing of a values file over the chart's defaults: maps key by key, null removes a key."""
        out = dict(defaults)
        for k, v in override.items():
            if v is None:
                out.pop(k, None)
            elif isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = helm_merge(out[k], v)
            else:
                out[k] = v
        return out

    z2jh = ROOT / "hosting" / "z2jh"
    schema = json.loads((z2jh / "chart-4.4.0" / "values.schema.json").read_text())
    defaults = yaml.safe_load((z2jh / "chart-4.4.0" / "values.yaml").read_text())
    values = yaml.safe_load((z2jh / "values.yaml").read_text())
    jsonschema.validate(helm_merge(defaults, values), schema)
    typo = {**values, "singleuser": {**values["singleuser"], "memmory": {"limit": "2G"}}}
    with pytest.raises(jsonschema.ValidationError, match="memmory"):
        jsonschema.validate(helm_merge(defaults, typo), schema)   # unknown keys are refused: a misspelling fails
    single = values["singleuser"]
    # the image is the repository built by repo2docker from binder/, with the hub's version pinned to the chart's
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    hub_pins = pyproject["project"]["optional-dependencies"]["hub"]
    binder = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert [p for p in hub_pins if p.startswith("jupyterhub==")][0] in binder
    assert "jupyterhub==5.5.0" in hub_pins and "4.4.0" in (z2jh / "values.yaml").read_text()
    # the lessons the students land on exist, under the name the postStart hook copies them to
    assert single["defaultUrl"] == "/voila/render/pnp-lessons/00_welcome.ipynb"
    hook = single["lifecycleHooks"]["postStart"]["exec"]["command"][-1]
    assert "cp -r /srv/pnp-lessons/notebooks $HOME/pnp-lessons" in hook
    assert (ROOT / "notebooks" / "00_welcome.ipynb").exists()
    assert single["extraEnv"]["JUPYTER_CONFIG_PATH"] == "/srv/pnp-lessons/etc/jupyter"
    # the same per-student memory limit as the one-machine hub, culling and warm capacity for a class arriving
    hub_config = (ROOT / "hosting/jupyterhub/jupyterhub_config.py").read_text()
    assert f'"PNP_LESSONS_MEM_LIMIT", "{single["memory"]["limit"]}"' in hub_config
    assert values["cull"]["enabled"] and values["cull"]["timeout"] == 3600
    assert values["prePuller"]["continuous"]["enabled"] and values["scheduling"]["userPlaceholder"]["enabled"]


# --------------------------------------------------------------------------- preheated kernels and culling
def test_a_kernel_taken_from_the_pool_is_culled_only_after_its_own_idle_time():
    """A preheated kernel sat idle in Voilà's pool (never culled there); when a student takes it, the culler must
    count idle time from then, not from the preheat, or it stops the kernel before the page connects."""
    import datetime
    from types import SimpleNamespace

    from conftest import run_async
    from pnp_lessons.serving import ClassKernelManager, pool_config

    km = ClassKernelManager(cull_idle_timeout=300)
    stopped = []

    async def shutdown(kernel_id, *args, **kwargs):
        stopped.append(kernel_id)

    km.shutdown_kernel = shutdown
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)
    kernel = SimpleNamespace(last_activity=long_ago, execution_state="idle", kernel_name="python3",
                             kernel_spec=SimpleNamespace(metadata={}))
    km._kernels["k1"] = kernel
    run_async(km.cull_kernel_if_idle("k1"))            # first seen outside the pool: the clock starts now
    assert stopped == [] and kernel.last_activity > long_ago
    run_async(km.cull_kernel_if_idle("k1"))            # idle 0 s of 300: stays
    assert stopped == []
    kernel.last_activity = long_ago                    # the student left 20 minutes ago
    run_async(km.cull_kernel_if_idle("k1"))
    assert stopped == ["k1"]
    assert pool_config({"apps/playground.ipynb": 3}) == {"default": {"pool_size": 0},
                                                         "apps/playground.ipynb": {"pool_size": 3}}
    with pytest.raises(ValueError, match="pool size"):
        pool_config({"apps/playground.ipynb": -1})


def test_make_demo_preheats_the_playground_with_the_class_culling():
    def voila_line(pool: int) -> str:     # the command `make demo` would run (make -n also lists the install steps)
        dry = subprocess.run(["make", "-n", "demo", f"POOL={pool}"], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        return next(ln for ln in dry.stdout.splitlines() if "/bin/voila " in ln)

    line = voila_line(30)
    assert "--VoilaConfiguration.preheat_kernel=True" in line
    assert "multi_kernel_manager_class=pnp_lessons.serving.ClassKernelManager" in line
    assert '{"apps/playground.ipynb": {"pool_size": 30}, "default": {"pool_size": 0}}' in line
    assert "preheat" not in voila_line(0)
