"""Weights: the ones we ship, and checkpoints of the reference implementations.

Shipped weights
---------------
``data/weights/<name>.safetensors`` (fp16 tensors; the network config in the safetensors
metadata) and its card ``data/weights/<name>.json`` (preset, channels, training data, steps,
wall time, hardware, validation PSNRs). :func:`load_denoiser` reads both; nothing is
downloaded. ``$PNP_LESSONS_WEIGHTS`` may point to another folder.

Reference checkpoints (:func:`from_checkpoint`)
-----------------------------------------------
Both reference implementations build the same DRUNet-light (``UNetRes`` in the original
GSPnP code, ``DRUNet`` in DeepInverse) with the same module names as
:class:`~pnp_lessons.denoisers.gsdrunet.DRUNetLight`, and wrap it in a ``student_grad``
module whose ``model`` attribute is the network. So the mapping is a prefix strip::

    reference key                                  -> our key (in DRUNetLight)
    student_grad.model.m_head.weight               -> m_head.weight              (nc0, C+1, 3, 3)
    student_grad.model.m_down{k}.{i}.res.0.weight  -> m_down{k}.{i}.res.0.weight (i < nb: ResBlock conv 1)
    student_grad.model.m_down{k}.{i}.res.2.weight  -> m_down{k}.{i}.res.2.weight (conv 2; .1 is the ELU)
    student_grad.model.m_down{k}.{nb}.weight       -> m_down{k}.{nb}.weight      (2x2 stride-2 conv)
    student_grad.model.m_body.{i}.res.{0,2}.weight -> m_body.{i}.res.{0,2}.weight
    student_grad.model.m_up{k}.0.weight            -> m_up{k}.0.weight           (2x2 transposed conv)
    student_grad.model.m_up{k}.{i+1}.res.{0,2}.weight -> m_up{k}.{i+1}.res.{0,2}.weight
    student_grad.model.m_tail.weight               -> m_tail.weight              (C, nc0, 3, 3)

* DeepInverse ``GSDRUNet`` (``deepinv.models.GSPnP``): a plain state dict with these keys,
  possibly inside ``{"state_dict": ...}``.
* Original GSPnP (PyTorch Lightning ``GradMatch``): ``{"state_dict": {...}, "hyper_parameters":
  ..., ...}``; keys as above; other entries (metrics, optimizer states) are ignored.
* A bare DRUNet-light state dict (keys without prefix, or with ``model.``) is also accepted.

The widths ``nc``, the depth ``nb`` and the channels (grey: 2 inputs, colour: 4) are read
off the tensor shapes. Files are never unpickled as arbitrary objects: ``.safetensors`` is
read with safetensors, anything else with ``torch.load(weights_only=True)``; the only
non-tensor classes allowed are ``argparse.Namespace`` and Lightning's ``AttributeDict``
(rebuilt as a plain dict), which Lightning stores among the hyper-parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import torch

from .gsdrunet import DRUNetLight, build_denoiser, count_parameters

ENV_VAR = "PNP_LESSONS_WEIGHTS"
CACHE_ENV_VAR = "PNP_LESSONS_CACHE"

#: Public checkpoints a user may fetch on request with :func:`download` (never automatic).
KNOWN_DOWNLOADS = {
    "deepinv-gsdrunet-colour": (
        "https://huggingface.co/deepinv/gradientstep/resolve/main/GSDRUNet_torch.ckpt?download=true",
        "GSDRUNet_torch.ckpt",
    ),
    "deepinv-gsdrunet-grey": (
        "https://huggingface.co/deepinv/gradientstep/resolve/main/GSDRUNet_grayscale_torch.ckpt?download=true",
        "GSDRUNet_grayscale_torch.ckpt",
    ),
}


def weights_dir() -> Path:
    """The folder holding shipped weights: ``$PNP_LESSONS_WEIGHTS`` or the repository's ``data/weights``.

    Examples
    --------
    >>> weights_dir().name
    'weights'
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data" / "weights"


# ----------------------------------------------------------------------------- shipped


