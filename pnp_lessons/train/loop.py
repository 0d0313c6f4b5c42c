"""The training loop: one step is ``MSE(D_σ(x + σn), x)`` on a batch of random crops, with σ drawn per sample,
Adam at the scheduled learning rate and gradient clipping; then validation, checkpoints and the export."""

from __future__ import annotations

import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..denoisers.gsdrunet import build_denoiser
from ..images import load_image_folder
from . import checkpoint, distributed
from .config import VAL_SIGMAS, TrainConfig, build_net, check_sigma, describe_sigma, draw_sigma, lr_at
from .data import folders, load_training_images, random_crops

__all__ = ["train", "validate", "train_step"]


@torch.no_grad()
def validate(denoiser, images: list[torch.Tensor], sigmas=VAL_SIGMAS, device="cpu", seed: int = 0) -> dict:
    """Mean PSNR (dB) of ``denoiser`` on ``images`` for each sigma (0..255 scale), fixed noise.

    The output is clipped to [0, 1] before the PSNR (the clean image lies there, so clipping can only raise the
    PSNR: by 0.01–0.07 dB for the shipped weights). The reference's validation does not clip;
    ``pnp-lessons evaluate-denoisers --no-clip`` measures that protocol.

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetLight
    >>> D = DRUNetDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1))
    >>> sorted(validate(D, [torch.rand(1, 1, 8, 8)], sigmas=(25,)))
    [25]
    """
    from ..metrics import psnr

    was_training = denoiser.training
    denoiser.eval()
    out = {}
    for s in sigmas:
        gen = torch.Generator().manual_seed(seed + int(s))
        vals = []
        for x in images:
            noisy = x + (s / 255.0) * torch.randn(x.shape, generator=gen)
            y = denoiser.denoise(noisy.to(device), s / 255.0).clamp(0, 1).cpu()
            vals.append(psnr(y, x))
        out[int(s)] = float(np.mean(vals))
    denoiser.train(was_training)
    return out


class _TrainStep(torch.nn.Module):
    """Wraps a denoiser so that DDP sees one forward: ``D_sigma(x)`` with the graph kept."""

    def __init__(self, denoiser):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x, sigma):
        if self.denoiser.kind == "gs":
            return self.denoiser.denoise(x, sigma, create_graph=True)
        return self.denoiser.denoise(x, sigma)


