"""Lesson 04, Kernel denoisers: notebook ``notebooks/04_kernel_denoisers.ipynb``."""
