"""The solver registry: one entry per solver the suite offers, read by the playground's menu, its settings
checks and :mod:`pnp_lessons.problems` (which builds the run).

An entry (:class:`SolverSpec`) says what the solver is called, which of the :data:`~pnp_lessons.params.PARAMS`
it reads (so the playground greys out the others), what denoiser it plugs in (``"any"``, ``"gs"`` for a
gradient-step denoiser only, or ``None``), which parameters to suggest when a user picks it, and how to
build its generator of the iterate protocol from a problem (``op``, ``y``, ``x_true``, ``x0``) and the plugged
denoiser. Adding a solver to the playground is one :func:`register` call (CONTRIBUTING.md, "Add a solver").

Examples
--------
>>> [s.key for s in solvers()]
['pnp-ista', 'pnp-hqs', 'gs-pnp', 'fista-tv']
>>> get("gs-pnp").params
('sigma', 'lam')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from . import guarantees

__all__ = ["SolverSpec", "register", "unregister", "get", "solvers", "SOLVERS"]


@dataclass(frozen=True)
class SolverSpec:
    """One solver as the playground offers it.

    Attributes
    ----------
    key, label : str
        ``'pnp-ista'`` and ``'PnP-ISTA'``.
    params : tuple of str
        The :data:`~pnp_lessons.params.PARAMS` it reads (besides noise, iterations and size, which every run has).
    denoiser : {'any', 'gs', None}
        What it plugs in: any denoiser ``D(x)``, a gradient-step denoiser (with its potential), or none.
    build : callable
        ``build(settings, problem, D) -> iterator`` of :class:`~pnp_lessons.solvers.base.Iterate`; ``settings``
        is the validated settings dict (σ as σ·255), ``D`` the plugged denoiser (``None`` when it takes none).
    suggest : callable
        ``suggest(settings) -> {param: value}``: the paper's parameters for this problem, applied when chosen.
    describe : callable
        ``describe(settings) -> str``: the method and its parameters in one phrase.
    available : callable
        ``available() -> str``: ``''`` when it can run here, else the reason (e.g. weights not shipped).
    guarantee : callable
        ``guarantee(settings, problem=None, **measured) -> (state, text)``: what the theory promises for these
        settings, given what was measured on the run's W (``rho``, ``inf_norm``; ignored where no theorem uses it)
        (:mod:`pnp_lessons.solvers.guarantees`; state ``'holds'``, ``'outside'`` or ``'none'``).
    reference : str
        Where the method comes from (paper, equation).
    """

    key: str
    label: str
    params: tuple
    denoiser: str | None
    build: Callable[..., Iterator]
    suggest: Callable[[dict], dict] = field(default=lambda s: {})
    describe: Callable[[dict], str] | None = None
    available: Callable[[], str] = field(default=lambda: "")
    reference: str = ""
    guarantee: Callable[..., tuple] = field(default=lambda s, problem=None, **measured: ("none",
                                                                                             "no guarantee stated"))

    def __post_init__(self):
        if self.denoiser not in ("any", "gs", None):
            raise ValueError(f"denoiser must be 'any', 'gs' or None, got {self.denoiser!r}")
        if not self.key or not isinstance(self.key, str):
            raise ValueError(f"key must be a non-empty string, got {self.key!r}")

    def phrase(self, s: dict) -> str:
        """The method in one phrase (:attr:`describe`, or the label)."""
        return self.describe(s) if self.describe is not None else self.label


SOLVERS: dict[str, SolverSpec] = {}
"""Registered solvers, in menu order."""


def register(spec: SolverSpec, replace: bool = False) -> SolverSpec:
    """Add a solver to the menu; ``replace`` to overwrite an entry with the same key."""
    if not isinstance(spec, SolverSpec):
        raise TypeError(f"register takes a SolverSpec, got {type(spec).__name__}")
    if spec.key in SOLVERS and not replace:
        raise ValueError(f"a solver with key {spec.key!r} is already registered (pass replace=True)")
    SOLVERS[spec.key] = spec
    return spec


def unregister(key: str) -> None:
    """Remove a solver from the menu (a test's toy solver, say)."""
    SOLVERS.pop(key, None)


def get(key: str) -> SolverSpec:
    """The entry for ``key``; KeyError naming the known keys otherwise."""
    try:
        return SOLVERS[key]
    except KeyError:
        raise KeyError(f"unknown solver {key!r}; known: {', '.join(SOLVERS)}") from None


def solvers() -> list[SolverSpec]:
    """Every registered solver, in menu order."""
    return list(SOLVERS.values())


# --------------------------------------------------------------------------- the suite's solvers
def _pnp_ista(s: dict, pb, D) -> Iterator:
    from .pnp_ista import pnp_ista

    return pnp_ista(pb.op, pb.y, D, gamma=s["gamma"], x0=pb.x0, ref=pb.x_true, max_iter=s["max_iter"], tol=1e-6)


def _pnp_hqs(s: dict, pb, D) -> Iterator:
    from .pnp_hqs import pnp_hqs

    return pnp_hqs(pb.op, pb.y, D, tau=1.0 / s["lam"], x0=pb.x0, ref=pb.x_true, max_iter=s["max_iter"], tol=1e-6)


def _gs_task(s: dict) -> str:
    op = s["operator"]
    if op == "inpaint":
        return "inpainting"
    if op == "sr":
        return "sr"
    return f"deblur-{s['kernel']}"  # denoising: the deblurring settings with A = I


def gs_preset(s: dict) -> dict:
    """The reference GS-PnP settings for this problem (σ, λ, tol, warm-up …), see :data:`gs_pnp.PRESETS`."""
    from .gs_pnp import preset

    return preset(_gs_task(s), noise=s["noise"] / 255)


def _gs_pnp(s: dict, pb, D) -> Iterator:
    from .gs_pnp import gs_pnp

    kw = gs_preset(s)
    kw.update(sigma=s["sigma"] / 255, lam=s["lam"], max_iter=s["max_iter"])
    return gs_pnp(pb.op, pb.y, D, ref=pb.x_true, **kw)


def _gs_suggest(s: dict) -> dict:
    kw = gs_preset(s)
    return {"sigma": round(kw["sigma"] * 255 * 2) / 2, "lam": kw["lam"]}


def _fista_tv(s: dict, pb, D) -> Iterator:
    from .classic import fista

    return fista(pb.op, pb.y, lam=s["lam"], reg="tv", tau=s["gamma"] / pb.op.norm(), x0=pb.x0, ref=pb.x_true,
                 max_iter=s["max_iter"], tol=1e-6)


def _denoiser_name(s: dict) -> str:
    return {"tv": "TV", "nlm": "NLM"}.get(s.get("denoiser"), "GS-DRUNet")


register(SolverSpec(
    "pnp-ista", "PnP-ISTA", ("gamma", "sigma"), "any", _pnp_ista,
    suggest=lambda s: {"gamma": 0.9, "sigma": 15.0},       # γ < 1: Theorem 5's range for inpainting
    describe=lambda s: f"PnP-ISTA + {_denoiser_name(s)}, γ = {s['gamma']:.2f}, σ·255 = {s['sigma']:.1f}",
    reference="Gavaskar & Chaudhury 2020, eq. (3) with the prox replaced by D", guarantee=guarantees.pnp_ista))
register(SolverSpec(
    "pnp-hqs", "PnP-HQS", ("sigma", "lam"), "any", _pnp_hqs,
    suggest=lambda s: _gs_suggest(s) if str(s.get("denoiser", "")).startswith("gs:") else {"sigma": 15.0,
                                                                                           "lam": 0.1},
    describe=lambda s: f"PnP-HQS + {_denoiser_name(s)}, σ·255 = {s['sigma']:.1f}, λ = {s['lam']:.3g} (τ = 1/λ)",
    reference="z = D(x), x ← prox_{τf}(z) (Zhang et al. 2017); with the GS denoiser and τ = 1/λ it is GS-PnP "
              "without backtracking (pnp_lessons.solvers.gs_pnp explains why)", guarantee=guarantees.pnp_hqs))
register(SolverSpec(
    "gs-pnp", "GS-PnP", ("sigma", "lam"), "gs", _gs_pnp, suggest=_gs_suggest,
    describe=lambda s: f"GS-PnP, σ·255 = {s['sigma']:.1f}, λ = {s['lam']:.3g}",
    reference="Hurault, Leclaire & Papadakis 2022: x ← prox_{τf}(x − τλ∇g_σ(x)) with Armijo backtracking",
    guarantee=guarantees.gs_pnp))
register(SolverSpec(
    "fista-tv", "FISTA-TV", ("gamma", "lam"), None, _fista_tv,
    suggest=lambda s: {"gamma": 0.9, "lam": 0.02},
    describe=lambda s: f"FISTA-TV, λ = {s['lam']:.3g}, γ = {s['gamma']:.2f}",
    reference="Beck & Teboulle 2009, FISTA on ½‖Ax − y‖² + λ TV(x), step γ/‖AᵀA‖", guarantee=guarantees.fista_tv))
