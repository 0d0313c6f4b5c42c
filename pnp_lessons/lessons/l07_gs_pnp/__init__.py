"""Lesson 07, GS-PnP: notebook ``notebooks/07_gs_pnp.ipynb``."""
