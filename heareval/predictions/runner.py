"""CLI of the prediction stage: `python -m heareval.predictions.runner EMBEDDING_TASK_DIR ...`.

Writes into each task folder (atomically):
* `test.predicted-scores.json`: the old kit's schema (per test fold key: test_score, test_loss,
  test_<metric>[_<sub-score>], validation_score, epoch, time_in_min; `aggregated_scores` with
  `<k>_mean` / `<k>_std` (ddof 1) when there is more than one fold; hparams (values as strings);
  postprocessing; score_mode; embedding_path) plus `seed_spread` (see `seed_spread`).
* `<fold>.predictions.pkl`: per test fold a dict of numpy arrays (target, prediction,
  prediction_logit; event tasks add target_events, predicted_events, timestamp, postprocessing).
* `prediction-grid.json`: every searched configuration with its validation score, best first.
* `prediction-done.json`: settings and timing; a task whose file holds the same settings is skipped.
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
from hearcore.format import METADATA_FILE
from heareval.predictions.data import load_task
from heareval.predictions.protocol import run_protocol

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


def predict_task(path: Path, args: argparse.Namespace) -> bool:
    """Run the protocol on one task folder; False when it was already done with these settings."""
    settings = {
        "grid": args.grid,
        "grid_points": args.grid_points,
        "seed": args.seed,
        "seeds": args.seeds,
        "probe": args.probe,
    }
    done_file = path / "prediction-done.json"
    if done_file.exists() and json.loads(done_file.read_text()).get("settings") == settings:
        LOG.info("%s: already predicted with %s, skipping", path, settings)
        return False
    started = time.time()
    task = load_task(path)
    runs, headlines = [], []
    seeds = list(range(args.seed, args.seed + args.seeds))
    for seed in seeds:
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
        LOG.info("%s: seed %d test score %.4f", path.name, seed, headlines[-1])
    first = runs[0]
    scores = dict(first["folds"])
    if len(first["folds"]) > 1:
        scores["aggregated_scores"] = aggregate(first["folds"])
    scores.update(
        hparams={k: str(v) for k, v in first["hparams"].items()},
        postprocessing=first["postprocessing"],
        score_mode=first["score_mode"],
        embedding_path=str(path),
        seed_spread=seed_spread(seeds, headlines),
    )
    for fold, arrays in first["predictions"].items():
        atomic_write_bytes(path / f"{fold}.predictions.pkl", pickle.dumps(arrays))
    atomic_write_text(path / "prediction-grid.json", json.dumps(first["grid"], indent=1))
    atomic_write_text(path / "test.predicted-scores.json", json.dumps(scores, indent=4))
    done = {
        "time": time.time(),
        "time_elapsed": time.time() - started,
        "embedding_path": str(path),
        "embedding_size": int(task.x.shape[1]),
        "device": args.device,
        "settings": settings,
    }
    atomic_write_text(done_file, json.dumps(done, indent=1))
    return True


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task_dirs", nargs="+", type=Path, metavar="EMBEDDING_TASK_DIR")
    parser.add_argument("--grid", default="default", choices=["default", "fast", "faster"])
    parser.add_argument("--grid-points", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seeds", type=int, default=1, help="repeat with seeds S..S+N-1")
    parser.add_argument("--probe", default="mlp", choices=["mlp", "linear", "knn"])
    parser.add_argument("--device", default=None, choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.grid_points < 1 or args.seeds < 1:
        parser.error("--grid-points and --seeds must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="predict - %(asctime)s - %(message)s", stream=sys.stdout
    )
    for path in args.task_dirs:
        if not (path / METADATA_FILE).is_file():
            print(f"{path}: not an embedding task folder (no task_metadata.json)", file=sys.stderr)
            return 2
        handler = logging.FileHandler(path / "prediction.log")
        LOG.addHandler(handler)
        try:
            predict_task(path, args)
        finally:
            LOG.removeHandler(handler)
            handler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
