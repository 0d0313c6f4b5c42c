"""The exercises of lesson 07 (GS-PnP): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "07.1",
        "In GS-PnP the gradient step is z = x − τλ∇g_σ(x). With the default step τ = 1/λ, what is z?",
        "D_σ(x), the gradient-step denoiser applied to x",
        hint="Replace τλ by 1 and compare with D_σ = Id − ∇g_σ from lesson 06.",
        confirmation="τλ = 1 gives z = x − ∇g_σ(x) = D_σ(x): GS-PnP is then PnP-HQS with the GS denoiser, "
                     "x⁺ = prox_{τf}(D_σ(x)) — the plug-and-play algorithm of lesson 03 with an objective.",
        choices=(
            "D_σ(x), the gradient-step denoiser applied to x",
            "prox_{τf}(x), the data prox",
            "N_σ(x), the network output",
            "x itself: the step does nothing",
        ),
    ),
    Exercise(
        "07.2",
        "Backtracking starts from τ = 1/λ with λ = 0.1 and multiplies τ by η = 0.9 after each rejected trial. "
        "What is τ after 3 rejected trials?",
        7.29,
        hint="τ = (1/λ)·η³.",
        confirmation="10 × 0.9³ = 7.29. τ only shrinks, and once it is below 1/(λL) every trial passes the test "
                     "(Theorem 1's condition), so there are only finitely many rejections. An accepted τ need not be "
                     "below 1/(λL): the test certifies a sufficient decrease of F, which is what the proof uses.",
    ),
    Exercise(
        "07.3",
        "For deblurring and super-resolution, which image does the reference implementation return?",
        "the last z = x − τλ∇g_σ(x): one more denoising step after the last x",
        hint="Look at the PSNR curves of xₖ (solid) and zₖ (dashed) in the widget, and at the last paragraph "
             "of the lesson.",
        confirmation="The reference returns z: x, near a critical point of F, fits the data and keeps some "
                     "noise; z is one denoising step further and, with a well-trained denoiser, scores a higher "
                     "PSNR — but "
                     "it is not a critical point of F (solvers/gs_pnp.py explains it).",
        choices=(
            "the last x, the iterate that approaches a critical point of F",
            "the last z = x − τλ∇g_σ(x): one more denoising step after the last x",
            "the average of all iterates",
            "the iterate with the best PSNR",
        ),
    ),
]
