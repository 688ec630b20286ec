"""CLI of the prediction stage: `python -m heareval.predictions.runner EMBEDDING_TASK_DIR ...`.

Each EMBEDDING_TASK_DIR is a folder the embedding stage wrote, EMBEDDINGS_DIR/<model>/<bundle>/
(task_metadata.json, labelvocabulary.csv and `<split>.embeddings.npy` files). Results of a
setting (probe, grid, grid points, seeds) go into the task folder itself when it holds no other
setting's results, else into its sub-folder `predictions-<probe>-<grid>-<N>pts-seed<S>[...]`, so a
second setting never replaces the first. Written there (atomically):
* `test.predicted-scores.json`: hear-eval-kit's schema (per test fold key: test_score, test_loss,
  test_<metric>[_<sub-score>], validation_score, epoch, time_in_min; `aggregated_scores` with
  `<k>_mean` / `<k>_std` (ddof 1) when there is more than one fold; hparams (values as strings);
  postprocessing; score_mode; embedding_path) plus `seed_spread` (mean, std and 95% bootstrap
  interval of the per-seed test scores).
* `<fold>.predictions.pkl`: per test fold a dict of numpy arrays (target, prediction,
  prediction_logit; event tasks add target_events, predicted_events, timestamp, postprocessing).
* `prediction-grid.json`: every searched configuration with its validation score, best first.
* `prediction-done.json`: settings and timing; a setting already done is skipped.
* `prediction.log`: what this stage logged for the task.
Progress goes to stderr; each task's result line and where its files are go to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from hearcore.atomic import atomic_write_bytes, atomic_write_text
from hearcore.cli import NOT_FOUND, OK, USAGE, UserError, make_parser, run_command
from hearcore.format import METADATA_FILE
from heareval.leaderboard.collect import (
    DONE_FILE,
    SCORES_FILE,
    SETTING_PREFIX,
    read_result,
    setting_label,
)
from heareval.predictions.data import EmbeddingDataError, TaskData, load_task
from heareval.predictions.protocol import candidate_configs, fold_rotations, run_protocol

LOG = logging.getLogger("heareval.predictions")
BOOTSTRAP_RESAMPLES = 10_000


def aggregate(folds: dict[str, dict]) -> dict[str, float]:
    """`<k>_mean` and `<k>_std` (sample std, ddof 1) of every per-fold number."""
    out = {}
    for key in next(iter(folds.values())):
        values = np.array([fold[key] for fold in folds.values()], dtype=float)
        out[f"{key}_mean"] = float(values.mean())
        # d' is infinite where a fold's ROC AUC is 1 (as in hear-eval-kit); its std is then NaN,
        # which is the honest value, not a warning worth printing.
        with np.errstate(invalid="ignore"):
            out[f"{key}_std"] = float(values.std(ddof=1))
    return out


def headline(folds: dict[str, dict]) -> float:
    """The leaderboard number: test_score, or its mean over folds."""
    return float(np.mean([fold["test_score"] for fold in folds.values()]))


def seed_spread(seeds: list[int], scores: list[float]) -> dict:
    """Mean, std (ddof 1) and a 95% percentile bootstrap interval of the per-seed test scores.

    The bootstrap resamples the seeds' scores (not test examples): it describes how much the
    headline number moves with training randomness. It uses numpy's generator seeded 0.
    """
    scores_arr = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(0)
    means = rng.choice(scores_arr, (BOOTSTRAP_RESAMPLES, len(scores_arr))).mean(1)
    return {
        "seeds": seeds,
        "test_scores": [float(s) for s in scores_arr],
        "mean": float(scores_arr.mean()),
        "std": float(scores_arr.std(ddof=1)) if len(scores_arr) > 1 else 0.0,
        "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
        "method": f"percentile bootstrap over seeds, {BOOTSTRAP_RESAMPLES} resamples",
    }


def settings_of(args: argparse.Namespace) -> dict:
    """The setting a result depends on, as prediction-done.json records it."""
    return {
        "grid": args.grid,
        "grid_points": args.grid_points,
        "seed": args.seed,
        "seeds": args.seeds,
        "probe": args.probe,
    }


def setting_folder_name(settings: dict) -> str:
    """The sub-folder of a setting that is not the task folder's first one."""
    first, n = settings["seed"], settings["seeds"]
    seeds = f"seed{first}" if n == 1 else f"seeds{first}-{first + n - 1}"
    return (
        f"{SETTING_PREFIX}{settings['probe']}-{settings['grid']}-{settings['grid_points']}pts-"
        f"{seeds}"
    )


