"""Where a run starts and how it survives: initial weights (``--init-from``), the resumable ``last.pt``
checkpoint (plain tensors and numbers only, reloaded with ``torch.load(weights_only=True)``), and the
training block of the exported weight card."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..denoisers.gsdrunet import DRUNetLight

__all__ = ["RunState", "save", "load", "init_weights", "init_card", "start_from", "chain_card", "GREY_TO_COLOUR"]

#: What the card says when a colour run starts from grey weights (see ``grey_to_colour_state``).
GREY_TO_COLOUR = ("grey->colour: head image filter w -> w/3 on R, G, B; tail filter copied to R, G, B "
                  "(the run starts as the grey denoiser of the channel mean, in every channel)")


@dataclass
class RunState:
    """What a run has done so far, besides the network and optimiser: saved and restored with them."""

    step: int = 0
    elapsed: float = 0.0
    history: list = field(default_factory=list)   # (step, loss)
    val_log: list = field(default_factory=list)   # {"step", "minutes", "psnr"}
    init_card: dict | None = None                 # the card of the weights the run started from


def save(path: Path, net, opt, state: RunState, cfg, gen: torch.Generator) -> None:
    """Write the checkpoint atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hist = torch.tensor(state.history, dtype=torch.float64).reshape(-1, 2)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "optim": opt.state_dict(), "step": state.step, "elapsed": state.elapsed,
                "history": hist, "val_log": json.dumps(state.val_log), "config": json.dumps(asdict(cfg), default=list),
                "gen_state": gen.get_state(), "rng_state": torch.get_rng_state(),
                "init_card": json.dumps(state.init_card)}, tmp)
    os.replace(tmp, path)


def load(path: Path, net, opt, gen: torch.Generator) -> RunState:
    """Restore network, optimiser and random streams from ``path``; the run's state."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    gen.set_state(ck["gen_state"])
    torch.set_rng_state(ck["rng_state"])
    return RunState(step=int(ck["step"]), elapsed=float(ck["elapsed"]),
                    history=[(int(a), float(b)) for a, b in ck["history"].tolist()],
                    val_log=json.loads(ck["val_log"]), init_card=json.loads(ck.get("init_card", "null")))


def init_weights(net: DRUNetLight, source: str) -> str | None:
    """Copy weights from a shipped name or a checkpoint file (architectures must match).

    Grey weights may start a colour run of the same size (``grey_to_colour_state``); the
    return value then says so, for the card. Otherwise ``None``.
    """
    from ..denoisers.gsdrunet import grey_to_colour_state
    from ..denoisers.weights import from_checkpoint, list_shipped, load_denoiser

    src = load_denoiser(source, device="cpu") if source in list_shipped() else from_checkpoint(source, device="cpu")
    have, want = src.net.config(), net.config()
    if have == {**want, "channels": 1} and want["channels"] == 3:
        net.load_state_dict(grey_to_colour_state(src.net.state_dict()))
        return GREY_TO_COLOUR
    if have != want:
        raise ValueError(f"init_from {source!r} has config {have} but the run builds {want}")
    net.load_state_dict(src.net.state_dict())
    return None


def init_card(source: str) -> dict | None:
    """The card of the weights ``--init-from`` names: a shipped name, or ``<file>.json`` beside a file."""
    from ..denoisers.weights import list_shipped, read_card

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


def start_from(net: DRUNetLight, source: str) -> tuple[dict | None, str | None]:
    """Initialise ``net`` from ``source``; return the source's card (read now: an export under the same name
    overwrites it, so it is kept in the checkpoint) with the grey→colour adaptation noted, and that adaptation."""
    card = init_card(source)
    adaptation = init_weights(net, source)
    if adaptation:
        card = {**(card or {}), "init_adaptation": adaptation}
    return card, adaptation


def chain_card(train_info: dict, init_from: str | None, init_card_: dict | None) -> dict:
    """The card's training block of a run that started from other weights: the next stage of their training
    when they have a card, else a note of where it started."""
    if not init_from:
        return train_info
    source = Path(init_from).name  # a shipped name, or a file name (not a machine path)
    previous = dict(init_card_ or {})
    adaptation = previous.pop("init_adaptation", None)
    if previous:  # this run is the next stage of the weights it started from
        from ..denoisers.card import chain_training

        train_info = chain_training(previous, train_info, source)
        if adaptation:  # the earlier stages trained the grey network
            for k in range(1, train_info["stage"]):
                train_info[f"stage_{k}"] = {"channels": 1, **train_info[f"stage_{k}"]}
    else:
        train_info["init_from"] = source
    if adaptation:
        train_info["init_adaptation"] = adaptation
    return train_info
