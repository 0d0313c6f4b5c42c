"""Training of DRUNet-light / GS-DRUNet denoisers, following the GS-PnP reference recipe.

The reference (Hurault et al. 2022, original GSPnP code) trains with

* random 128x128 crops of the training images with random flips, batch 16;
* a noise level sigma ~ U[0, 50]/255 (here drawn *per sample*);
* the loss ``MSE(D_sigma(x + sigma n), x)`` with ``D_sigma = x - grad g_sigma`` (GS) or
  ``D_sigma = N_sigma`` (plain DRUNet-light);
* Adam, learning rate 1e-4, halved at epochs 300/600/900/1200;
* gradient clipping at norm 1e-2;
* validation PSNR at sigma = 5/15/25/50.

What this module adds for small machines: crop size, batch size and learning rate are
arguments; the learning-rate decay is tied to the *progress* of the run, which is the larger
of ``step / steps`` and ``elapsed / max_minutes``, so a wall-clock-bounded CPU run still
decays its learning rate (halved at 50 %, 75 % and 90 % of progress by default). Runs
checkpoint to ``<run_dir>/last.pt`` (plain tensors and numbers only, reloaded with
``torch.load(weights_only=True)``) and resume from it.

Multi-GPU: launch with ``torchrun --nproc_per_node=K -m pnp_lessons.cli train ...``; the
process group is initialised only when ``WORLD_SIZE > 1``. Mixed precision (bf16 autocast)
is used on CUDA for the plain denoiser; the GS denoiser's double backward stays in fp32
unless ``amp=True`` is forced, because its second-order terms are the fragile part.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .denoisers.gsdrunet import PRESETS, DRUNetLight, build_denoiser, count_parameters

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VAL_SIGMAS = (5, 15, 25, 50)


# ----------------------------------------------------------------------------- data


def load_image_folder(folder, channels: int = 1, limit: int | None = None) -> list[torch.Tensor]:
    """Load the images of a folder (sorted by name) as (1, C, H, W) float32 tensors in [0, 1].

    Parameters
    ----------
    folder : str or Path
        Folder holding PNG/JPEG/... files.
    channels : int
        1 converts to grey (PIL ``'L'``), 3 to RGB.
    limit : int, optional
        Keep only the first ``limit`` files.

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> d = tempfile.mkdtemp(); PIL.Image.new("L", (9, 7), 128).save(d + "/a.png")
    >>> load_image_folder(d)[0].shape
    torch.Size([1, 1, 7, 9])
    """
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist or is not a directory")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if limit is not None:
        files = files[: int(limit)]
    out = []
    for p in files:
        with Image.open(p) as im:
            a = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
        t = torch.from_numpy(a.copy())
        t = t[None, None] if channels == 1 else t.permute(2, 0, 1)[None]
        out.append(t)
    return out


def _dirs(train_dir) -> list:
    return [train_dir] if isinstance(train_dir, (str, Path)) else list(train_dir)


def load_training_images(train_dir, channels: int = 1, limit: int | None = None) -> list[torch.Tensor]:
    """The images of one folder or of several folders pooled (each folder read by :func:`load_image_folder`).

    Crops are drawn image by image (:func:`random_crops`), so in a pool each *image* is equally likely,
    whatever its size: 400 Train400 images (180x180) next to 432 CBSD432 images (481x321) give
    about half the crops each. ``limit`` applies to each folder.

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> a, b = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> PIL.Image.new("L", (9, 7)).save(a + "/x.png"); PIL.Image.new("L", (5, 5)).save(b + "/y.png")
    >>> [t.shape[-1] for t in load_training_images([a, b])]
    [9, 5]
    """
    dirs = _dirs(train_dir)
    if not dirs:
        raise ValueError("train_dir names no folder")
    return [im for d in dirs for im in load_image_folder(d, channels, limit)]


def random_crops(images: list[torch.Tensor], batch: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """A batch of random ``size x size`` crops with random horizontal/vertical flips.

    Examples
    --------
    >>> imgs = [torch.rand(1, 1, 20, 30)]
    >>> random_crops(imgs, 4, 8, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 8, 8])
    """
    out = []
    for _ in range(batch):
        img = images[int(torch.randint(len(images), (1,), generator=gen))]
        h, w = img.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"crop size {size} is larger than a training image ({h}x{w})")
        i = int(torch.randint(h - size + 1, (1,), generator=gen))
        j = int(torch.randint(w - size + 1, (1,), generator=gen))
        c = img[0, :, i : i + size, j : j + size]
        if bool(torch.rand((), generator=gen) < 0.5):
            c = c.flip(-1)
        if bool(torch.rand((), generator=gen) < 0.5):
            c = c.flip(-2)
        out.append(c)
    return torch.stack(out)


# ----------------------------------------------------------------------------- config


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


def _check_sigma(cfg: TrainConfig) -> tuple[float, float, float] | None:
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
    focus = _check_sigma(cfg)
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


def _build_net(cfg: TrainConfig) -> DRUNetLight:
    if cfg.preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {cfg.preset!r}")
    p = dict(PRESETS[cfg.preset])
    if cfg.nc is not None:
        p["nc"] = tuple(cfg.nc)
    if cfg.nb is not None:
        p["nb"] = int(cfg.nb)
    return DRUNetLight(channels=cfg.channels, **p)


# ----------------------------------------------------------------------------- validation


@torch.no_grad()
def validate(denoiser, images: list[torch.Tensor], sigmas=VAL_SIGMAS, device="cpu", seed: int = 0) -> dict:
    """Mean PSNR (dB) of ``denoiser`` on ``images`` for each sigma (0..255 scale), fixed noise.

    The output is clipped to [0, 1] before the PSNR (the clean image lies there, so clipping can only raise the
    PSNR: by 0.01–0.07 dB for the shipped weights). The reference's validation does not clip;
    ``pnp-lessons evaluate-denoisers --no-clip`` measures that protocol.

    Examples
    --------
    >>> from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser
    >>> D = DRUNetDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1))
    >>> sorted(validate(D, [torch.rand(1, 1, 8, 8)], sigmas=(25,)))
    [25]
    """
    from .metrics import psnr

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


# ----------------------------------------------------------------------------- DDP helpers


def _dist_init(device: torch.device) -> tuple[int, int]:
    """Initialise torch.distributed when launched by torchrun with WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


