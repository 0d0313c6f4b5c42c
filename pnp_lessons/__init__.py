"""PnP Lessons: the package behind the notebooks on convergent plug-and-play restoration.

The math lives in plain modules (``operators``, ``prox``, ``solvers``, ``denoisers``,
``analysis``, ``metrics``, ``images``); ``widgets`` builds on them and is never imported
by them.
"""

__version__ = "0.1.0"

import os as _os

# OpenMP threads that spin while they wait make torch 10-500x slower when the cores are shared (several
# Voila kernels, a training job, a busy laptop): measured here, a GS-DRUNet gradient went from 30 s to
# 0.05 s at 96x96. Passive waiting costs nothing when the machine is idle. Only effective when set
# before torch starts its OpenMP runtime, i.e. when pnp_lessons is imported first; the Makefile and the
# tests also export it. An explicit setting in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .runtime import get_device, describe_device  # noqa: E402,F401
