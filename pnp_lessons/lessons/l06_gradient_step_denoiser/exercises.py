"""The exercises of lesson 06 (The gradient-step denoiser): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "06.1",
        "Tweedie in one dimension: x ~ N(0, s²) with s² = 0.04 and y = x + noise of variance σ² = 0.01. The MMSE "
        "denoiser is D(y) = s²/(s² + σ²) · y. What is ∇g(y) = y − D(y) at y = 0.5?",
        0.1,
        hint="y − D(y) = σ²/(s² + σ²) · y. Check it against −σ² d/dy log p_σ(y) with p_σ = N(0, s² + σ²).",
        confirmation="0.01/0.05 × 0.5 = 0.1 = −σ² · d/dy log p_σ(0.5): the residual of an MMSE denoiser is σ² times "
                     "minus the score of the noisy density (Tweedie's formula).",
    ),
    Exercise(
        "06.2",
        "A central difference (g(x + εv) − g(x − εv)) / 2ε has an error proportional to ε² (ignoring rounding). "
        "If ε is divided by 10, by what factor does that error shrink?",
        100.0,
        hint="The error is C·ε²: replace ε by ε/10.",
        confirmation="(1/10)² = 1/100: two more correct digits per decade of ε, until rounding errors (of order "
                     "machine precision / ε) take over — which is why the check runs in float64.",
    ),
    Exercise(
        "06.3",
        "Which sentence describes the Gradient-Step denoiser D_σ(x) = x − ∇g_σ(x)?",
        "one explicit gradient step of size 1 on the potential g_σ",
        hint="Compare with x_{k+1} = x_k − τ∇h(x_k), the gradient descent step on a function h.",
        confirmation="D_σ is exactly one gradient-descent step of size 1 on g_σ = ½‖x − N_σ(x)‖²; the prox would be an "
                     "implicit step, which is what GS-PnP applies to f instead (lesson 07).",
        choices=(
            "the proximal map of g_σ",
            "one explicit gradient step of size 1 on the potential g_σ",
            "the projection onto the set of clean images",
            "the network N_σ itself",
        ),
    ),
]
