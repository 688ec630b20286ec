"""CLI: `python -m heareval.embeddings.runner MODULE --tasks-dir DIR --embeddings-dir DIR ...`.

Output per task: `EMBEDDINGS_DIR/<module><-k=v options>/<task dir name>/` (hear-eval-kit naming),
holding the files of EVAL.md §2.3 plus `profile.embeddings.json` and the cache key file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from hearcore.allocator import reuse_freed_memory
from hearcore.bundle import BundleError, is_bundle
from heareval.embeddings import cache
from heareval.embeddings.task import embed_task


def options_slug(options: dict | None) -> str:
    """`-k=v-k=v` suffix of the model folder (hear-eval-kit slugified keys and values)."""
    if not options:
        return ""
    return "-" + "-".join(f"{_slugify(k)}={_slugify(v)}" for k, v in options.items())


def list_tasks(tasks_dir: Path, task: str = "all") -> list[Path]:
    """Bundle folders to process: every visible folder holding task_metadata.json for "all".

    Raises:
        BundleError: the named task is not a bundle folder.
    """
    if task == "all":
        # Hidden folders are bundles being written (hearpreprocess renames them into place).
        return sorted(p for p in tasks_dir.iterdir() if is_bundle(p) and not p.name.startswith("."))
    path = tasks_dir / task
    if not is_bundle(path):
        raise BundleError(f"{path} is not a task bundle (no task_metadata.json); check --task")
    return [path]


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
        progress: show tqdm progress bars.
        **extract_options: memory_budget_mb, batch_size, chunk_seconds, context_seconds.

    Returns:
        One result per task (see `embed_task`).
    """
    from heareval import api

    options = dict(options or {})
    bundles = list_tasks(Path(tasks_dir), task)
    dev = api.pick_device(device)
    module, model = api.load_model(module_name, weights=weights, options=options, device=dev)
    digest = api.weights_digest(weights) if weights else None
    identity = cache.model_identity(module, options, digest)
    model_dir = Path(embeddings_dir) / f"{module.__name__}{options_slug(options)}"
    results = []
    for bundle_dir in bundles:
        result = embed_task(
            bundle_dir, model_dir / bundle_dir.name, module, model, identity, dev,
            progress=progress, **extract_options,
        )  # fmt: skip
        if progress and result["status"] == "skipped":
            print(f"{bundle_dir.name}: already done ({result['out_dir']})", file=sys.stderr)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Batches reuse the previous batch's buffers instead of faulting fresh pages in: +50 % audio-s/s
    # for the naive model on 1-s clips (benchmarks/embeddings_throughput.py).
    reuse_freed_memory()
    if args.model and not Path(args.model).is_file():
        print(f"error: --model {args.model} does not exist", file=sys.stderr)
        return 2
    try:
        options = json.loads(args.model_options)
        if not isinstance(options, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        print(f"error: --model-options must be a JSON object ({e})", file=sys.stderr)
        return 2
    try:
        run(
            args.module, args.tasks_dir, args.embeddings_dir, task=args.task,
            weights=args.model, options=options, device=args.device,
            memory_budget_mb=args.memory_budget_mb, batch_size=args.batch_size,
            chunk_seconds=args.chunk_seconds, context_seconds=args.context_seconds,
        )  # fmt: skip
    except (BundleError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m heareval.embeddings.runner", description=__doc__)
    p.add_argument("module", help="import name of a HEAR module, e.g. heareval.models.naive")
    p.add_argument("--model", help="weights file passed to load_model")
    p.add_argument("--model-options", default="{}", help="JSON dict of load_model options")
    p.add_argument("--tasks-dir", default="tasks", type=Path)
    p.add_argument("--task", default="all", help="bundle folder name, or all")
    p.add_argument("--embeddings-dir", default="embeddings", type=Path)
    p.add_argument("--device", choices=["cpu", "cuda"], default=None)
    p.add_argument("--memory-budget-mb", type=float, default=512)
    p.add_argument("--batch-size", type=int, default=None, help="fixed batch size (benchmarks)")
    p.add_argument("--chunk-seconds", type=float, default=None, help="chunk length, long clips")
    p.add_argument("--context-seconds", type=float, default=1.0, help="audio around each chunk")
    return p


def _slugify(value) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")


if __name__ == "__main__":
    sys.exit(main())
