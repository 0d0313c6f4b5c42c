"""PnP Lessons: the package behind the notebooks on convergent plug-and-play restoration.

The math lives in plain modules (``operators``, ``prox``, ``solvers``, ``denoisers``,
``analysis``, ``metrics``, ``images``); ``widgets`` builds on them and is never imported
by them.
"""

__version__ = "0.1.0"

from .device import get_device, describe_device  # noqa: F401
