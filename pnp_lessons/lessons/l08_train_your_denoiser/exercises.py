"""The exercises of lesson 08 (Train your denoiser): plain data,
checked by :func:`pnp_lessons.exercises.check_answer`, shown by
:func:`pnp_lessons.widgets.exercise.exercise`; no widget here."""

from ...exercises import Exercise

EXERCISES = [
    Exercise(
        "08.1",
        "N_σ receives the noise level σ as one extra constant input channel. How many input channels does the "
        "network of a grey-image denoiser have?",
        2.0,
        rtol=0.0, atol=0.0,
        hint="One channel for the grey image, plus …",
        confirmation="1 image channel + 1 σ channel = 2 (and 3 + 1 = 4 for colour): the same network denoises every "
                     "noise level in [0, 50]/255.",
    ),
    Exercise(
        "08.2",
        "The paper trains with batches of 16 crops. With torchrun --nproc_per_node=4, what --batch (per process) "
        "keeps the total batch at 16?",
        4.0,
        rtol=0.0, atol=0.0,
        hint="Each of the 4 processes draws its own batch; DDP averages the 4 gradients.",
        confirmation="16 / 4 = 4 crops per GPU; the card of the exported weights records the total, "
                     "batch × world size.",
    ),
    Exercise(
        "08.3",
        "Why does training the GS denoiser call autograd with create_graph=True?",
        "the loss depends on ∇g_σ, so its gradient needs second derivatives of g_σ",
        hint="D_σ(x) = x − ∇g_σ(x) is already a gradient; the optimiser needs the gradient of the loss with respect "
             "to the weights, through D_σ.",
        confirmation="The loss ‖x − ∇g_σ(x + σn) − x_clean‖² contains ∇g_σ, so backpropagation differentiates a "
                     "gradient: a double backward, which is why a GS training step costs about twice a plain one.",
        choices=(
            "to save memory",
            "the loss depends on ∇g_σ, so its gradient needs second derivatives of g_σ",
            "because Adam needs the Hessian",
            "to make training deterministic",
        ),
    ),
]
