"""Local spawners that honour ``Spawner.mem_limit`` with a Linux memory cgroup per user.

JupyterHub's LocalProcessSpawner ignores ``mem_limit`` (only container and systemd spawners apply it). On one
machine without systemd or Docker, these spawners put each user's single-user server, and through inheritance
every kernel it starts, in a memory cgroup of its own, created beside the hub's cgroup:

* cgroup v2: ``<hub's cgroup>/jupyterhub-<user>/memory.max``;
* cgroup v1: ``/sys/fs/cgroup/memory/<hub's cgroup>/jupyterhub-<user>/memory.limit_in_bytes``.

A student whose pages together exceed the limit loses the process that allocated (the kernel's "dead kernel"
message); the hub and the other students are untouched. When the server stops, whatever is left in the cgroup
(an orphaned kernel) is killed and the cgroup removed, so a stopped server holds no memory.

The hub must run as root to create cgroups. Where it cannot (no writable cgroup file system), the server still
starts, without a limit, and the hub's log says why (``CgroupSpawner.require_limit = True`` refuses to start instead).

``CgroupSpawner`` runs each server as the user's system account (LocalProcessSpawner); ``SimpleCgroupSpawner``
runs all of them as the hub's own user with a home under /tmp (SimpleLocalProcessSpawner: for tests and
single-teacher demos only, it gives no isolation between users).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from traitlets import Bool, Unicode

CGROUP_ROOT = Path("/sys/fs/cgroup")


def own_memory_cgroup(root: Path = CGROUP_ROOT, proc_cgroup: str = "/proc/self/cgroup") -> tuple[Path, int] | None:
    """The directory of this process's memory cgroup and the cgroup version (1 or 2), or None when there is none
    this process could write to."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    v1 = v2 = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            v1 = root / "memory" / path.lstrip("/")
        elif controllers == "":
            v2 = path
    if v1 is not None and (v1 / "memory.limit_in_bytes").exists():
        return v1, 1
    if v2 is not None:
        for base in (root, root / "unified"):
            d = base / v2.lstrip("/")
            if (d / "cgroup.controllers").exists() and "memory" in (d / "cgroup.controllers").read_text().split():
                return d, 2
    return None


class CgroupSpawner(LocalProcessSpawner):
    """LocalProcessSpawner (each server as the user's system account) with a memory cgroup per user (see the
    module's docstring)."""

    cgroup_parent = Unicode("", config=True,
                            help="Directory of the memory cgroup under which users' cgroups are made "
                                 "(default: the hub's own memory cgroup).")
    require_limit = Bool(False, config=True,
                         help="Refuse to start a server whose memory limit cannot be applied.")
    cgroup = Unicode("", help="The user's cgroup directory while the server runs ('' when no limit applies).")

    def _cgroup_parent(self) -> tuple[Path, int] | None:
        if self.cgroup_parent:
            d = Path(self.cgroup_parent)
            return (d, 1) if (d / "memory.limit_in_bytes").exists() else (d, 2)
        return own_memory_cgroup()

    def _make_cgroup(self) -> str:
        if not self.mem_limit:
            return ""
        found = self._cgroup_parent()
        problem = None
        if found is None:
            problem = "no memory cgroup of the hub was found under /sys/fs/cgroup"
        else:
            parent, version = found
            d = parent / f"jupyterhub-{self.user.name}"
            try:
                if version == 2:
                    control = parent / "cgroup.subtree_control"
                    if "memory" not in control.read_text().split():
                        control.write_text("+memory")
                d.mkdir(exist_ok=True)
                limit_file = "memory.limit_in_bytes" if version == 1 else "memory.max"
                (d / limit_file).write_text(str(int(self.mem_limit)))
                if version == 1 and (d / "memory.memsw.limit_in_bytes").exists():
                    try:   # no escape into swap where the kernel accounts it
                        (d / "memory.memsw.limit_in_bytes").write_text(str(int(self.mem_limit)))
                    except OSError:
                        pass
                self.log.info("memory limit %s for %s in %s", self.mem_limit, self.user.name, d)
                return str(d)
            except OSError as e:
                problem = f"{d}: {e}"
        message = f"mem_limit={self.mem_limit} not applied to {self.user.name}'s server: {problem}"
        if self.require_limit:
            raise RuntimeError(message)
        self.log.warning(message)
        return ""

    def make_preexec_fn(self, name):
        after = super().make_preexec_fn(name)
        procs = str(Path(self.cgroup) / "cgroup.procs") if self.cgroup else None

        def preexec():
            if procs:   # while still root: join the cgroup, then drop privileges (children inherit it)
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
            after()

        return preexec

    def get_state(self):
        """The cgroup survives a hub restart in the hub's database, so that a later stop still removes it."""
        state = super().get_state()
        if self.cgroup:
            state["cgroup"] = self.cgroup
        return state

    def load_state(self, state):
        super().load_state(state)
        self.cgroup = state.get("cgroup", "")

    async def start(self):
        self.cgroup = self._make_cgroup()
        try:
            return await super().start()
        except Exception:
            await self._remove_cgroup()
            raise

    async def stop(self, now=False):
        await super().stop(now=now)
        await self._remove_cgroup()

    async def _remove_cgroup(self):
        if not self.cgroup:
            return
        d = Path(self.cgroup)
        for pid in (d / "cgroup.procs").read_text().split() if d.exists() else []:
            try:   # an orphaned kernel would otherwise keep the user's memory after the server stopped
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(50):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:   # busy until the killed processes are reaped
                await asyncio.sleep(0.1)
        self.cgroup = ""


class SimpleCgroupSpawner(CgroupSpawner, SimpleLocalProcessSpawner):
    """SimpleLocalProcessSpawner (all servers as the hub's user; tests and demos only) with a memory cgroup."""