def done_settings(folder: Path) -> dict | None:
    """The settings of the finished result in `folder`, None when there is none (or unreadable:
    a result that cannot be read is predicted again)."""
    try:
        return json.loads((folder / DONE_FILE).read_text()).get("settings")
    except (OSError, ValueError, AttributeError):
        return None


def output_folder(task_dir: Path, settings: dict) -> Path:
    """Where the results of `settings` go: the task folder unless it holds another setting's."""
    first = done_settings(task_dir)
    if first is None or first == settings:
        return task_dir
    return task_dir / setting_folder_name(settings)


def _embedding_folders(path: Path, depth: int) -> list[Path]:
    pattern = "/".join(["*"] * depth + ["*.embeddings.npy"])
    return sorted({p.parent for p in path.glob(pattern)})


def _is_bundle(path: Path) -> bool:
    """A task bundle with its audio (an embedding folder has a task_metadata.json too)."""
    # Imported here: hearcore.bundle imports pandas (0.35 s), which a prediction run never needs.
    from hearcore.bundle import audio_rates, is_bundle

    return is_bundle(path) and bool(audio_rates(path))


def check_embedding_folder(path: Path) -> None:
    """Raise a UserError (NOT_FOUND) unless `path` is an embedding folder; the message says what
    it is instead (a task bundle, a model's folder, ...) and what to pass."""
    expected = "pass EMBEDDINGS_DIR/<model>/<bundle> as written by heareval.embeddings.runner"
    if not path.is_dir():
        raise UserError(f"{path}: no such folder; {expected}", NOT_FOUND)
    has_metadata = (path / METADATA_FILE).is_file()
    if has_metadata and any(path.glob("*.embeddings.npy")):
        return
    if _is_bundle(path):
        raise UserError(
            f"{path} is a task bundle (audio), not an embedding folder: embed it first with "
            f"`python -m heareval.embeddings.runner MODULE --tasks-dir {path.parent} --task "
            f"{path.name}`,\nthen pass EMBEDDINGS_DIR/<model>/{path.name}",
            NOT_FOUND,
        )
    bundles = [p for p in sorted(path.iterdir()) if p.is_dir() and _is_bundle(p)]
    if bundles:
        raise UserError(
            f"{path} holds {len(bundles)} task bundle(s) (audio), not embeddings: embed them first "
            f"with `python -m heareval.embeddings.runner MODULE --tasks-dir {path} --task all`,"
            "\nthen pass EMBEDDINGS_DIR/<model>/*",
            NOT_FOUND,
        )
    for depth, what in ((1, f"{path}/*"), (2, f"{path}/<model>/*")):
        found = _embedding_folders(path, depth)
        if found:
            raise UserError(
                f"{path} is not an embedding folder but holds {len(found)} of them (e.g. "
                f"{found[0]}); pass them: {what}",
                NOT_FOUND,
            )
    if has_metadata:
        raise UserError(
            f"{path}: task_metadata.json but no <split>.embeddings.npy; the embedding stage did "
            "not finish here: run it again for this task",
            NOT_FOUND,
        )
    raise UserError(
        f"{path}: not an embedding folder (no task_metadata.json and <split>.embeddings.npy); "
        f"{expected}",
        NOT_FOUND,
    )