class _TrainStep(torch.nn.Module):
    """Wraps a denoiser so that DDP sees one forward: ``D_sigma(x)`` with the graph kept."""

    def __init__(self, denoiser):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x, sigma):
        if self.denoiser.kind == "gs":
            return self.denoiser.denoise(x, sigma, create_graph=True)
        return self.denoiser.denoise(x, sigma)


# ----------------------------------------------------------------------------- training


#: What the card says when a colour run starts from grey weights (see ``grey_to_colour_state``).
GREY_TO_COLOUR = ("grey->colour: head image filter w -> w/3 on R, G, B; tail filter copied to R, G, B "
                  "(the run starts as the grey denoiser of the channel mean, in every channel)")


def _init_weights(net: DRUNetLight, source: str) -> str | None:
    """Copy weights from a shipped name or a checkpoint file (architectures must match).

    Grey weights may start a colour run of the same size (``grey_to_colour_state``); the
    return value then says so, for the card. Otherwise ``None``.
    """
    from .denoisers.gsdrunet import grey_to_colour_state
    from .denoisers.weights import from_checkpoint, list_shipped, load_denoiser

    src = load_denoiser(source, device="cpu") if source in list_shipped() else from_checkpoint(source, device="cpu")
    have, want = src.net.config(), net.config()
    if have == {**want, "channels": 1} and want["channels"] == 3:
        net.load_state_dict(grey_to_colour_state(src.net.state_dict()))
        return GREY_TO_COLOUR
    if have != want:
        raise ValueError(f"init_from {source!r} has config {have} but the run builds {want}")
    net.load_state_dict(src.net.state_dict())
    return None


