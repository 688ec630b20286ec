"""Gather `RESULTS_DIR/<model>/<task bundle>/test.predicted-scores.json` into `Result`s."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from hearcore.format import METADATA_FILE

SCORES_FILE = "test.predicted-scores.json"
# Metrics where lower is better, for result files that predate `score_mode`.
MINIMISED_METRICS = frozenset({"segment_1s_er"})


class ResultsError(ValueError):
    """A results folder is empty or holds a result that cannot be read."""


@dataclass(frozen=True)
class Result:
    """The leaderboard cell of one model on one task bundle.

    Attributes:
        model: the model folder name.
        task: the task bundle folder name (e.g. `esc50-v2.0.0-full`), the column of the table.
        task_name: `task_name` of task_metadata.json (or the part of `task` before the first "-").
        mode: the bundle mode (or the part of `task` after the last "-").
        metric: the primary metric (first of `evaluation`), "" when unknown.
        maximize: False for minimised metrics (score_mode "min", e.g. segment_1s_er).
        score: test_score (one test fold) or aggregated_scores.test_score_mean (k folds).
        spread: std over seeds when more than one seed ran, else std over folds, else None.
        spread_kind: "seeds" or "folds" (what `spread` is), "" when None.
        n: how many seeds or folds the spread is over (0 when None).
        ci95: the seeds' 95% bootstrap interval, when more than one seed ran.
        path: the scores file.
    """

    model: str
    task: str
    task_name: str
    mode: str
    metric: str
    maximize: bool
    score: float
    spread: float | None
    spread_kind: str
    n: int
    ci95: tuple[float, float] | None
    path: Path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(
            f"{path}: cannot read JSON ({err}); re-run the prediction stage"
        ) from err


def _fold_keys(scores: dict) -> list[str]:
    return sorted(k for k, v in scores.items() if isinstance(v, dict) and "test_score" in v)


def _seed_count(spread: dict) -> int:
    if "n_seeds" in spread:
        return int(spread["n_seeds"])
    return len(spread.get("seeds", spread.get("test_scores", [])))


def read_result(task_dir: Path, model: str) -> Result:
    """Read one task folder of one model (the scores file and task_metadata.json beside it)."""
    path = task_dir / SCORES_FILE
    scores = _read_json(path)
    meta_path = task_dir / METADATA_FILE
    meta = _read_json(meta_path) if meta_path.exists() else {}
    folds = _fold_keys(scores)
    if not folds:
        raise ResultsError(f"{path}: no fold entry with a test_score; re-run the prediction stage")
    if len(folds) == 1:
        score, spread, kind, n = float(scores[folds[0]]["test_score"]), None, "", 0
    else:
        agg = scores.get("aggregated_scores", {})
        if "test_score_mean" in agg:
            score, spread = float(agg["test_score_mean"]), float(agg["test_score_std"])
        else:  # tolerate files without aggregated_scores: same numbers, computed here
            values = [float(scores[k]["test_score"]) for k in folds]
            score = sum(values) / len(values)
            var = sum((v - score) ** 2 for v in values) / (len(values) - 1)
            spread = math.sqrt(var)
        kind, n = "folds", len(folds)
    seeds = scores.get("seed_spread") or {}
    ci95: tuple[float, float] | None = None
    if _seed_count(seeds) > 1:
        spread, kind, n = float(seeds["std"]), "seeds", _seed_count(seeds)
        if "ci95" in seeds:  # [low, high], as predictions.runner writes it
            low, high = (float(x) for x in seeds["ci95"])
            ci95 = (low, high)
    evaluation = meta.get("evaluation") or []
    metric = evaluation[0] if evaluation else ""
    if "score_mode" in scores:
        maximize = scores["score_mode"] != "min"
    else:
        maximize = metric not in MINIMISED_METRICS
    return Result(
        model=model,
        task=task_dir.name,
        task_name=meta.get("task_name", task_dir.name.split("-")[0]),
        mode=meta.get("mode", task_dir.name.rsplit("-", 1)[-1]),
        metric=metric,
        maximize=maximize,
        score=score,
        spread=spread,
        spread_kind=kind,
        n=n,
        ci95=ci95,
        path=path,
    )


def collect(results_dirs: list[Path]) -> list[Result]:
    """Every result under the given folders, sorted by (task, model).

    Raises:
        ResultsError: a folder is missing or holds no result, two folders hold the same
            model × task, or tasks disagree on whether the metric is minimised.
    """
    found: dict[tuple[str, str], Result] = {}
    for root in results_dirs:
        if not Path(root).is_dir():
            raise ResultsError(f"{root}: not a folder; pass the folder holding <model>/<task>/")
        paths = sorted(Path(root).glob(f"*/*/{SCORES_FILE}"))
        if not paths:
            hint = "run the prediction stage first or pass the right folder"
            if list(Path(root).glob(f"*/{SCORES_FILE}")):
                hint = "this looks like one model's folder: pass the folder above it"
            raise ResultsError(
                f"{root}: no results found (expected <model>/<task>/{SCORES_FILE}); {hint}"
            )
        for path in paths:
            result = read_result(path.parent, path.parent.parent.name)
            key = (result.task, result.model)
            if key in found:
                raise ResultsError(
                    f"model {result.model!r} on task {result.task!r} appears twice: "
                    f"{found[key].path} and {path}; pass only one of them"
                )
            found[key] = result
    results = [found[k] for k in sorted(found)]
    for task in {r.task for r in results}:
        if len({r.maximize for r in results if r.task == task}) > 1:
            raise ResultsError(f"task {task!r}: models disagree on score_mode; re-run them")
    return results
