"""Runtime settings, in one place: where tensors live, the CI-fast mode and the CPU threads.

* **Device**: CUDA when present, else CPU; the environment variable ``PNP_LESSONS_DEVICE`` (``cpu``,
  ``cuda``, ``cuda:1`` ...) overrides. CUDA is never initialised at import time, so an idle
  kernel holds no GPU memory.
* **Fast mode**: ``PNP_LESSONS_FAST=1`` (CI, notebook tests) asks every lesson for small images and
  few iterations.
* **Threads**: :func:`lean_threads` runs a computation with one torch thread where more would stall.
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager

import torch

ENV_VAR = "PNP_LESSONS_DEVICE"
FAST_ENV = "PNP_LESSONS_FAST"

__all__ = ["get_device", "describe_device", "cpu_threads", "is_fast", "lean_threads", "lean_threads_wanted",
           "lean_call", "lean", "live_size", "ENV_VAR", "FAST_ENV"]


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Parameters
    ----------
    device : str or torch.device, optional
        Explicit choice. When ``None``, ``$PNP_LESSONS_DEVICE`` is used if set,
        else CUDA when available, else CPU.

    Examples
    --------
    >>> get_device("cpu")
    device(type='cpu')
    """
    if device is None:
        device = os.environ.get(ENV_VAR) or None
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {str(device)!r} was requested (argument or ${ENV_VAR}) but CUDA is not available; "
            "use 'cpu' or unset the variable"
        )
    return dev


def describe_device(device: str | torch.device | None = None) -> str:
    """A one-line, human-readable description, e.g. ``'CUDA: NVIDIA H100 80GB HBM3'`` or ``'CPU (2 threads)'``.

    Examples
    --------
    >>> describe_device("cpu").startswith("CPU")
    True
    """
    dev = get_device(device)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return f"CPU ({cpu_threads()})"


def cpu_threads() -> str:
    """Torch's CPU thread count in words, e.g. ``'2 threads'`` or ``'1 thread'``."""
    n = torch.get_num_threads()
    return f"{n} thread{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- fast mode
def is_fast() -> bool:
    """True in CI-fast mode (``PNP_LESSONS_FAST`` set to 1/true/yes/on).

    Examples
    --------
    >>> import os; os.environ[FAST_ENV] = "yes"; is_fast()
    True
    >>> os.environ[FAST_ENV] = "0"; is_fast()
    False
    """
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def live_size(cpu: int, cuda: int, fast: int) -> int:
    """The side of a live reconstruction, chosen from where it runs: ``fast`` in CI-fast mode, ``cuda`` when the
    default device (:func:`get_device`) is a CUDA GPU, ``cpu`` otherwise.

    Examples
    --------
    >>> import os; before = os.environ.get(FAST_ENV, "")
    >>> os.environ[FAST_ENV] = "1"; live_size(256, 512, 48)
    48
    >>> os.environ[FAST_ENV] = "0"; live_size(256, 512, 48) in (256, 512)
    True
    >>> os.environ[FAST_ENV] = before
    """
    if is_fast():
        return fast
    return cuda if get_device().type == "cuda" else cpu


# --------------------------------------------------------------------------- threads
def lean_threads_wanted() -> bool:
    """Whether :func:`lean_threads` reduces the threads (CI-fast mode, or ≤ 2 CPU cores)."""
    return is_fast() or (os.cpu_count() or 1) <= 2


@contextmanager
def lean_threads():
    """One intra-op torch thread while a lesson computes, in CI-fast mode or on a machine with ≤ 2 cores.

    On a small shared CPU, PyTorch's OpenMP barriers stall whenever a sibling thread is descheduled: a GS-DRUNet
    pass at 48² measured 5 s with 2 threads and 0.08 s with 1 thread under load. The previous setting is restored.
    """
    if not lean_threads_wanted():
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def lean_call(fn):
    """Decorator: run ``fn`` under :func:`lean_threads`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with lean_threads():
            return fn(*args, **kwargs)

    return wrapper


def lean(gen):
    """A generator run under :func:`lean_threads` (for the live runner's worker thread)."""
    with lean_threads():
        yield from gen
