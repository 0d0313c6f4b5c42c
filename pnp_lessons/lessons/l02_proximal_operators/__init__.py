"""Lesson 02, Proximal operators: notebook ``notebooks/02_proximal_operators.ipynb``."""
