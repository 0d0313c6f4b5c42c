"""One place that decides where tensors live.

CUDA when present, else CPU; the environment variable ``PNP_LESSONS_DEVICE`` (``cpu``,
``cuda``, ``cuda:1`` ...) overrides. CUDA is never initialised at import time, so an idle
kernel holds no GPU memory.
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "PNP_LESSONS_DEVICE"


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
