"""Lesson 01, Inverse problems: notebook ``notebooks/01_inverse_problems.ipynb``."""