def model_and_task(task_dir: Path) -> str:
    """`<model> / <bundle>`, the names of EMBEDDINGS_DIR/<model>/<bundle>."""
    resolved = task_dir.resolve()
    return f"{resolved.parent.name} / {resolved.name}"


def result_line(task_dir: Path, out: Path) -> str:
    """`<model> / <bundle>: <metric> <score> ± <spread> (<n> folds|seeds)`, as the leaderboard
    will show it."""
    result = read_result(out, "", metadata_dir=task_dir)
    text = f"{model_and_task(task_dir)}: {result.metric or 'score'} {result.score:.3f}"
    if result.spread is not None:
        text += f" ± {result.spread:.3f} ({result.n} {result.spread_kind})"
    return text


class Progress:
    """Progress lines on stderr (none with --quiet); results and the summary go to stdout."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)


def _plan(task: TaskData, args: argparse.Namespace) -> str:
    """What one seed's training does, for the progress line."""
    n_folds = len(fold_rotations(task.metadata))
    n_configs = len(candidate_configs(task, args.probe, args.grid, args.grid_points, args.seed))
    configs = f"{n_configs} config{'s' if n_configs != 1 else ''}"
    if n_folds == 1:
        return f"training {configs} on the train split, testing the best"
    return f"training {configs} on fold 1 of {n_folds}, then the best on {n_folds - 1} more"


def predict_task(task_dir: Path, out: Path, args: argparse.Namespace, progress: Progress) -> None:
    """Run the protocol on one embedding folder and write the results into `out`."""
    settings = settings_of(args)
    started = time.time()
    try:
        task = load_task(task_dir)
    except EmbeddingDataError as error:
        raise UserError(str(error), NOT_FOUND) from error
    name = model_and_task(task_dir)
    plan = _plan(task, args)
    metric = (task.metadata.get("evaluation") or ["score"])[0]
    runs, headlines = [], []
    seeds = list(range(args.seed, args.seed + args.seeds))
    for k, seed in enumerate(seeds, 1):
        progress(f"  {name}: seed {seed} ({k} of {len(seeds)}): {plan} ...")
        seed_started = time.time()
        result = run_protocol(
            task,
            grid=args.grid,
            grid_points=args.grid_points,
            seed=seed,
            probe=args.probe,
            device=args.device,
        )
        runs.append(result)
        headlines.append(headline(result["folds"]))
        LOG.info("%s: seed %d test score %.4f", task_dir.name, seed, headlines[-1])
        progress(f"  {name}: seed {seed}: test {metric} {headlines[-1]:.3f} "
                 f"({time.time() - seed_started:.1f} s)")  # fmt: skip
    first = runs[0]
    scores = dict(first["folds"])
    if len(first["folds"]) > 1:
        scores["aggregated_scores"] = aggregate(first["folds"])
    scores.update(
        hparams={k: str(v) for k, v in first["hparams"].items()},
        postprocessing=first["postprocessing"],
        score_mode=first["score_mode"],
        embedding_path=str(task_dir),
        seed_spread=seed_spread(seeds, headlines),
    )
    for fold, arrays in first["predictions"].items():
        atomic_write_bytes(out / f"{fold}.predictions.pkl", pickle.dumps(arrays))
    atomic_write_text(out / "prediction-grid.json", json.dumps(first["grid"], indent=1))
    atomic_write_text(out / SCORES_FILE, json.dumps(scores, indent=4))
    done = {
        "time": time.time(),
        "time_elapsed": time.time() - started,
        "embedding_path": str(task_dir),
        "embedding_size": int(task.x.shape[1]),
        "device": args.device,
        "settings": settings,
    }
    atomic_write_text(out / DONE_FILE, json.dumps(done, indent=1))


