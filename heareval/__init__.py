"""Evaluation for the HEAR benchmark: embeddings, downstream classifiers, scores, leaderboard."""

__version__ = "2026.1.0"
