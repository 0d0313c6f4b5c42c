"""The exercises of lesson 02 (Proximal operators): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "02.1",
        "Compute prox_{τ|·|}(3) for τ = 1 (the prox of the absolute value at x = 3).",
        2.0,
        hint="The prox of τ|·| is soft-thresholding: move x towards 0 by τ, and stop at 0.",
        confirmation="sign(3)·max(|3| − 1, 0) = 2: soft-thresholding shrinks by τ.",
    ),
    Exercise(
        "02.2",
        "The Moreau envelope of the indicator of [−1, 1] is M(x) = dist(x, [−1, 1])² / (2τ). "
        "What is M(3) for τ = 2?",
        1.0,
        hint="The prox of an indicator is the projection: p = 1. Then M(3) = 0 + (3 − p)²/(2τ).",
        confirmation="(3 − 1)² / (2·2) = 1: the envelope replaces the wall ∞ of the indicator by a smooth "
                     "quadratic that gets steeper as τ shrinks.",
    ),
    Exercise(
        "02.3",
        "For a convex F = f + λR with ∇f L-Lipschitz and step 1/L, how fast does F(x_k) − F* decrease?",
        "ISTA as O(1/k), FISTA as O(1/k²)",
        hint="Compare the two curves of the race: one gap shrinks like 1/k, the other like 1/k² "
             "(Beck & Teboulle 2009, Thm. 3.1 and Thm. 4.4).",
        confirmation="ISTA's objective gap is O(1/k) (Beck & Teboulle 2009, Thm. 3.1); FISTA's momentum "
                     "gives O(1/k²) (Thm. 4.4) at the same cost per iteration.",
        choices=(
            "both as O(1/k)",
            "ISTA as O(1/k), FISTA as O(1/k²)",
            "ISTA as O(1/k²), FISTA as O(1/k)",
            "both linearly, as O(ρᵏ)",
        ),
    ),
]
