"""The exercises of lesson 05 (PnP-ISTA convergence): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

import math

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "05.1",
        "Theorem 5 of Gavaskar & Chaudhury: for inpainting, PnP-ISTA converges from any start if 0 < γ < b. "
        "What is b?",
        1.0,
        hint="For inpainting Q_ij is W_ij or 0, and the proof can take α_i = β_ij = …",
        confirmation="γ ∈ (0, 1) is enough (Theorem 5): the same bound 1/L as ISTA, since ‖AᵀA‖ = L = 1. "
                     "Experiments (Fig. 2) show convergence up to γ = 2 as well.",
    ),
    Exercise(
        "05.2",
        "If ρ(P) = 0.9, the error e_k = x_k − x* shrinks roughly like 0.9ᵏ. About how many iterations does it "
        "take to divide the error by 1000?",
        math.log(1e-3) / math.log(0.9),
        rtol=0.05,
        hint="Solve 0.9ᵏ = 10⁻³ for k: k = ln(10⁻³)/ln(0.9).",
        confirmation="k = ln(10⁻³)/ln(0.9) ≈ 66 iterations: the closer ρ(P) is to 1, the slower the "
                     "linear convergence.",
    ),
    Exercise(
        "05.3",
        "For inpainting (AᵀA = diag(m), m_j = 1 when pixel j is observed), what is Q_ij, with Q = W AᵀA?",
        "W_ij if pixel j is observed, 0 otherwise",
        hint="Multiplying W on the right by a diagonal matrix scales its columns.",
        confirmation="Q = W diag(m) keeps the columns of the observed pixels: this is why Assumption 2(iii) "
                     "holds as soon as every window sees an observed pixel (Proposition 3).",
        choices=(
            "W_ij for every j",
            "W_ij if pixel j is observed, 0 otherwise",
            "W_ij if pixel i is observed, 0 otherwise",
            "1 if j ∈ Ω_i, 0 otherwise",
        ),
    ),
]