def export_weights(net: DRUNetLight, name: str, kind: str = "gs", preset: str | None = None,
                   out_dir=None, training: dict | None = None, validation: dict | None = None,
                   notes: str = "", dtype: torch.dtype = torch.float16) -> dict:
    """Write ``<out_dir>/<name>.safetensors`` (fp16 by default) and its card ``<name>.json``.

    Returns ``{"weights": path, "card": path}``.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> paths = export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "tiny", out_dir=d)
    >>> sorted(p.rsplit(".", 1)[1] for p in paths.values())
    ['json', 'safetensors']
    """
    from safetensors.torch import save_file

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"name must use letters, digits, '.', '_' or '-' only, got {name!r}")
    out = Path(out_dir) if out_dir is not None else weights_dir()
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()}
    meta = {"format": "pnp_lessons.DRUNetLight", "kind": kind, "config": json.dumps(net.config()),
            "preset": str(preset)}
    wpath = out / f"{name}.safetensors"
    save_file(tensors, str(wpath), metadata=meta)
    card = {
        "name": name,
        "kind": kind,
        "model": "GS-DRUNet (gradient step on g = 1/2||x - N(x)||^2)" if kind == "gs" else "DRUNet-light",
        "preset": preset,
        **net.config(),
        "parameters": count_parameters(net),
        "dtype": str(dtype).replace("torch.", ""),
        "file_bytes": wpath.stat().st_size,
        "sha256": hashlib.sha256(wpath.read_bytes()).hexdigest(),
        "sigma_scale": "sigma on the [0, 1] scale in code (sigma*255 in the tables)",
        "training": training or {},
        "validation": validation or {},
        "notes": notes,
    }
    cpath = out / f"{name}.json"
    cpath.write_text(json.dumps(card, indent=2) + "\n")
    return {"weights": str(wpath), "card": str(cpath)}


def list_shipped(folder=None) -> list[str]:
    """Names of the weight files present (those with both ``.safetensors`` and ``.json``).

    Examples
    --------
    >>> isinstance(list_shipped(), list)
    True
    """
    d = Path(folder) if folder is not None else weights_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.safetensors") if p.with_suffix(".json").exists())


def read_card(name: str, folder=None) -> dict:
    """The JSON card of a shipped weight file."""
    d = Path(folder) if folder is not None else weights_dir()
    path = d / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no card {str(path)!r}; shipped weights: {list_shipped(d) or 'none'}")
    return json.loads(path.read_text())


def _place(den, device: torch.device):
    """Move a denoiser to ``device`` in eval mode; on the CPU, store its convolutions channels-last.

    oneDNN's CPU convolutions run faster on NHWC weights: the shipped small grey network at 256²
    (2 threads, this machine, 2026-11-22) took 62-64 ms per forward and 126-130 ms per GS step
    channels-last, against 87-95 and 180-194 ms in the default layout, with outputs equal to
    5e-7. Inputs stay in the usual NCHW layout; only the weights' strides change.
    """
    den = den.to(device).eval()
    if device.type == "cpu":
        den.to(memory_format=torch.channels_last)
    return den


