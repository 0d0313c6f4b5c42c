"""Lesson 05, PnP-ISTA convergence: notebook ``notebooks/05_pnp_ista_convergence.ipynb``."""
