"""What the theory promises for a solver's current settings, in one line: the badge beside the playground's status.

Each function takes the playground's validated settings (σ as σ·255) and, when known, the problem (for the check
that needs the mask), and returns ``(state, text)``: ``state`` is ``'holds'`` (a theorem applies to these
settings), ``'outside'`` (a theorem exists but these settings are outside its range) or ``'none'`` (no theorem
covers this combination); ``text`` names the result and its source.

Examples
--------
>>> pnp_ista({"operator": "inpaint", "denoiser": "nlm", "gamma": 0.9})[0]
'holds'
>>> pnp_ista({"operator": "inpaint", "denoiser": "nlm", "gamma": 2.5})[0]
'outside'
>>> gs_pnp({})[0], pnp_hqs({"denoiser": "nlm"})[0]
('holds', 'none')
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pnp_ista", "pnp_hqs", "gs_pnp", "fista_tv", "STATES", "every_window_sees_an_observed_pixel"]

STATES = {"holds": "guarantee holds", "outside": "outside the proven range", "none": "no guarantee"}
"""The badge's words for each state."""


def every_window_sees_an_observed_pixel(mask: torch.Tensor, window: int) -> bool:
    """Proposition 3's condition (Gavaskar & Chaudhury 2020): every ``window × window`` search window (clipped at
    the border) holds at least one observed pixel of ``mask`` (1 = observed)."""
    m = (mask > 0).float().reshape(-1, 1, *mask.shape[-2:])
    return bool((F.max_pool2d(m, window, stride=1, padding=window // 2) > 0).all())


def _norm(problem) -> float:
    return float(problem.op.norm()) if problem is not None else 1.0


def _rho_says(rho: float, gamma: float, margin: float = 1e-6) -> tuple[str, str]:
    """Theorem 1 of Gavaskar & Chaudhury (2020) read on an estimated ρ(P) of the current W; within ``margin`` of 1
    the estimate cannot decide (ARPACK's precision, and convergence that slow is not seen anyway)."""
    if rho < 1 - margin:
        slow = " — slowly: ρ is close to 1" if rho > 0.999 else ""
        return "holds", (f"ρ(P) = {rho:.6f} < 1 for this W at γ = {gamma:g} (estimated): the iterates converge "
                         f"from any start (Gavaskar & Chaudhury 2020, Theorem 1){slow}")
    if rho <= 1 + margin:
        return "outside", (f"ρ(P) = {rho:.6f}, 1 to the precision of the estimate, for this W at γ = {gamma:g}: "
                           "Theorem 1's condition ρ(P) < 1 cannot be established")
    return "outside", (f"ρ(P) = {rho:.6f} > 1 for this W at γ = {gamma:g} (estimated): Theorem 1's sufficient "
                       "condition fails")


def pnp_ista(s: dict, problem=None, window: int = 11, rho: float | None = None,
             inf_norm: float | None = None, tv_weight: str = "(σ/γ)") -> tuple[str, str]:
    """PnP-ISTA, x ← D(x − γAᵀ(Ax − y)), with the playground's denoisers (NLM with W fixed from x₀, TV prox, GS);
    ``rho``: ρ(P) of the current fixed W when it was estimated (small images), which decides where no closed-form
    bound applies; ``inf_norm``: ‖P‖∞ of the current W for inpainting
    (:func:`pnp_lessons.analysis.inpainting_inf_norm`), which checks the row-sum bound on the weights as computed
    (float32 weights of very dissimilar patches can underflow to 0, where the exact NLM weights are positive);
    ``tv_weight``: how the TV denoiser's weight reads in the objective — ``(σ/γ)`` for the playground's prox of
    σ·TV, ``λ`` for a prox of γλ·TV (lesson 03). The other solvers' functions take and ignore such measurements."""
    gamma, d, op = s["gamma"], s.get("denoiser", ""), s.get("operator")
    if d == "tv":   # D = prox of γ·(weight)·TV: forward-backward splitting on f + (weight)·TV
        L = _norm(problem)
        if gamma < 2 / L:
            return "holds", (f"PnP-ISTA with the TV prox is forward–backward splitting on ½‖Ax − y‖² + {tv_weight}·TV: "
                             f"it converges to a minimiser for 0 < γ < 2/‖AᵀA‖ = {2 / L:.2f} (Combettes & Wajs 2005)")
        return "outside", f"γ = {gamma:g} ≥ 2/‖AᵀA‖ = {2 / L:.2f}: forward–backward splitting needs γ below it"
    if d == "nlm-adaptive":
        return "none", "W recomputed from xₖ at every step: D is non-linear and no theorem of the paper applies"
    if d != "nlm":
        return "none", ("no guarantee: a learned denoiser plugged into PnP-ISTA (GS-PnP, with the same network's "
                        "potential, is the provably convergent scheme)")
    if op == "denoise":   # P = (1 − γ)W, and W's spectrum is real with ρ(W) = 1
        if 0 < gamma < 2:
            return "holds", (f"denoising: P = (1 − γ)W, ρ(P) = |1 − γ| = {abs(1 - gamma):.2f} < 1, so the iterates "
                             "converge (Gavaskar & Chaudhury 2020, Theorem 1)")
        return "outside", f"denoising: ρ(P) = |1 − γ| = {abs(1 - gamma):.2f} ≥ 1 (Theorem 1 needs ρ(P) < 1)"
    if op == "inpaint":
        if problem is not None and not every_window_sees_an_observed_pixel(problem.op.mask_for(problem.y), window):
            return "outside", (f"some {window}×{window} window holds no observed pixel: Proposition 3, and with it "
                               "Theorem 5, does not apply (Gavaskar & Chaudhury 2020)")
        window_ok = "" if problem is not None else f" (when every {window}×{window} window holds an observed pixel)"
        if 0 < gamma < 1:
            return "holds", ("inpainting with W fixed and 0 < γ < 1: PnP-ISTA converges from any start "
                             f"(Gavaskar & Chaudhury 2020, Theorem 5){window_ok}")
        if gamma < 2:   # analysis.inpainting_inf_norm: the i-th row sum of |P| is 1 − (1 − |1 − γ|)·s_i < 1
            if inf_norm is not None and inf_norm >= 1:
                if rho is not None:
                    return _rho_says(rho, gamma)
                return "outside", (f"‖P‖∞ = 1 for this W at γ = {gamma:g}: a row of W has no weight on an observed "
                                   "pixel as computed (float32 weights of dissimilar patches underflow to 0), so the "
                                   "row-sum bound fails; Theorem 5 needs γ < 1")
            value = ""
            if inf_norm is not None:
                value = (f" (‖P‖∞ = 1 − {1 - inf_norm:.1e} for this W: the bound allows a rate no run will show)"
                         if inf_norm > 1 - 1e-6 else f" (‖P‖∞ = {inf_norm:.6f} for this W)")
            return "holds", (f"inpainting with W fixed and γ = {gamma:g} < 2: every absolute row sum of P is "
                             "1 − (1 − |1 − γ|)·(observed weight of the row) < 1, so ρ(P) ≤ ‖P‖∞ < 1 and the "
                             f"iterates converge (Theorem 1){value}{window_ok}; beyond Theorem 5's 0 < γ < 1")
        if rho is not None:
            return _rho_says(rho, gamma)
        return "outside", (f"γ = {gamma:g} ≥ 2: the row-sum bound reaches 1 and Theorem 5 needs γ < 1; only "
                           "ρ(P) < 1 could still decide (Theorem 1)")
    if rho is not None:
        return _rho_says(rho, gamma)
    return "outside", ("W fixed: Theorem 4 (Gavaskar & Chaudhury 2020) promises convergence for γ below some bound "
                       "when Assumption 2 holds, but gives no value; ρ(P) < 1 decides (Theorem 1)")


def pnp_hqs(s: dict, problem=None, **measured) -> tuple[str, str]:
    """PnP-HQS, z = D(x), x ← prox_{τf}(z) with τ = 1/λ."""
    if str(s.get("denoiser", "")).startswith("gs:"):
        return "none", ("no guarantee: with the GS denoiser and τ = 1/λ this is GS-PnP without backtracking, whose "
                        "Theorem 1 (Hurault et al. 2022) needs τ < 1/(λL) with L unknown; choose GS-PnP")
    return "none", "no guarantee stated for PnP-HQS with this denoiser"


def gs_pnp(s: dict, problem=None, **measured) -> tuple[str, str]:
    """GS-PnP, with Armijo backtracking unless ``s['backtracking']`` is False (the playground always backtracks)."""
    if s.get("backtracking", True) is False:
        return "none", ("backtracking off: Theorem 1 (Hurault et al. 2022) needs τ < 1/(λL), and L, the Lipschitz "
                        "constant of ∇g_σ, is not known for a trained network")
    return "holds", ("backtracking accepts only steps with sufficient decrease: F(xₖ) decreases, ‖xₖ₊₁ − xₖ‖ → 0 and "
                     "accumulation points are critical points of F (Hurault et al. 2022, the argument of Theorem 1)")


def fista_tv(s: dict, problem=None, **measured) -> tuple[str, str]:
    """FISTA on ½‖Ax − y‖² + λ·TV with the step τ = γ/‖AᵀA‖."""
    if s["gamma"] <= 1:
        return "holds", ("convex problem, step γ/‖AᵀA‖ ≤ 1/L: F(xₖ) − F* = O(1/k²) "
                         "(Beck & Teboulle 2009, Theorem 4.4)")
    return "outside", f"γ = {s['gamma']:g} > 1: FISTA's rate needs the step τ = γ/‖AᵀA‖ ≤ 1/L"
