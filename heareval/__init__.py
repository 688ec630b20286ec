"""Evaluation for the HEAR benchmark: embeddings, downstream classifiers, scores, leaderboard."""

from hearcore import __version__

__all__ = ["__version__"]
