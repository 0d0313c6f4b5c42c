"""Solvers, all in the iterate protocol of :mod:`pnp_lessons.solvers.base`."""

from .base import CONVERGED, DIVERGED, MAX_ITER, RUNNING, STOPPED, Iterate, Result, Tracker, run  # noqa: F401
from .classic import fista, ista, tv_primal_dual  # noqa: F401
from .gs_pnp import gs_pnp  # noqa: F401
from .pnp_hqs import pnp_hqs  # noqa: F401
from ..denoisers.tv import TVDenoiser  # noqa: F401
from .pnp_ista import masked_median, pnp_ista  # noqa: F401
