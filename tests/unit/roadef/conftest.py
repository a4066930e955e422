"""Fixtures: the tiny ROADEF instance (tests/roadeftiny.py)."""

from tests.roadeftiny import tiny, tiny_original, tiny_text

__all__ = ["tiny", "tiny_original", "tiny_text"]
