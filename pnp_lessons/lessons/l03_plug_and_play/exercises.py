"""The exercises of lesson 03 (Plug-and-play): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "03.1",
        "ISTA for ½‖Ax − y‖² + λ·TV(x) with step γ applies prox_{γλ TV} after the gradient step. With λ = 0.02 "
        "and γ = 1.5, what weight multiplies TV inside that prox?",
        0.03,
        hint="The prox of the step γ applied to λ·TV is prox_{γ·(λ TV)}: multiply the two.",
        confirmation="γλ = 1.5 × 0.02 = 0.03: the denoiser's strength grows with the step, which is why "
                     "TVDenoiser(lam) is called with gamma in PnP-ISTA.",
    ),
    Exercise(
        "03.2",
        "For inpainting AᵀA = diag(m): on an observed pixel the gradient step is x ← x − γ(x − y), i.e. the error "
        "is multiplied by (1 − γ). What is the largest γ for which |1 − γ| ≤ 1?",
        2.0,
        hint="Solve −1 ≤ 1 − γ ≤ 1 for γ > 0.",
        confirmation="γ ≤ 2: beyond it the gradient step alone amplifies the error on observed pixels. Whether the "
                     "denoiser's averaging makes up for it depends on W: with the sharp W of this lesson "
                     "(h·255 = 15) the runs at γ = 3 diverge (ρ(P) = 2), with a wide one (h·255 = 60) ρ(P) ≈ 0.4 and "
                     "they converge. Below 2, every absolute row sum of P stays below 1 (lesson 05).",
    ),
    Exercise(
        "03.3",
        "Which of these PnP-ISTA runs comes with a convergence guarantee from the papers of this course?",
        "NLM with W fixed, inpainting, γ ∈ (0, 1)",
        hint="A theorem needs D to be a fixed linear map (or a prox); look at what changes from one step to the "
             "next in each option.",
        confirmation="With W fixed, PnP-ISTA is the linear system x_{k+1} = P x_k + q and Theorem 5 of Gavaskar & "
                     "Chaudhury gives ρ(P) < 1 for inpainting and γ ∈ (0, 1). Adaptive W and plain networks have no "
                     "such theorem (lesson 07 fixes that for networks).",
        choices=(
            "NLM with W recomputed from xₖ at every step, γ = 0.5",
            "NLM with W fixed, inpainting, γ ∈ (0, 1)",
            "any trained denoising network, any γ",
            "TV prox with γ = 3",
        ),
    ),
]
