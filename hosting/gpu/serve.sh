#!/usr/bin/env bash
# The lessons for a class on one GPU machine: Voilà on loopback, behind nginx
# (hosting/gpu/nginx.conf terminates TLS and forwards the websockets).
#
#   PNP_LESSONS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))') \
#   CUDA_VISIBLE_DEVICES=0 hosting/gpu/serve.sh
#
# Students open  https://<host>/pnp/voila/render/00_welcome.ipynb?token=<token>  (the token is
# then kept in a cookie). Run `make install` once before; nothing downloads at run time.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${PNP_LESSONS_TOKEN:?set PNP_LESSONS_TOKEN to a long random string (see the header of this file)}"
PORT="${PORT:-8866}"
BASE_URL="${BASE_URL:-/pnp/}"

# Which GPU the kernels may see (one number, or several comma-separated; "" hides every GPU).
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
# Lazy CUDA: torch.cuda.is_available() asks NVML instead of initialising CUDA, so a kernel that
# has not computed anything yet holds no CUDA context and no GPU memory. Kernels release their
# cached blocks after every run (pnp_lessons.widgets.runner) and the whole context when culled.
export PYTORCH_NVML_BASED_CUDA_CHECK=1
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"
export OMP_WAIT_POLICY=PASSIVE            # see pnp_lessons/__init__.py
# The project's Jupyter configuration: no sources, no tracebacks, kernels culled after 5 idle
# minutes, uploads above 32 MiB stopped at the websocket (the app refuses above 10 MiB).
export JUPYTER_CONFIG_DIR="$PWD/etc/jupyter"
export JUPYTER_PATH="$PWD/share/jupyter"     # the page template voila.json names (no CDN requests)
export JUPYTER_DATA_DIR="$PWD/.jupyter/data" JUPYTER_RUNTIME_DIR="$PWD/.jupyter/runtime"
export IPYTHONDIR="$PWD/.jupyter/ipython" MPLCONFIGDIR="$PWD/.jupyter/matplotlib" JUPYTER_PLATFORM_DIRS=1
mkdir -p "$JUPYTER_DATA_DIR" "$JUPYTER_RUNTIME_DIR" "$IPYTHONDIR" "$MPLCONFIGDIR"

exec .venv/bin/voila --no-browser --Voila.ip=127.0.0.1 --port="$PORT" \
  --Voila.base_url="$BASE_URL" --token="$PNP_LESSONS_TOKEN" notebooks