def run_task(task_dir: Path, args: argparse.Namespace, progress: Progress) -> tuple[Path, bool]:
    """Predict one task folder unless done; returns (results folder, whether it was predicted)."""
    settings = settings_of(args)
    out = output_folder(task_dir, settings)
    if done_settings(out) == settings and not args.force:
        print(f"{model_and_task(task_dir)}: already predicted with {setting_label(settings)} "
              f"in {out}; skipping (pass --force to predict again)")  # fmt: skip
        return out, False
    if out != task_dir:
        first = setting_label(done_settings(task_dir))
        progress(f"  {task_dir} keeps its results of {first}; these go into {out.name}/")
    out.mkdir(exist_ok=True)
    handler = logging.FileHandler(out / "prediction.log")
    LOG.addHandler(handler)
    try:
        predict_task(task_dir, out, args, progress)
    finally:
        LOG.removeHandler(handler)
        handler.close()
    return out, True


def summary(done: list[tuple[Path, Path, bool]]) -> None:
    """The closing lines: every task's score and where its files are, and what to run next."""
    predicted = sum(1 for *_, new in done if new)
    skipped = len(done) - predicted
    print(f"{predicted} task folder{'s' if predicted != 1 else ''} predicted, {skipped} skipped "
          "(already predicted with these settings); results:")  # fmt: skip
    for task_dir, out, new in done:
        folds = sorted(p.name for p in out.glob("*.predictions.pkl"))
        print(f"  {result_line(task_dir, out)}{'' if new else ' (skipped)'}")
        print(f"    {out.resolve()}: {SCORES_FILE}, {DONE_FILE}, prediction-grid.json, "
              f"{len(folds)} <fold>.predictions.pkl")  # fmt: skip
    roots = sorted({str(task_dir.resolve().parent.parent) for task_dir, *_ in done})
    print(f"next: python -m heareval.leaderboard {' '.join(roots)} --out leaderboard")


def parse_args(argv=None) -> argparse.Namespace:
    parser = make_parser("heareval.predictions.runner", __doc__.split("\n\n")[1])
    parser.add_argument(
        "task_dirs", nargs="+", type=Path, metavar="EMBEDDING_TASK_DIR",
        help="one or more embedding folders, EMBEDDINGS_DIR/<model>/<bundle> as written by "
        "heareval.embeddings.runner (e.g. embeddings/MODULE/*); not a task bundle",
    )  # fmt: skip
    parser.add_argument(
        "--grid", default="default", choices=["default", "fast", "faster"],
        help="MLP hyper-parameter grid to sample configurations from (the linear probe has its "
        "own grid; knn searches k)",
    )  # fmt: skip
    parser.add_argument(
        "--grid-points", type=int, default=8, metavar="N",
        help="configurations sampled from the grid and searched on the first fold",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=42, help="seed of the first run")
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="N",
        help="repeat the whole protocol with seeds SEED..SEED+N-1 (spread over seeds)",
    )  # fmt: skip
    parser.add_argument(
        "--probe", default="mlp", choices=["mlp", "linear", "knn"],
        help="downstream model trained on the embeddings",
    )  # fmt: skip
    parser.add_argument(
        "--device", default=None, choices=["cpu", "cuda"],
        help="where to train (default: cuda when available, else cpu)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="predict again even where these settings are done (default: skip them)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet", action="store_true",
        help="no progress lines on stderr; results and the summary are still printed",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.grid_points < 1 or args.seeds < 1:
        parser.error("--grid-points and --seeds must be at least 1")
    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: CUDA is not available on this machine; pass --device cpu or leave "
            "--device out",
            USAGE,
        )
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False  # the log goes to each folder's prediction.log; the console gets lines
    for path in args.task_dirs:  # all checked before anything is written anywhere
        check_embedding_folder(path)
    progress = Progress(args.quiet)
    n = len(args.task_dirs)
    progress(f"predicting {n} task folder{'s' if n != 1 else ''} with "
             f"{setting_label(settings_of(args))}, on {args.device}")  # fmt: skip
    done = []
    for i, path in enumerate(args.task_dirs, 1):
        progress(f"[{i}/{n}] {path}")
        out, new = run_task(path, args, progress)
        done.append((path, out, new))
    summary(done)
    return OK


if __name__ == "__main__":
    sys.exit(run_command(main))
