"""Embed task bundles with one HEAR model, in the files hear-eval-kit's prediction stage reads.

Output per task: `EMBEDDINGS_DIR/<module><-k=v options>/<bundle folder name>/` (hear-eval-kit's
naming): per split `<split>.embeddings.npy`, `<split>.embedding-dimensions.json`,
`<split>.target-labels.pkl` (and `<split>.filename-timestamps.json` for event tasks), the
bundle's metadata, vocabulary and split files, `profile.embeddings.json` and the cache key file.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from hearcore.allocator import reuse_freed_memory
from hearcore.bundle import BundleError, is_bundle
from hearcore.cli import NOT_FOUND, OK, UserError, make_parser, run_command
from hearcore.format import METADATA_FILE
from heareval import api
from heareval.embeddings import cache
from heareval.embeddings.task import embed_task

# How far below --tasks-dir bundles are looked for when it holds none (a tarball extracted one
# level too high puts them at hear-2021.0.6/tasks/<bundle>), and how many folders that may read.
_SEARCH_DEPTH = 3
_SEARCH_FOLDERS = 2000


class NoBundle(UserError, BundleError):
    """--tasks-dir / --task name no bundle; the message says where the bundles are."""

    def __init__(self, message: str):
        super().__init__(message, NOT_FOUND)


def options_slug(options: dict | None) -> str:
    """`-k=v-k=v` suffix of the model folder (hear-eval-kit slugified keys and values)."""
    if not options:
        return ""
    return "-" + "-".join(f"{_slugify(k)}={_slugify(v)}" for k, v in options.items())


def list_tasks(tasks_dir: Path, task: str = "all") -> list[Path]:
    """Bundle folders to process: every visible folder holding task_metadata.json for "all".

    Raises:
        NoBundle: there is no bundle to process; the message says where bundles can be seen.
    """
    if task != "all" and is_bundle(tasks_dir / task):
        return [tasks_dir / task]
    if not tasks_dir.is_dir():
        what = "is not a folder" if tasks_dir.exists() else "does not exist"
        raise NoBundle(f"--tasks-dir {tasks_dir} {what}\n{_WHERE_BUNDLES_ARE}")
    bundles = _visible_bundles(tasks_dir)
    if task == "all":
        if not bundles:
            raise NoBundle(_no_bundle_message(tasks_dir))
        return bundles
    raise NoBundle(_not_a_bundle_message(tasks_dir, task, [b.name for b in bundles]))


_WHERE_BUNDLES_ARE = (
    "pass --tasks-dir the folder holding the task bundles: hearpreprocess.runner's --tasks-dir "
    "(not its --work-dir), or where heareval.tasks put them"
)


def _visible_bundles(folder: Path) -> list[Path]:
    # Hidden folders are bundles being written (hearpreprocess renames them into place).
    return sorted(p for p in folder.iterdir() if is_bundle(p) and not p.name.startswith("."))


def _no_bundle_message(tasks_dir: Path) -> str:
    where = f"no task bundle (a folder holding {METADATA_FILE}) in {tasks_dir}"
    here = tasks_dir.resolve()
    if is_bundle(here):
        return (
            f"{where}: it is a task bundle itself\npass its parent: --tasks-dir {here.parent} "
            f"(add --task {here.name} to embed this bundle alone)"
        )
    for above in list(here.parents)[:2]:
        if is_bundle(above):
            return f"{where}: it is inside the task bundle {above}\npass --tasks-dir {above.parent}"
    found = _bundle_folders_below(tasks_dir)
    if found:
        first, names = next(iter(found.items()))
        others = "".join(f" (or --tasks-dir {p})" for p in list(found)[1:3])
        return f"{where}\ndid you mean --tasks-dir {first}{others}? it holds " f"{_names(names)}"
    if any(is_bundle(p) for p in tasks_dir.iterdir()):
        return (
            f"{where}: only hidden bundles, which are still being written\n"
            "wait for the run writing them to finish, then run this again"
        )
    return f"{where}\n{_WHERE_BUNDLES_ARE}"


def _bundle_folders_below(top: Path) -> dict[Path, list[str]]:
    """Folders up to _SEARCH_DEPTH - 1 levels below `top` that hold visible bundles (in the
    order found, breadth first), each with its bundles' names."""
    found: dict[Path, list[str]] = {}
    level, read = [top], 0
    for _ in range(_SEARCH_DEPTH):
        below = []
        for folder in level:
            read += 1
            if read > _SEARCH_FOLDERS:
                return found
            for sub in _subfolders(folder):
                if is_bundle(sub):
                    if folder != top:
                        found.setdefault(folder, []).append(sub.name)
                else:
                    below.append(sub)
        level = below
    return found


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:  # unreadable: nothing to suggest from there
        return []
    return [folder / n for n in sorted(names)]


