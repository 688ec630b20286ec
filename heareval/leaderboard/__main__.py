"""CLI: `python -m heareval.leaderboard RESULTS_DIR [RESULTS_DIR ...] --out DIR`.

Writes DIR/leaderboard.csv, DIR/leaderboard.md and DIR/index.html. `--no-published` leaves out
the published HEAR 2021 reference rows (they are shown by default and never ranked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heareval.leaderboard.collect import ResultsError, collect
from heareval.leaderboard.rank import build_board
from heareval.leaderboard.render import write_all


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m heareval.leaderboard", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "results_dirs", nargs="+", type=Path, metavar="RESULTS_DIR", help="<model>/<task>/ folders"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the three files")
    parser.add_argument(
        "--published",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the published HEAR 2021 rows for reference (default: yes)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results = collect(args.results_dirs)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    board = build_board(results, published=args.published)
    for path in write_all(board, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
