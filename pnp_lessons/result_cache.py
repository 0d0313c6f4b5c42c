"""Finished runs shared by every kernel of a server: a class that follows the teacher computes each setting once.

Thirty students on one small machine mostly ask for the same few settings (the teacher's, the defaults, the
neighbours of both on a slider). :class:`ResultCache` keeps each finished run on disk — every iterate's summary
(the curves), the first and the last iterate (the images the page shows) — under a key made of everything the run
depends on: the validated settings, the problem's key (image or upload hash, size, operator, noise, seed), the
device type and a hash of the package's numerical code, so that a code change never serves an old result. Another
kernel asking for the same run replays it: the records come back in order, at once, without computing.

* Only runs that ended by themselves (converged, iteration cap, diverged) are stored; a run cancelled by a newer
  move or by *Stop* is not.
* The cache is bounded (``max_bytes``, least recently used files go first) and lives in a directory shared by the
  kernels of one user on one machine (``PNP_LESSONS_RESULT_CACHE``: a directory, or ``off``).
* Files are written atomically (temporary file, then rename) and read with ``torch.load(weights_only=True)``; a
  damaged file is a miss and is removed.

Example
-------
>>> import tempfile, torch
>>> from pnp_lessons.operators import Denoising
>>> from pnp_lessons.solvers import ista
>>> cache = ResultCache(tempfile.mkdtemp())
>>> y = torch.rand(1, 1, 8, 8)
>>> key = cache.key({"lam": 0.1}, ("toy",), "cpu")
>>> cache.replay(key) is None                                  # nothing stored yet
True
>>> first = [r.k for r in cache.record(key, ista(Denoising(), y, 0.1, max_iter=5, tol=0))]
>>> again = [r.k for r in cache.replay(key)]
>>> first == again == [1, 2, 3, 4, 5]
True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from .solvers.base import Iterate

__all__ = ["ResultCache", "Replay", "code_version", "from_env", "ENV"]

ENV = "PNP_LESSONS_RESULT_CACHE"
"""Environment variable: the cache directory, or ``off`` (also ``0``, ``no``, ``false``) to compute every run."""

_PACKAGE = Path(__file__).resolve().parent
_NUMERICAL = ("operators.py", "problems.py", "prox.py", "images.py", "metrics.py", "solvers", "denoisers")
_code_version: str | None = None


def code_version() -> str:
    """A short hash of the package's numerical source files and of torch's version: part of every key."""
    global _code_version
    if _code_version is None:
        h = hashlib.sha256(torch.__version__.encode())
        for name in _NUMERICAL:
            p = _PACKAGE / name
            for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
                h.update(f.relative_to(_PACKAGE).as_posix().encode())
                h.update(f.read_bytes())
        _code_version = h.hexdigest()[:16]
    return _code_version


def _plain(rec: Iterate, with_tensors: bool) -> dict:
    info = {k: (v.detach().to("cpu", copy=True) if torch.is_tensor(v) else v) for k, v in rec.info.items()
            if with_tensors or not torch.is_tensor(v)}
    return {"k": rec.k, "x": rec.x.detach().to("cpu", copy=True) if with_tensors else None,
            "objective": rec.objective, "residual": rec.residual, "psnr": rec.psnr, "status": rec.status,
            "message": rec.message, "info": info}


class Replay:
    """A stored run as an iterator of records (``replayed`` tells a page that nothing was computed)."""

    replayed = True

    def __init__(self, records: list[dict], device: str | torch.device = "cpu"):
        self._records = iter(records)
        self._device = device

    def __iter__(self):
        return self

    def __next__(self) -> Iterate:
        r = next(self._records)
        info = {k: (v.to(self._device) if torch.is_tensor(v) else v) for k, v in r["info"].items()}
        x = r["x"].to(self._device) if r["x"] is not None else None
        return Iterate(r["k"], x, r["objective"], r["residual"], r["psnr"], r["status"], r["message"], info)

    def close(self):
        self._records = iter(())


class ResultCache:
    """Finished runs on disk, shared by the kernels that use the same directory.

    Parameters
    ----------
    root : str or Path
        The directory (created when needed).
    max_bytes : int
        Bound on the directory's size; the least recently used runs are removed beyond it.
    """

    def __init__(self, root, max_bytes: int = 256 * 2**20):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.hits = self.misses = self.stored = 0
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- keys
    @staticmethod
    def key(settings: dict, problem_key: tuple, device: str | torch.device) -> str:
        """The file name of a run: a hash of the settings, the problem's key, the device type and the code."""
        blob = json.dumps([code_version(), sorted(settings.items()), repr(problem_key),
                           torch.device(device).type], default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    # ---------------------------------------------------------------- read
    def replay(self, key: str, device: str | torch.device = "cpu") -> Replay | None:
        """The stored run as records (``x`` is None on the records whose image was not kept), or None."""
        path = self._path(key)
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            records = data["records"]
            if not records or records[-1]["status"] == "running":
                raise ValueError("incomplete run")
        except OSError:                       # absent, or an unreadable directory: a miss
            return self._miss()
        except Exception:                     # damaged or foreign file: a miss, and it goes
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
            return self._miss()
        try:
            os.utime(path)                # least recently *used*
        except OSError:
            pass
        with self._lock:
            self.hits += 1

        return Replay(records, device)

    def _miss(self) -> None:
        with self._lock:
            self.misses += 1
        return None

    # ---------------------------------------------------------------- write
    def record(self, key: str, iterator: Iterator[Iterate]) -> Iterator[Iterate]:
        """Pass ``iterator``'s records through; when the run ends by itself, store it under ``key``."""
        kept: list[dict] = []
        for rec in iterator:
            kept.append(_plain(rec, with_tensors=rec.k == 1 or rec.done))
            if rec.done:
                self._store(key, kept)
            yield rec

    def _store(self, key: str, records: list[dict]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                torch.save({"records": records}, f)
            os.replace(tmp, self._path(key))
        except OSError:                  # a full or read-only disk costs the cache, never the run
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass
            return
        with self._lock:
            self.stored += 1
        self._evict()

    def _evict(self) -> None:
        try:
            files = [(st.st_mtime, st.st_size, p) for p in self.root.glob("*.pt") for st in [p.stat()]]
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size

    def size_bytes(self) -> int:
        """Bytes the stored runs take."""
        return sum(p.stat().st_size for p in self.root.glob("*.pt")) if self.root.is_dir() else 0


def from_env() -> ResultCache | None:
    """The cache that ``PNP_LESSONS_RESULT_CACHE`` names: a directory; ``off`` for none; unset: a directory under the
    system's temporary folder, one per user, so that every kernel of a Voilà server shares it (None when that
    directory belongs to someone else or others may write or read it: nobody else's files are replayed)."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("off", "0", "no", "false"):
        return None
    if value:
        return ResultCache(value)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = Path(tempfile.gettempdir()) / f"pnp-lessons-results-{uid}"
    try:      # the temporary folder is shared: use the directory only if it is ours and closed to others
        root.mkdir(mode=0o700, exist_ok=True)
        st = root.stat()
        if hasattr(os, "getuid") and (st.st_uid != uid or st.st_mode & 0o077):
            return None
    except OSError:
        return None
    return ResultCache(root)
