"""Leaderboard of a results folder: CSV, Markdown and a self-contained HTML page.

Entry point: `python -m heareval.leaderboard RESULTS_DIR [RESULTS_DIR ...] --out DIR`.
`collect` reads `RESULTS_DIR/<model>/<task bundle>/test.predicted-scores.json`, `rank` arranges
the table and computes the overall normalised score (no imputation), `published` holds the
HEAR 2021 reference numbers, `render` writes the files.
"""

from heareval.leaderboard.collect import Result, ResultsError, collect
from heareval.leaderboard.rank import Board, build_board
from heareval.leaderboard.render import write_all

__all__ = ["Board", "Result", "ResultsError", "build_board", "collect", "write_all"]
