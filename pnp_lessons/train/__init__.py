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

The pieces: :mod:`.config` (the settings and what follows from them), :mod:`.data` (images and crops),
:mod:`.loop` (a step, validation, the run), :mod:`.checkpoint` (initial weights, ``last.pt``, the card's
training block), :mod:`.distributed` (DDP, a no-op with one process).
"""

from .config import VAL_SIGMAS, TrainConfig, describe, describe_sigma, draw_sigma, lr_at
from .data import load_training_images, random_crops
from .loop import train, validate
from ..images import load_image_folder

__all__ = ["TrainConfig", "train", "validate", "load_image_folder", "load_training_images", "random_crops", "lr_at",
           "describe", "describe_sigma", "draw_sigma", "VAL_SIGMAS"]
