"""Lesson 03, Plug-and-play: notebook ``notebooks/03_plug_and_play.ipynb``."""
