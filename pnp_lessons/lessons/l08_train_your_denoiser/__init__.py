"""Lesson 08, Train your denoiser: notebook ``notebooks/08_train_your_denoiser.ipynb``."""
