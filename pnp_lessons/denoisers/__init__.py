"""Denoisers: kernel (NLM) and learned (DRUNet-light, Gradient-Step DRUNet).

Every denoiser is called ``D(x, sigma)`` (the contract of ``base``). Submodules are imported on demand to keep
``import pnp_lessons.denoisers`` light: ``base`` (the contract), ``tv`` (the TV prox),
``nlm`` (explicit kernel weights), ``gsdrunet`` (network + GS wrapper), ``ensemble``
(the x8 dihedral self-ensemble, still a GS denoiser), ``colour`` (a grey GS denoiser in
the opponent colour basis, still a GS denoiser), ``weights`` (shipped weights, reference
checkpoints).
"""

import importlib

_LAZY = {
    "Denoiser": "base",
    "GradientStepDenoiser": "base",
    "TVDenoiser": "tv",
    "NLMDenoiser": "nlm",
    "DRUNetLight": "gsdrunet",
    "GSDenoiser": "gsdrunet",
    "DRUNetDenoiser": "gsdrunet",
    "load_denoiser": "weights",
    "list_shipped": "weights",
    "from_checkpoint": "weights",
    "DihedralGSDenoiser": "ensemble",
    "dihedral_ensemble": "ensemble",
    "OpponentGSDenoiser": "colour",
    "opponent_colour": "colour",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
