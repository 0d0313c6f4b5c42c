"""The exercises of lesson 01 (Inverse problems): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "01.1",
        "Every blur kernel k of the lesson is normalised: its entries sum to 1. What is |K̂(0)|, the "
        "transfer function at frequency zero (the gain on a constant image)?",
        1.0,
        hint="K̂(ω) = Σₙ k[n] e^{−i ω·n}; at ω = 0 every exponential is 1.",
        confirmation="K̂(0) = Σ k = 1: a blur keeps the mean brightness of the image, so low frequencies are "
                     "easy to invert; the trouble is at high frequencies, where |K̂| is small.",
    ),
    Exercise(
        "01.2",
        "The naive inverse divides the spectrum of y by K̂. At a frequency where |K̂(ω)| = 0.002, the noise "
        "spectrum has modulus 0.05. What modulus does the noise have in the naive inverse at that frequency?",
        25.0,
        hint="ŷ/K̂ = x̂ + ε̂/K̂: divide the noise modulus by |K̂|.",
        confirmation="0.05 / 0.002 = 25: noise that was invisible becomes 500 times larger than it was. "
                     "This is the noise amplification that makes the naive inverse useless.",
    ),
    Exercise(
        "01.3",
        "Which sentence explains why x = F⁻¹(ŷ / K̂) fails on a blurred, noisy image?",
        "K̂ is close to zero at high frequencies, so the division amplifies the noise there",
        hint="Look at the spectrum |K̂| on a log scale in the widget, then at the naive inverse with σ = 0.",
        confirmation="With no noise the division is harmless (the widget's naive inverse is nearly exact at "
                     "σ = 0); with noise, tiny |K̂| turns tiny noise into huge oscillations.",
        choices=(
            "The FFT is only an approximation of the convolution",
            "K̂ is close to zero at high frequencies, so the division amplifies the noise there",
            "The kernel is not symmetric",
            "The image is too small",
        ),
    ),
]
