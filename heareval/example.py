"""The whole benchmark on the built-in example, offline: `python -m heareval.example --out DIR`.

Runs the four public commands one after another, exactly as a user would type them:
preprocess the `tones` task -> embeddings with the built-in models -> downstream predictions ->
leaderboard. Each command is resumable, so running this again only redoes what changed.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from hearcore.cli import OK, UserError, make_parser, run_command

MODELS = ("heareval.models.naive", "heareval.models.crepe")


def _run(step: str, args: list[str]) -> None:
    command = [sys.executable, "-m", *args]
    print(f"\n== {step}: {shlex.join(command)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(command)
    if result.returncode != 0:
        # The step printed its own error; this line says which step and passes its code on.
        raise UserError(
            f"example: step '{step}' failed (exit code {result.returncode})", result.returncode
        )
    print(f"== {step}: done in {time.monotonic() - started:.1f} s", flush=True)


def run_example(out: Path, models: tuple[str, ...], grid: str, task: str, mode: str) -> Path:
    """Run preprocess -> embeddings -> predictions -> leaderboard into `out`; return the page."""
    tasks, embeddings = out / "tasks", out / "embeddings"
    _run(
        "preprocess",
        ["hearpreprocess.runner", task, "--mode", mode, "--tasks-dir", str(tasks),
         "--tar-dir", str(out / "tarballs"), "--work-dir", str(out / "_workdir")],
    )  # fmt: skip
    for model in models:
        _run(
            f"embeddings ({model})",
            ["heareval.embeddings.runner", model, "--tasks-dir", str(tasks), "--task", "all",
             "--embeddings-dir", str(embeddings)],
        )  # fmt: skip
    task_dirs = sorted(str(p.parent) for p in embeddings.glob("*/*/task_metadata.json"))
    _run("predictions", ["heareval.predictions.runner", *task_dirs, "--grid", grid])
    _run(
        "leaderboard", ["heareval.leaderboard", str(embeddings), "--out", str(out / "leaderboard")]
    )
    return out / "leaderboard" / "index.html"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser("heareval.example", __doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("example-output"), help="folder for everything it writes"
    )
    parser.add_argument(
        "--model",
        action="append",
        help=f"HEAR module to evaluate; repeat for several (default: {', '.join(MODELS)})",
    )
    parser.add_argument(
        "--grid", default="default", choices=["default", "fast", "faster"], help="downstream grid"
    )
    parser.add_argument("--task", default="tones", help="task to build")
    parser.add_argument("--mode", default="full", help="mode of the task")
    args = parser.parse_args(argv)
    page = run_example(args.out, tuple(args.model or MODELS), args.grid, args.task, args.mode)
    print(f"\nLeaderboard: {page.resolve()}")
    return OK


if __name__ == "__main__":
    sys.exit(run_command(main))
