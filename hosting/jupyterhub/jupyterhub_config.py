# JupyterHub for a class: every student gets a single-user server that opens on the lessons.
#
#     jupyterhub -f hosting/jupyterhub/jupyterhub_config.py
#
# Two ways to serve the lessons, chosen with PNP_LESSONS_HUB_MODE (see hosting/README.md):
#
#   "extension" (default): the normal single-user Jupyter server with Voilà as a server extension;
#       students land on /voila/render/notebooks/00_welcome.ipynb and can also open JupyterLab
#       (/lab) to read and change the code: the right mode for a course where students program.
#   "voila-only": the single-user server *is* Voilà (through jhsingle-native-proxy, which does
#       the hub's login); no JupyterLab, no contents or terminals API, no code execution from the
#       page: the right mode for a demo day or an exam-style walkthrough.
#
# The hub itself needs `pip install jupyterhub` and configurable-http-proxy (npm); each user's
# environment needs this project installed (`pip install -e /srv/pnp-lessons`, or the image built
# by binder/). On one machine the spawner is cgroup_spawner.CgroupSpawner (beside this file): JupyterHub's
# LocalProcessSpawner with a memory cgroup per user, so that Spawner.mem_limit holds (LocalProcessSpawner alone
# ignores it; container and systemd spawners apply it themselves). tests/test_hub.py starts this configuration
# on loopback with configurable-http-proxy, five users, the idle culler and the memory limit.
# For Kubernetes, use Zero to JupyterHub with hosting/z2jh/ instead of this file.
#
# Sizing, from benchmarks/load.py on a 2-core / 24 GB machine: one lesson page = one kernel of
# about 0.35 GiB resident while computing; a student with four lesson pages open needs ~1.5 GiB.
# Kernels idle for 5 minutes are culled (etc/jupyter/jupyter_server_config.json).

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # cgroup_spawner.py
c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

LESSONS = os.environ.get("PNP_LESSONS_DIR", "/srv/pnp-lessons")
MODE = os.environ.get("PNP_LESSONS_HUB_MODE", "extension")
if MODE not in ("extension", "voila-only"):
    raise ValueError(f"PNP_LESSONS_HUB_MODE must be 'extension' or 'voila-only', got {MODE!r}")

# Every user server: the project's Jupyter configuration (Voilà without sources or tracebacks,
# kernel culling, upload cap), sleeping OpenMP threads, no GPU unless the node has one to give.
c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": f"{LESSONS}/etc/jupyter",
    "JUPYTER_PATH": f"{LESSONS}/share/jupyter",   # the page template etc/jupyter/voila.json names
    "OMP_WAIT_POLICY": "PASSIVE",
    "PYTORCH_NVML_BASED_CUDA_CHECK": "1",   # asking whether CUDA exists does not initialise it
}
c.JupyterHub.spawner_class = "cgroup_spawner.CgroupSpawner"
c.Spawner.notebook_dir = LESSONS
c.Spawner.mem_limit = os.environ.get("PNP_LESSONS_MEM_LIMIT", "2G")   # per student
c.Spawner.mem_guarantee = "512M"
c.Spawner.cpu_limit = float(os.environ.get("PNP_LESSONS_CPU_LIMIT", "1"))
c.Spawner.http_timeout = 120        # a cold start imports torch

if MODE == "extension":
    c.Spawner.default_url = "/voila/render/notebooks/00_welcome.ipynb"
else:
    # Voilà standalone behind the hub's auth (pip install jhsingle-native-proxy in the user env).
    c.Spawner.cmd = ["jhsingle-native-proxy"]
    c.Spawner.args = [
        "--destport", "0", "--",   # after "--": Voilà's own command line; {port}/{base_url} are filled in
        "voila", f"{LESSONS}/notebooks", "--port={port}", "--no-browser", "--Voila.ip=127.0.0.1",
        "--Voila.base_url={base_url}/", "--Voila.server_url=/",
    ]
    c.Spawner.default_url = "/voila/render/00_welcome.ipynb"

# Servers nobody uses are stopped too (the hub's idle culler, a separate service, run by the hub's own Python):
# after PNP_LESSONS_CULL_TIMEOUT idle seconds (default 1 h), checked every sixth of that (at most 10 min).
CULL_TIMEOUT = int(os.environ.get("PNP_LESSONS_CULL_TIMEOUT", "3600"))
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_TIMEOUT}",
                f"--cull-every={max(5, min(600, CULL_TIMEOUT // 6))}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
