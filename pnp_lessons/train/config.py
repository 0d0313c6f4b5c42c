"""The settings of a training run (:class:`TrainConfig`) and what follows from them alone: the learning rate
at a given progress, the noise levels of a batch, the network, one-line descriptions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..denoisers.gsdrunet import PRESETS, DRUNetLight, count_parameters

__all__ = ["TrainConfig", "lr_at", "check_sigma", "draw_sigma", "describe_sigma", "build_net", "describe", "VAL_SIGMAS"]

VAL_SIGMAS = (5, 15, 25, 50)


@dataclass
class TrainConfig:
    """Everything a run depends on (stored in checkpoints and in the weight card)."""

    name: str = "gsdrunet-small-grey"
    train_dir: str | tuple = "../shared/data/Train400"  # one folder, or several whose images are pooled
    val_dir: str | None = "../shared/data/Set12"
    kind: str = "gs"  # "gs" (GS-DRUNet) or "drunet" (plain DRUNet-light)
    preset: str = "small"
    channels: int = 1
    crop: int = 128
    batch: int = 16
    steps: int = 100_000
    max_minutes: float | None = None
    lr: float = 1e-4
    lr_milestones: tuple = (0.5, 0.75, 0.9)  # fractions of progress where lr is halved
    lr_gamma: float = 0.5
    clip: float = 1e-2
    sigma_max: float = 50.0  # on the 0..255 scale
    sigma_focus: tuple | None = None  # (lo, hi, fraction): that fraction of samples from U[lo, hi]/255 instead
    val_every: int = 500
    val_limit: int | None = 4
    ckpt_every: int = 200
    run_dir: str = "runs"
    export_dir: str | None = "data/weights"
    seed: int = 0
    device: str | None = None
    amp: bool | None = None
    threads: int | None = None
    train_limit: int | None = None
    progress: bool = True
    nc: tuple | None = None  # override the preset's widths
    nb: int | None = None  # override the preset's depth
    init_from: str | None = None  # start from weights: a shipped name or a .safetensors/.ckpt path
    notes: str = ""
    extra: dict = field(default_factory=dict)


def lr_at(cfg: TrainConfig, progress: float) -> float:
    """Step-decayed learning rate at a given progress in [0, 1].

    Examples
    --------
    >>> cfg = TrainConfig(lr=1e-3)
    >>> [lr_at(cfg, p) for p in (0.1, 0.6, 0.8, 0.95)]
    [0.001, 0.0005, 0.00025, 0.000125]
    """
    k = sum(progress >= m for m in cfg.lr_milestones)
    return cfg.lr * cfg.lr_gamma**k


def check_sigma(cfg: TrainConfig) -> tuple[float, float, float] | None:
    """Validate the noise-level settings; return ``sigma_focus`` as floats (None without it)."""
    if not (cfg.sigma_max > 0 and math.isfinite(cfg.sigma_max)):
        raise ValueError(f"sigma_max must be a positive number (0..255 scale), got {cfg.sigma_max!r}")
    if cfg.sigma_focus is None:
        return None
    try:
        lo, hi, frac = (float(v) for v in cfg.sigma_focus)
    except (TypeError, ValueError):
        raise ValueError(f"sigma_focus must be (lo, hi, fraction), got {cfg.sigma_focus!r}") from None
    if not (0 <= lo < hi <= 255):
        raise ValueError(f"sigma_focus needs 0 <= lo < hi <= 255 (0..255 scale), got lo={lo}, hi={hi}")
    if not (0 < frac <= 1):
        raise ValueError(f"sigma_focus fraction must be in (0, 1], got {frac}")
    return lo, hi, frac


def draw_sigma(cfg: TrainConfig, n: int, gen: torch.Generator) -> torch.Tensor:
    """The training noise levels of one batch, one per sample, on the [0, 1] scale.

    The reference draws sigma ~ U[0, sigma_max]/255 (sigma_max = 50). With
    ``cfg.sigma_focus = (lo, hi, fraction)`` each sample instead comes from U[lo, hi]/255 with
    probability ``fraction`` (a fine-tuning stage that weights the noise levels the restoration
    lessons use); without it the draw is the reference's, number for number.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> s = draw_sigma(TrainConfig(sigma_focus=(0, 25, 0.5)), 10_000, g) * 255
    >>> bool(s.min() >= 0 and s.max() <= 50), round(float((s <= 25).float().mean()), 2)
    (True, 0.75)
    """
    focus = check_sigma(cfg)
    sigma = torch.rand(n, generator=gen) * (cfg.sigma_max / 255.0)
    if focus is not None:
        lo, hi, frac = focus
        pick = torch.rand(n, generator=gen) < frac
        sigma = torch.where(pick, (lo + (hi - lo) * torch.rand(n, generator=gen)) / 255.0, sigma)
    return sigma


def describe_sigma(cfg: TrainConfig) -> str:
    """The card's ``sigma_train`` text.

    >>> describe_sigma(TrainConfig())
    'U[0, 50.0]/255 per sample'
    >>> describe_sigma(TrainConfig(sigma_focus=(0, 25, 0.5)))
    'U[0, 50.0]/255 per sample, but 50 % of the samples from U[0, 25]/255 instead'
    """
    text = f"U[0, {cfg.sigma_max}]/255 per sample"
    if cfg.sigma_focus is not None:
        lo, hi, frac = cfg.sigma_focus
        text += f", but {100 * float(frac):g} % of the samples from U[{lo:g}, {hi:g}]/255 instead"
    return text


def build_net(cfg: TrainConfig) -> DRUNetLight:
    """The network the config describes (a preset, with ``nc``/``nb`` overrides)."""
    if cfg.preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {cfg.preset!r}")
    p = dict(PRESETS[cfg.preset])
    if cfg.nc is not None:
        p["nc"] = tuple(cfg.nc)
    if cfg.nb is not None:
        p["nb"] = int(cfg.nb)
    return DRUNetLight(channels=cfg.channels, **p)


def describe(cfg: TrainConfig) -> str:
    """One line summary of a config, with the parameter count.

    Examples
    --------
    >>> describe(TrainConfig(preset="small")).startswith("gsdrunet-small-grey")
    True
    """
    net = build_net(cfg)
    return (f"{cfg.name}: {cfg.kind} {cfg.preset} nc={list(net.nc)} nb={net.nb} "
            f"{count_parameters(net):,} params, crop {cfg.crop}, batch {cfg.batch}, sigma {describe_sigma(cfg)}")