def _not_a_bundle_message(tasks_dir: Path, task: str, names: list[str]) -> str:
    path = tasks_dir / task
    what = f"is not a task bundle (no {METADATA_FILE})" if path.exists() else "does not exist"
    first = f"--task {task}: {path} {what}"
    if not names:
        return f"{first}\n{_no_bundle_message(tasks_dir).splitlines()[-1]}"
    near = [n for n in names if n.startswith(task)]
    near = near or [n for n in names if n.lower().startswith(task.lower())]
    if near:
        return f"{first}\ndid you mean --task {' or --task '.join(near[:3])}? (or --task all)"
    return f"{first}\nthe bundles in {tasks_dir} are {_names(names)}; pass one of them, or all"


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def run(
    module_name: str,
    tasks_dir: str | Path,
    embeddings_dir: str | Path,
    task: str = "all",
    weights: str | Path | None = None,
    options: dict | None = None,
    device: str | None = None,
    progress: bool = True,
    **extract_options,
) -> list[dict]:
    """Embed every selected task with one model; finished tasks with the same key are skipped.

    Args:
        module_name: import name of a HEAR module.
        tasks_dir: folder of task bundles.
        embeddings_dir: output root.
        task: a bundle folder name or "all".
        weights: optional checkpoint passed to the module's `load_model`.
        options: keyword options for `load_model` (also name the output folder).
        device: "cpu", "cuda" or None (CUDA when available).
        progress: show tqdm progress bars and a line per task on stderr.
        **extract_options: memory_budget_mb, batch_size, chunk_seconds, context_seconds.

    Returns:
        One result per task (see `embed_task`).

    Raises:
        UserError: no bundle to embed, or a mistake in naming the module, its weights, its
            options or the device, or a model whose sample_rate is not a HEAR rate.
    """
    options = dict(options or {})
    bundles = list_tasks(Path(tasks_dir), task)
    dev = api.pick_device(device)
    module, model = api.load_model(module_name, weights=weights, options=options, device=dev)
    api.check_sample_rate(model, module_name)
    digest = api.weights_digest(weights) if weights else None
    identity = cache.model_identity(module, options, digest)
    model_dir = Path(embeddings_dir) / f"{module.__name__}{options_slug(options)}"
    results = []
    for bundle_dir in bundles:
        result = embed_task(
            bundle_dir, model_dir / bundle_dir.name, module, model, identity, dev,
            progress=progress, **extract_options,
        )  # fmt: skip
        if progress:
            print(_task_line(bundle_dir.name, result), file=sys.stderr)
        results.append(result)
    return results


def _task_line(name: str, result: dict) -> str:
    if result["status"] == "skipped":
        return f"{name}: already done, up to date ({result['out_dir']})"
    p = result["profile"]
    return (
        f"{name}: embedded {p['clips']} clips ({p['audio_seconds']:.0f} s of audio) in "
        f"{p['time_elapsed']:.1f} s -> {result['out_dir']}"
    )


def summary(results: list[dict]) -> list[str]:
    """The closing lines: what was produced and where, or that everything was up to date."""
    model_dir = Path(results[0]["out_dir"]).parent
    done = [r for r in results if r["status"] == "done"]
    if not done:
        return [f"up to date: all {len(results)} task(s) already embedded in {model_dir}"]
    skipped = len(results) - len(done)
    kept = f" ({skipped} already up to date)" if skipped else ""
    lines = [f"embedded {len(done)} task(s){kept}; outputs in {model_dir}:"]
    return lines + [f"  {Path(r['out_dir']).name}" for r in results]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (user errors raise UserError, see run_command)."""
    args = _parser().parse_args(argv)
    # Batches reuse the previous batch's buffers instead of faulting fresh pages in: +50 % audio-s/s
    # for the naive model on 1-s clips (benchmarks/embeddings_throughput.py).
    reuse_freed_memory()
    options = api.parse_model_options(args.model_options)
    api.check_weights(args.model)
    try:
        results = run(
            args.module, args.tasks_dir, args.embeddings_dir, task=args.task,
            weights=args.model, options=options, device=args.device,
            memory_budget_mb=args.memory_budget_mb, batch_size=args.batch_size,
            chunk_seconds=args.chunk_seconds, context_seconds=args.context_seconds,
        )  # fmt: skip
    except NoBundle:
        raise
    except BundleError as e:  # a bundle that cannot be read: its message says how to repair it
        raise UserError(str(e), NOT_FOUND) from e
    print("\n".join(summary(results)))
    return OK


_DESCRIPTION = (
    "Embed task bundles with one HEAR model: for each bundle under --tasks-dir, write\n"
    "EMBEDDINGS_DIR/<module><-k=v options>/<bundle>/ with the embeddings and labels of every\n"
    "split. A task whose outputs are there with the same model, weights, options and bundle\n"
    "is skipped (up to date); a changed one is embedded again.\n\n"
    + textwrap.fill(f"Sample rate: {api.SAMPLE_RATE_RULE}; the console says when it resamples.", 88)
    + "\nNo option repeats."
)


def _parser():
    p = make_parser("heareval.embeddings.runner", _DESCRIPTION)
    api.add_model_arguments(p)
    p.add_argument(
        "--model-options",
        default="{}",
        help="JSON object of keyword arguments for load_model, e.g. '{\"sample_rate\": 16000}'; "
        "they also name the output folder",
    )
    p.add_argument(
        "--tasks-dir", default="tasks", type=Path, help="folder holding the task bundles"
    )
    p.add_argument(
        "--task",
        default="all",
        help="a bundle folder name under --tasks-dir (e.g. spoken_digit-1.0.9-small), or all",
    )
    p.add_argument("--embeddings-dir", default="embeddings", type=Path, help="where the outputs go")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default=None,
        help="where the model runs (default: cuda when available, else cpu)",
    )
    p.add_argument(
        "--memory-budget-mb",
        type=float,
        default=512,
        help="memory for one model call (audio, working set, embeddings); sets the batch size "
        "and the chunk length",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="clips per model call, for benchmarks (default: as many as fit the budget)",
    )
    p.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        help="event tasks: embed a clip longer than this in chunks of this many seconds "
        "(default: the longest chunk the budget allows)",
    )
    p.add_argument(
        "--context-seconds",
        type=float,
        default=1.0,
        help="event tasks: audio on each side of a chunk, given to the model and then cut off",
    )
    return p


def _slugify(value) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")


if __name__ == "__main__":
    sys.exit(run_command(main))