def train_step(stepper, net, opt, cfg: TrainConfig, images, gen: torch.Generator, lr: float, device,
               amp: bool) -> float:
    """One optimiser step on a fresh batch (the reference's recipe, module docstring); the batch loss."""
    for g in opt.param_groups:
        g["lr"] = lr
    x = random_crops(images, cfg.batch, cfg.crop, gen).to(device)
    sigma = draw_sigma(cfg, cfg.batch, gen)  # per sample
    noise = torch.randn(x.shape, generator=gen)
    y = x + sigma.view(-1, 1, 1, 1) * noise.to(device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
        out = stepper(y, sigma.to(device))
    loss = torch.mean((out.float() - x) ** 2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.clip:
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
    opt.step()
    return float(loss.detach())


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    from ..runtime import cpu_threads

    return f"CPU {platform.processor() or platform.machine()} ({cpu_threads()})"


def _progress(cfg: TrainConfig, state: checkpoint.RunState) -> float:
    """The larger of step / steps and elapsed / max_minutes: the learning rate decays with it."""
    p = state.step / cfg.steps
    if cfg.max_minutes:
        p = max(p, state.elapsed / (60 * cfg.max_minutes))
    return p


def _training_block(cfg: TrainConfig, state: checkpoint.RunState, n_images: int, world: int, device, amp) -> dict:
    """The ``training`` block of the exported card."""
    info = {
        "recipe": "GS-PnP reference (Hurault et al. 2022) with the deviations listed in notes",
        "data": "+".join(Path(d).name for d in folders(cfg.train_dir)),  # folder names, not machine paths
        "images": n_images,
        "crop": cfg.crop,
        "batch": cfg.batch * world,
        "steps": state.step,
        "wall_time_s": round(state.elapsed, 1),
        "s_per_step": round(state.elapsed / max(state.step, 1), 4),
        "hardware": _hardware(device) + (f" x{world}" if world > 1 else ""),
        "torch": torch.__version__,
        "optimizer": f"Adam lr={cfg.lr} halved at progress {list(cfg.lr_milestones)}",
        "grad_clip_norm": cfg.clip,
        "sigma_train": describe_sigma(cfg),
        "amp": amp,
        "seed": cfg.seed,
        "date": time.strftime("%Y-%m-%d"),
    }
    return checkpoint.chain_card(info, cfg.init_from, state.init_card)


def train(cfg: TrainConfig, callback: Callable[[int, float], None] | None = None) -> dict:
    """Train a denoiser; resume from ``<run_dir>/<name>/last.pt`` when it exists.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings (data folders are paths, never shipped).
    callback : callable, optional
        Called after every step as ``callback(step, loss)`` (e.g. a live loss curve).

    Returns
    -------
    dict
        ``{"net", "denoiser", "history", "val", "steps", "wall_s", "export"}``;
        ``export`` holds the written file paths when ``cfg.export_dir`` is set.
    """
    from ..runtime import get_device

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = get_device(cfg.device)
    rank, world = distributed.init(device)
    device = distributed.place(device, rank, world)
    if cfg.kind not in ("gs", "drunet"):
        raise ValueError(f"kind must be 'gs' or 'drunet', got {cfg.kind!r}")
    check_sigma(cfg)
    amp = cfg.amp if cfg.amp is not None else (device.type == "cuda" and cfg.kind == "drunet")
    amp = bool(amp) and device.type == "cuda"

    images = load_training_images(cfg.train_dir, cfg.channels, cfg.train_limit)
    val_images = load_image_folder(cfg.val_dir, cfg.channels, cfg.val_limit) if cfg.val_dir else []

    torch.manual_seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    net = build_net(cfg).to(device)
    denoiser = build_denoiser(cfg.kind, net).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)

    ckpt_path = Path(cfg.run_dir) / cfg.name / "last.pt"
    state = checkpoint.RunState()
    if cfg.init_from and not ckpt_path.exists():
        state.init_card, adaptation = checkpoint.start_from(net, cfg.init_from)
        if rank == 0:
            print(f"initialised the network from {cfg.init_from}" + (f" ({adaptation})" if adaptation else ""),
                  flush=True)
    if ckpt_path.exists():
        state = checkpoint.load(ckpt_path, net, opt, gen)
        if rank == 0:
            print(f"resumed {ckpt_path} at step {state.step} ({state.elapsed / 60:.1f} min done)", flush=True)

    def save():
        if rank == 0:
            checkpoint.save(ckpt_path, net, opt, state, cfg, gen)

    stepper = distributed.wrap(_TrainStep(denoiser), device, world)
    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=state.step, desc=cfg.name, mininterval=5, dynamic_ncols=True)
    t_last = time.perf_counter()
    state.elapsed = distributed.broadcast_elapsed(state.elapsed, device, world)
    while state.step < cfg.steps and _progress(cfg, state) < 1.0:
        lr = lr_at(cfg, _progress(cfg, state))
        lv = train_step(stepper, net, opt, cfg, images, gen, lr, device, amp)
        state.step += 1
        now = time.perf_counter()
        state.elapsed += now - t_last
        t_last = now
        state.history.append((state.step, lv))
        if callback is not None:
            callback(state.step, lv)
        if bar is not None:
            bar.update(1)
            if state.step % 10 == 0:
                bar.set_postfix(loss=f"{lv:.2e}", lr=f"{lr:.1e}", min=f"{state.elapsed / 60:.1f}")
        if rank == 0 and val_images and cfg.val_every and state.step % cfg.val_every == 0:
            v = validate(denoiser, val_images, device=device)
            state.val_log.append({"step": state.step, "minutes": round(state.elapsed / 60, 2), "psnr": v})
            msg = " ".join(f"s{s}={p:.2f}" for s, p in v.items())
            (bar.write if bar is not None else print)(f"[val step {state.step}] {msg}")
            t_last = time.perf_counter()  # validation time is not training time
        if cfg.ckpt_every and state.step % cfg.ckpt_every == 0:
            save()
            t_last = time.perf_counter()
        state.elapsed = distributed.broadcast_elapsed(state.elapsed, device, world)
    if bar is not None:
        bar.close()
    save()

    result = {"net": net, "denoiser": denoiser.eval(), "history": state.history, "steps": state.step,
              "wall_s": state.elapsed, "val": state.val_log, "export": None}
    if rank == 0 and cfg.export_dir:
        from ..denoisers.weights import export_weights

        final_val = validate(denoiser, val_images, device=device) if val_images else {}
        result["export"] = export_weights(
            net, cfg.name, kind=cfg.kind, preset=cfg.preset, out_dir=cfg.export_dir,
            training=_training_block(cfg, state, len(images), world, device, amp),
            validation={"dataset": Path(cfg.val_dir).name if cfg.val_dir else None, "images": len(val_images),
                        "psnr_fp32": {str(k): round(v, 2) for k, v in final_val.items()},
                        "log": state.val_log},
            notes=cfg.notes,
        )
    distributed.finish(world)
    return result
