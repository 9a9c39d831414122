"""Najda (نجدة): incident mapping and unit assignment for unified emergency operations centres."""

__version__ = "0.2.0"
