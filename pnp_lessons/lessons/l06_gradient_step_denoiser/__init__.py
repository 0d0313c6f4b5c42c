"""Lesson 06, The gradient-step denoiser: notebook ``notebooks/06_gradient_step_denoiser.ipynb``."""