def _init_card(source: str) -> dict | None:
    """The card of the weights ``--init-from`` names: a shipped name, or ``<file>.json`` beside a file."""
    from .denoisers.weights import list_shipped, read_card

    if source in list_shipped():
        return read_card(source)
    beside = Path(source).with_suffix(".json")
    if beside.is_file():
        try:
            card = json.loads(beside.read_text())
        except (OSError, ValueError):
            return None
        return card if isinstance(card, dict) else None
    return None


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    from .device import cpu_threads

    return f"CPU {platform.processor() or platform.machine()} ({cpu_threads()})"


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
    from .device import get_device

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = get_device(cfg.device)
    rank, world = _dist_init(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    if cfg.kind not in ("gs", "drunet"):
        raise ValueError(f"kind must be 'gs' or 'drunet', got {cfg.kind!r}")
    _check_sigma(cfg)
    amp = cfg.amp if cfg.amp is not None else (device.type == "cuda" and cfg.kind == "drunet")
    amp = bool(amp) and device.type == "cuda"

    images = load_training_images(cfg.train_dir, cfg.channels, cfg.train_limit)
    val_images = load_image_folder(cfg.val_dir, cfg.channels, cfg.val_limit) if cfg.val_dir else []

    torch.manual_seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    net = _build_net(cfg).to(device)
    denoiser = build_denoiser(cfg.kind, net).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)

    run_dir = Path(cfg.run_dir) / cfg.name
    ckpt_path = run_dir / "last.pt"
    step, elapsed, history, val_log = 0, 0.0, [], []
    init_card = None
    if cfg.init_from and not ckpt_path.exists():
        # The card of the weights the run starts from, read now (an export under the same name
        # overwrites it) and kept in the checkpoint: on resume the file may already be this run's.
        init_card = _init_card(cfg.init_from)
        adaptation = _init_weights(net, cfg.init_from)
        if adaptation:  # kept with the card (and in the checkpoint) for the export
            init_card = {**(init_card or {}), "init_adaptation": adaptation}
        if rank == 0:
            print(f"initialised the network from {cfg.init_from}" + (f" ({adaptation})" if adaptation else ""),
                  flush=True)
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        step, elapsed = int(ck["step"]), float(ck["elapsed"])
        history = [(int(a), float(b)) for a, b in ck["history"].tolist()]
        val_log = json.loads(ck["val_log"])
        gen.set_state(ck["gen_state"])
        torch.set_rng_state(ck["rng_state"])
        init_card = json.loads(ck.get("init_card", "null"))
        if rank == 0:
            print(f"resumed {ckpt_path} at step {step} ({elapsed / 60:.1f} min done)", flush=True)

    stepper = _TrainStep(denoiser)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        stepper = DDP(stepper, device_ids=[device.index] if device.type == "cuda" else None)

    def progress() -> float:
        p = step / cfg.steps
        if cfg.max_minutes:
            p = max(p, elapsed / (60 * cfg.max_minutes))
        return p

    def save_ckpt():
        if rank != 0:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        hist = torch.tensor(history, dtype=torch.float64).reshape(-1, 2)
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": net.state_dict(),
                "optim": opt.state_dict(),
                "step": step,
                "elapsed": elapsed,
                "history": hist,
                "val_log": json.dumps(val_log),
                "config": json.dumps(asdict(cfg), default=list),
                "gen_state": gen.get_state(),
                "rng_state": torch.get_rng_state(),
                "init_card": json.dumps(init_card),
            },
            tmp,
        )
        os.replace(tmp, ckpt_path)

    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=step, desc=cfg.name, mininterval=5, dynamic_ncols=True)
    t_last = time.perf_counter()
    def sync_elapsed():
        # Under DDP every rank must take the same lr and stop at the same step: use rank 0's clock.
        nonlocal elapsed
        if world > 1:
            import torch.distributed as dist

            t = torch.tensor([elapsed], dtype=torch.float64, device=device)
            dist.broadcast(t, src=0)
            elapsed = float(t)

    sync_elapsed()
    while step < cfg.steps and progress() < 1.0:
        lr = lr_at(cfg, progress())
        for g in opt.param_groups:
            g["lr"] = lr
        x = random_crops(images, cfg.batch, cfg.crop, gen).to(device)
        sigma = draw_sigma(cfg, cfg.batch, gen)  # per sample
        noise = torch.randn(x.shape, generator=gen)
        y = x + sigma.view(-1, 1, 1, 1) * noise.to(device)
        sigma = sigma.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            out = stepper(y, sigma)
        loss = torch.mean((out.float() - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        step += 1
        now = time.perf_counter()
        elapsed += now - t_last
        t_last = now
        lv = float(loss.detach())
        history.append((step, lv))
        if callback is not None:
            callback(step, lv)
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{lv:.2e}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}")
        if rank == 0 and val_images and cfg.val_every and step % cfg.val_every == 0:
            v = validate(denoiser, val_images, device=device)
            val_log.append({"step": step, "minutes": round(elapsed / 60, 2), "psnr": v})
            msg = " ".join(f"s{s}={p:.2f}" for s, p in v.items())
            (bar.write if bar is not None else print)(f"[val step {step}] {msg}")
            t_last = time.perf_counter()  # validation time is not training time
        if cfg.ckpt_every and step % cfg.ckpt_every == 0:
            save_ckpt()
            t_last = time.perf_counter()
        sync_elapsed()
    if bar is not None:
        bar.close()
    save_ckpt()

    result = {"net": net, "denoiser": denoiser.eval(), "history": history, "steps": step,
              "wall_s": elapsed, "val": val_log, "export": None}
    if rank == 0 and cfg.export_dir:
        final_val = validate(denoiser, val_images, device=device) if val_images else {}
        train_info = {
            "recipe": "GS-PnP reference (Hurault et al. 2022) with the deviations listed in notes",
            "data": "+".join(Path(d).name for d in _dirs(cfg.train_dir)),  # folder names, not machine paths
            "images": len(images),
            "crop": cfg.crop,
            "batch": cfg.batch * world,
            "steps": step,
            "wall_time_s": round(elapsed, 1),
            "s_per_step": round(elapsed / max(step, 1), 4),
            "hardware": _hardware(device) + (f" x{world}" if world > 1 else ""),
            "torch": torch.__version__,
            "optimizer": f"Adam lr={cfg.lr} halved at progress {list(cfg.lr_milestones)}",
            "grad_clip_norm": cfg.clip,
            "sigma_train": describe_sigma(cfg),
            "amp": amp,
            "seed": cfg.seed,
            "date": time.strftime("%Y-%m-%d"),
        }
        from .denoisers.weights import export_weights

        if cfg.init_from:
            source = Path(cfg.init_from).name  # a shipped name, or a file name (not a machine path)
            previous = dict(init_card or {})
            adaptation = previous.pop("init_adaptation", None)
            if previous:  # this run is the next stage of the weights it started from
                from .denoisers.card import chain_training

                train_info = chain_training(previous, train_info, source)
                if adaptation:  # the earlier stages trained the grey network
                    for k in range(1, train_info["stage"]):
                        train_info[f"stage_{k}"] = {"channels": 1, **train_info[f"stage_{k}"]}
            else:
                train_info["init_from"] = source
            if adaptation:
                train_info["init_adaptation"] = adaptation

        result["export"] = export_weights(
            net, cfg.name, kind=cfg.kind, preset=cfg.preset, out_dir=cfg.export_dir,
            training=train_info,
            validation={"dataset": Path(cfg.val_dir).name if cfg.val_dir else None, "images": len(val_images),
                        "psnr_fp32": {str(k): round(v, 2) for k, v in final_val.items()},
                        "log": val_log},
            notes=cfg.notes,
        )
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return result


def describe(cfg: TrainConfig) -> str:
    """One line summary of a config, with the parameter count.

    Examples
    --------
    >>> describe(TrainConfig(preset="small")).startswith("gsdrunet-small-grey")
    True
    """
    net = _build_net(cfg)
    return (f"{cfg.name}: {cfg.kind} {cfg.preset} nc={list(net.nc)} nb={net.nb} "
            f"{count_parameters(net):,} params, crop {cfg.crop}, batch {cfg.batch}, sigma {describe_sigma(cfg)}")


__all__ = ["TrainConfig", "train", "validate", "load_image_folder", "load_training_images", "random_crops", "lr_at",
           "describe"]
