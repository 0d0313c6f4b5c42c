"""The exercises of lesson 04 (Kernel denoisers): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "04.1",
        "W = D⁻¹K with D = diag(K1). What does every row of W sum to?",
        1.0,
        hint="Row i of W is row i of K divided by its own sum D_ii.",
        confirmation="Each row is divided by its own sum, so W1 = 1: W is row-stochastic, and Wx is a "
                     "weighted average of the pixels of the window.",
    ),
    Exercise(
        "04.2",
        "With a 11 × 11 search window Ω_i, how many non-zero weights does the row of an interior pixel have "
        "(Assumption 2(i): W_ij > 0 exactly for j ∈ Ω_i)?",
        121.0,
        rtol=0.0, atol=0.0,
        hint="Every pixel of the window, the centre included, gets a positive weight exp(−d²/h²) > 0.",
        confirmation="11·11 = 121 weights are positive, all others are zero. Near the border the window is "
                     "clipped, so corner pixels have only 6·6 = 36.",
    ),
    Exercise(
        "04.3",
        "Which of these matrices is symmetric?",
        "K and the DSG-NLM matrix, but not W = D⁻¹K",
        hint="K_ij depends on the distance between the patches of i and j, which is symmetric in i and j. "
             "Dividing row i by D_ii and row j by D_jj breaks it unless D_ii = D_jj.",
        confirmation="K is symmetric; W = D⁻¹K is not (the widget shows max|W − Wᵀ| > 0); DSG-NLM rescales K "
                     "symmetrically, diag(d) K diag(d), and is symmetric and doubly stochastic.",
        choices=(
            "W = D⁻¹K",
            "K and the DSG-NLM matrix, but not W = D⁻¹K",
            "none of them",
            "all of them",
        ),
    ),
]
