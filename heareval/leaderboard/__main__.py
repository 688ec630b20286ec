"""CLI: `python -m heareval.leaderboard RESULTS_DIR [RESULTS_DIR ...] --out DIR`.

Reads every result of the prediction stage under each RESULTS_DIR (an embeddings folder:
<model>/<task bundle>/test.predicted-scores.json, and <model>/<task bundle>/predictions-<setting>/
for a task folder's further settings) and writes DIR/leaderboard.csv, DIR/leaderboard.md and
DIR/index.html. A row is one model under one setting (probe, grid, seeds), shown in its own
column; a model evaluated with two settings has two rows. The published HEAR 2021 reference rows
are shown by default and never ranked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hearcore.cli import OK, USAGE, UserError, make_parser, run_command
from heareval.leaderboard.collect import collect
from heareval.leaderboard.rank import build_board
from heareval.leaderboard.render import summary_text, write_all


def parse_args(argv=None) -> argparse.Namespace:
    parser = make_parser("heareval.leaderboard", __doc__.split("\n\n")[1])
    parser.add_argument(
        "results_dirs", nargs="+", type=Path, metavar="RESULTS_DIR",
        help="one or more folders holding <model>/<task bundle>/ results, e.g. the "
        "--embeddings-dir of heareval.embeddings.runner",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR",
        help="folder for leaderboard.csv, leaderboard.md and index.html (created; required)",
    )  # fmt: skip
    parser.add_argument(
        "--published", action=argparse.BooleanOptionalAction, default=True,
        help="add the published HEAR 2021 rows for reference; --no-published leaves them out",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out}: is a file, not a folder; pass a folder", USAGE)
    results = collect(args.results_dirs)
    board = build_board(results, published=args.published)
    paths = write_all(board, args.out)
    searched = ", ".join(str(p) for p in args.results_dirs)
    print(f"leaderboard of {summary_text(board)}, read from {searched}, written to:")
    for path in paths:
        print(f"  {path.resolve()}")
    return OK


if __name__ == "__main__":
    sys.exit(run_command(main))