def load_denoiser(name: str, device=None, folder=None, kind: str | None = None):
    """Load a shipped denoiser by name, e.g. ``'gsdrunet-small-grey'``.

    Parameters
    ----------
    name : str
        File stem in ``data/weights`` (see :func:`list_shipped`).
    device : str or torch.device, optional
        Where to put it (default: :func:`pnp_lessons.runtime.get_device`).
    folder : str or Path, optional
        Another weights folder.
    kind : {'gs', 'drunet'}, optional
        Override the wrapper recorded in the file.

    Returns
    -------
    GSDenoiser or DRUNetDenoiser
        In eval mode, float32, with the card as ``.card``.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "tiny", out_dir=d)
    >>> load_denoiser("tiny", device="cpu", folder=d).card["parameters"]
    2508
    """
    from safetensors import safe_open

    from ..runtime import get_device

    d = Path(folder) if folder is not None else weights_dir()
    wpath = d / f"{name}.safetensors"
    if not wpath.exists():
        raise FileNotFoundError(
            f"no weights named {name!r} in {str(d)!r}; shipped: {list_shipped(d) or 'none'}")
    card = read_card(name, d)
    with safe_open(str(wpath), framework="pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta["config"]) if "config" in meta else {k: card[k] for k in ("channels", "nc", "nb")}
    net = DRUNetLight(channels=cfg["channels"], nc=cfg["nc"], nb=cfg["nb"])
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    den = build_denoiser(kind or meta.get("kind") or card.get("kind", "gs"), net)
    den = _place(den, get_device(device))
    den.card = card
    den.name = name
    return den


# ----------------------------------------------------------------------------- reference checkpoints


# Lightning stores hyper-parameters as an ``AttributeDict`` (a dict subclass): it is rebuilt
# as a plain ``dict`` without importing Lightning. Nothing else beyond tensors is allowed.
_SAFE_EXTRA = [
    (dict, "pytorch_lightning.utilities.parsing.AttributeDict"),
    (dict, "lightning_fabric.utilities.data.AttributeDict"),
    (dict, "lightning.fabric.utilities.data.AttributeDict"),
]


def _safe_load(path: Path) -> dict:
    """Read a checkpoint without unpickling arbitrary objects."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import argparse

    try:
        with torch.serialization.safe_globals([argparse.Namespace, *_SAFE_EXTRA]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError and friends
        raise ValueError(
            f"checkpoint {str(path)!r} holds objects other than tensors and plain containers, "
            f"which are not unpickled for safety ({type(e).__name__}: {str(e).splitlines()[0]}). "
            "Load it yourself in a trusted session and re-save its state_dict with "
            "safetensors.torch.save_file, then pass that file."
        ) from None


_PREFIXES = ("student_grad.model.", "module.student_grad.model.", "model.", "")


def _strip(state: dict) -> dict:
    """Map reference keys to DRUNetLight keys (see the module docstring)."""
    for prefix in _PREFIXES:
        sub = {k[len(prefix):]: v for k, v in state.items()
               if isinstance(v, torch.Tensor) and k.startswith(prefix) and k[len(prefix):].startswith("m_")}
        if "m_head.weight" in sub:
            return sub
    raise KeyError("no DRUNet-light weights found: expected keys like 'student_grad.model.m_head.weight' "
                   "(DeepInverse GSDRUNet / GSPnP Lightning) or 'm_head.weight'")


def _infer_config(state: dict) -> dict:
    head, tail = state["m_head.weight"], state["m_tail.weight"]
    channels = int(tail.shape[0])
    if head.shape[1] != channels + 1:
        raise ValueError(f"m_head has {head.shape[1]} inputs but m_tail {channels} outputs: expected inputs = "
                         f"outputs + 1 (sigma map)")
    nb = len({k.split(".")[1] for k in state if k.startswith("m_down1.") and ".res." in k})
    nc = (int(head.shape[0]), int(state[f"m_down1.{nb}.weight"].shape[0]),
          int(state[f"m_down2.{nb}.weight"].shape[0]), int(state[f"m_down3.{nb}.weight"].shape[0]))
    return {"channels": channels, "nc": nc, "nb": nb}


def from_checkpoint(path, kind: str = "gs", device=None):
    """Load a DeepInverse ``GSDRUNet`` or original GSPnP (Lightning) checkpoint, grey or colour.

    Parameters
    ----------
    path : str or Path
        ``.ckpt`` / ``.pth`` / ``.pt`` (read with ``weights_only=True``) or ``.safetensors``.
    kind : {'gs', 'drunet'}
        Wrap the network as a Gradient-Step denoiser (the checkpoints' intended use) or as
        a plain ``N_sigma`` denoiser.
    device : str or torch.device, optional

    Returns
    -------
    GSDenoiser or DRUNetDenoiser
        In eval mode; ``.config`` holds the inferred ``channels``, ``nc``, ``nb``.

    Examples
    --------
    >>> import tempfile
    >>> net = DRUNetLight(3, (4, 4, 4, 8), 1)
    >>> p = tempfile.mkdtemp() + "/gs.ckpt"
    >>> torch.save({"state_dict": {"student_grad.model." + k: v for k, v in net.state_dict().items()}}, p)
    >>> from_checkpoint(p, device="cpu").config
    {'channels': 3, 'nc': [4, 4, 4, 8], 'nb': 1}
    """
    from ..runtime import get_device

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {str(path)!r} does not exist")
    raw = _safe_load(path)
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise ValueError(f"checkpoint {str(path)!r} is not a state dict (got {type(raw).__name__})")
    state = _strip(raw)
    cfg = _infer_config(state)
    net = DRUNetLight(**cfg)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KeyError(f"checkpoint {str(path)!r} does not match DRUNet-light {cfg}: "
                       f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    den = _place(build_denoiser(kind, net), get_device(device))
    den.config = net.config()
    return den


# ----------------------------------------------------------------------------- download on request


def cache_dir() -> Path:
    """``$PNP_LESSONS_CACHE`` or ``~/.cache/pnp_lessons``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "pnp_lessons")


def download(name_or_url: str, filename: str | None = None, cache=None, timeout: float = 30.0) -> Path:
    """Fetch a checkpoint into the cache, only when called explicitly; return its path.

    ``name_or_url`` is a key of :data:`KNOWN_DOWNLOADS` or an ``https://`` URL. An existing
    cached file is returned without network access. Offline, a ``ConnectionError`` explains
    how to place the file by hand. Load the result with :func:`from_checkpoint`.
    """
    import urllib.error
    import urllib.request

    if name_or_url in KNOWN_DOWNLOADS:
        url, fname = KNOWN_DOWNLOADS[name_or_url]
    elif name_or_url.startswith("https://"):
        url, fname = name_or_url, filename or name_or_url.rstrip("/").rsplit("/", 1)[-1]
    else:
        raise ValueError(f"name_or_url must be one of {sorted(KNOWN_DOWNLOADS)} or an https:// URL, got "
                         f"{name_or_url!r}")
    d = Path(cache) if cache is not None else cache_dir()
    target = d / (filename or fname)
    if target.exists():
        return target
    d.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        tmp.unlink(missing_ok=True)
        raise ConnectionError(
            f"could not download {url} ({e}). You may be offline: fetch the file on a connected "
            f"machine and copy it to {target}, then call from_checkpoint({str(target)!r})."
        ) from None
    os.replace(tmp, target)
    return target


__all__ = ["load_denoiser", "list_shipped", "read_card", "export_weights", "from_checkpoint",
           "download", "weights_dir", "cache_dir", "KNOWN_DOWNLOADS"]
