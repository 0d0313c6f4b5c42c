"""The training history a weight card keeps when one run starts from another's weights.

A card (``data/weights/<name>.json``, written by :func:`pnp_lessons.denoisers.weights.export_weights`)
describes the run that produced the file in ``training``. A run started with ``--init-from`` is
the next *stage* of the same network: its card must also say what the earlier stages did, or
the steps, data and hardware behind the weights are lost. :func:`chain_training` does that:
the earlier stages go to ``training["stage_1"]``, ``training["stage_2"]``, ... (oldest first)
and ``training["total_steps"]`` sums them with this run.

A card's ``evaluation`` block holds what ``pnp-lessons evaluate-denoisers`` measured for the
file: :func:`evaluation_block` builds it from the table's result (with the peers measured in the
same run) and :func:`write_evaluation` stores it in the card, so no figure is copied by hand.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

#: The fields of a card's ``training`` that describe one stage.
STAGE_KEYS = ("data", "images", "steps", "wall_time_s", "optimizer", "crop", "batch", "sigma_train",
              "hardware", "wall_time_note", "date")

#: The noise levels (0..255) of the evaluation summary kept per stage (the bars of the denoiser table).
SUMMARY_SIGMAS = ("15", "25", "50")

_STAGE = re.compile(r"stage_(\d+)")
_EVAL_SET = re.compile(r"(\S+) \((\d+) images\)")


def card_stages(card: dict) -> list[dict]:
    """Every training stage a card records, oldest first; the card's own run is the last.

    The card's own stage is its ``training`` fields listed in :data:`STAGE_KEYS`, plus, for each
    test set in its ``evaluation`` (keys like ``"Set12 (12 images)"``), the PSNRs at
    :data:`SUMMARY_SIGMAS` as ``set12_psnr_15_25_50``.

    Examples
    --------
    >>> card = {"training": {"steps": 30, "crop": 64, "stage_1": {"steps": 10}},
    ...         "evaluation": {"Set12 (12 images)": {"5": 37.0, "15": 32.0, "25": 30.0, "50": 26.0}}}
    >>> card_stages(card)
    [{'steps': 10}, {'steps': 30, 'crop': 64, 'set12_psnr_15_25_50': [32.0, 30.0, 26.0]}]
    """
    if not isinstance(card, dict):
        raise TypeError(f"card must be a dict (a parsed JSON card), got {type(card).__name__}")
    t = card.get("training") or {}
    numbered = sorted((int(m.group(1)), k) for k in t if (m := _STAGE.fullmatch(k)))
    if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
        raise ValueError(f"card's training stages must be stage_1..stage_N without gaps, got "
                         f"{[k for _, k in numbered]}")
    stages = [dict(t[k]) for _, k in numbered]
    own = {k: t[k] for k in STAGE_KEYS if k in t}
    for key, val in (card.get("evaluation") or {}).items():
        m = _EVAL_SET.fullmatch(key)
        if m and isinstance(val, dict) and all(s in val for s in SUMMARY_SIGMAS):
            own[f"{m.group(1).lower()}_psnr_{'_'.join(SUMMARY_SIGMAS)}"] = [val[s] for s in SUMMARY_SIGMAS]
    stages.append(own)
    return stages


def chain_training(previous_card: dict, training: dict, source: str) -> dict:
    """The ``training`` block of a run initialised from weights whose card is ``previous_card``.

    Parameters
    ----------
    previous_card : dict
        The card of the weights the run started from (read *before* the run overwrites them).
    training : dict
        This run's own ``training`` block (its ``steps`` count this run only).
    source : str
        What ``--init-from`` named (a shipped name or a file), recorded as ``init_from``.

    Returns
    -------
    dict
        ``training`` plus ``stage_1`` .. ``stage_K`` (the earlier stages), ``stage`` = K + 1,
        ``init_from`` and ``total_steps`` (omitted when an earlier stage does not say its steps,
        e.g. an external checkpoint).

    Examples
    --------
    >>> prev = {"training": {"steps": 30, "stage_1": {"steps": 10}}}
    >>> t = chain_training(prev, {"steps": 5}, "gsdrunet-small-grey")
    >>> t["stage"], t["total_steps"], t["stage_2"]
    (3, 45, {'steps': 30})
    """
    if "steps" not in training:
        raise ValueError("training must hold this run's 'steps'")
    stages = card_stages(previous_card)
    out = {k: v for k, v in training.items() if not _STAGE.fullmatch(k)}
    for i, s in enumerate(stages, 1):
        out[f"stage_{i}"] = s
    out["stage"] = len(stages) + 1
    out["init_from"] = str(source)
    out.pop("total_steps", None)
    if all(isinstance(s.get("steps"), int) for s in stages):
        out["total_steps"] = sum(s["steps"] for s in stages) + int(training["steps"])
    return out


def _row(psnr: dict, set_name: str, sigmas) -> list:
    return [None if psnr.get(set_name, {}).get(g) is None else round(float(psnr[set_name][g]), 2) for g in sigmas]


def evaluation_block(result: dict, label: str, command: str = "", dtype: str = "float16",
                     date: str | None = None) -> dict:
    """The ``evaluation`` block of a card, from what :func:`~pnp_lessons.denoisers.evaluate.evaluate_denoisers`
    returned.

    Parameters
    ----------
    result : dict
        The table's result (``psnr``, ``ms``, ``sigmas``, ``images``, ``seed``, ``device``, ...).
    label : str
        The table row of the weights the card describes (e.g. ``"GS-DRUNet small"``).
    command : str
        The command that measured it (kept so anyone can rerun it).
    dtype : str
        The stored dtype of the weights (the card's ``dtype``).

    Returns
    -------
    dict
        ``"<set> (<n> images)": {sigma: dB}`` for each set (the keys :func:`card_stages` reads),
        the other rows of the same run under ``peers_same_protocol``, the time per image, the noise
        seed, the device and the date.

    Raises
    ------
    ValueError
        If ``label`` is not a row of ``result``, or one of its cells was not measured (a card
        must not carry a gap where a figure belongs).

    Examples
    --------
    >>> res = {"psnr": {"A": {"Set12": {15.0: 32.361}}, "BM3D": {"Set12": {15.0: 32.39}}},
    ...        "ms": {"A": 58.2}, "sigmas": [15.0], "images": {"Set12": 12}, "seed": 0,
    ...        "time_size": 256, "device": "CPU (2 threads)", "torch": "2.13.0"}
    >>> b = evaluation_block(res, "A", date="2026-11-22")
    >>> b["Set12 (12 images)"], b["peers_same_protocol"]
    ({'15': 32.36}, {'BM3D': {'Set12': [32.39]}})
    """
    psnr = result.get("psnr", {})
    if label not in psnr:
        raise ValueError(f"label {label!r} is not a row of the result; rows: {sorted(psnr)}")
    sigmas = list(result["sigmas"])
    keys = [f"{g:g}" for g in sigmas]
    block: dict = {"command": command, "noise_seed": result.get("seed", 0), "weights": f"this file ({dtype})",
                   "sigmas": keys}
    for set_name, n in result["images"].items():
        vals = _row(psnr[label], set_name, sigmas)
        missing = [k for k, v in zip(keys, vals, strict=False) if v is None]
        if missing:
            raise ValueError(f"row {label!r} has no {set_name} PSNR at sigma {missing}: nothing written "
                             "(was it run with --only-cached?)")
        block[f"{set_name} ({n} images)"] = dict(zip(keys, vals, strict=False))
    peers = {m: {s: _row(psnr[m], s, sigmas) for s in result["images"]} for m in psnr if m != label}
    if peers:
        block["peers_same_protocol"] = peers
    ms = result.get("ms", {}).get(label)
    if ms is not None:
        size = result.get("time_size", 256)
        block[f"ms_per_{size}x{size}"] = round(float(ms))
    for k in ("device", "torch"):
        if k in result:
            block[k] = result[k]
    block["date"] = date or datetime.date.today().isoformat()
    return block


def write_evaluation(name: str, block: dict, folder=None) -> Path:
    """Store ``block`` as the ``evaluation`` of the card ``<folder>/<name>.json``; return its path.

    ``folder`` defaults to :func:`pnp_lessons.denoisers.weights.weights_dir` (``$PNP_LESSONS_WEIGHTS``
    or ``data/weights``). The rest of the card is kept as it is; the file is replaced atomically.
    """
    from .weights import read_card, weights_dir

    d = Path(folder) if folder is not None else weights_dir()
    card = read_card(name, d)
    card["evaluation"] = block
    path = d / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


__all__ = ["card_stages", "chain_training", "evaluation_block", "write_evaluation", "STAGE_KEYS", "SUMMARY_SIGMAS"]
