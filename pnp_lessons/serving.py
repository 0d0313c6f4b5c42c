"""Server-side pieces for a class on one machine: kernel culling that works with Voilà's preheated kernels.

Voilà can keep a pool of *preheated* kernels per notebook (``--VoilaConfiguration.preheat_kernel=True``): each has
already imported torch and run the page up to :func:`pnp_lessons.widgets.page.page_query`, so a student who arrives
gets a page at once instead of waiting for a fresh kernel while 29 classmates start theirs. Voilà never culls a
kernel that is still in its pool, but a kernel taken from the pool carries the idle time it spent there: with a pool
filled before the class and ``cull_idle_timeout`` shorter than the wait, the culler could shut a student's kernel
down between the page's request and its websocket connection. :class:`ClassKernelManager` restarts a kernel's idle
clock when the culler first sees it outside the pool (at most one ``cull_interval`` after it was taken), so that
culling counts from the student's arrival. Kernels that were never pooled only gain that one interval.

Use it as Voilà's kernel manager (``make demo POOL=30`` does)::

    voila --VoilaConfiguration.preheat_kernel=True \\
          --VoilaConfiguration.multi_kernel_manager_class=pnp_lessons.serving.ClassKernelManager \\
          --VoilaKernelManager.kernel_pools_config='{"apps/playground.ipynb": {"pool_size": 30},
                                                     "default": {"pool_size": 0}}'
"""

from __future__ import annotations

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

__all__ = ["ClassKernelManager", "pool_config"]


class ClassKernelManager(AsyncMappingKernelManager):
    """AsyncMappingKernelManager whose culler starts a kernel's idle clock when it first meets the kernel outside
    Voilà's pool (see the module's docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._met: set[str] = set()

    async def cull_kernel_if_idle(self, kernel_id: str):
        if kernel_id not in self._met:          # just taken from the pool (or just started): its clock starts now
            self._met.add(kernel_id)
            kernel = self._kernels.get(kernel_id)
            if kernel is not None:
                kernel.last_activity = utcnow()
            return None
        return await super().cull_kernel_if_idle(kernel_id)

    async def shutdown_kernel(self, kernel_id: str, *args, **kwargs):
        self._met.discard(kernel_id)
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)


def pool_config(sizes: dict[str, int]) -> dict:
    """Voilà's ``kernel_pools_config`` that preheats the named notebooks (paths relative to the served folder)
    and no other.

    >>> pool_config({"apps/playground.ipynb": 30})
    {'default': {'pool_size': 0}, 'apps/playground.ipynb': {'pool_size': 30}}
    """
    out: dict = {"default": {"pool_size": 0}}
    for name, n in sizes.items():
        if n < 0:
            raise ValueError(f"pool size of {name} must be ≥ 0, got {n}")
        out[name] = {"pool_size": int(n)}
    return out
