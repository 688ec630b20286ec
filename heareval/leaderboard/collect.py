"""Gather the prediction stage's results under RESULTS_DIR into `Result`s.

A result is `RESULTS_DIR/<model>/<task bundle>/test.predicted-scores.json` (the task folder's first
setting) or `RESULTS_DIR/<model>/<task bundle>/predictions-<setting>/test.predicted-scores.json`
(every further setting); `prediction-done.json` beside it names the setting (probe, grid, grid
points, seeds). Results of hear-eval-kit have no such file: their setting is unknown ("").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from hearcore.cli import NOT_FOUND, USAGE, UserError
from hearcore.format import METADATA_FILE

SCORES_FILE = "test.predicted-scores.json"
DONE_FILE = "prediction-done.json"
SETTING_PREFIX = "predictions-"  # the folder of a task folder's second, third... setting
# Metrics where lower is better, for result files that predate `score_mode`.
MINIMISED_METRICS = frozenset({"segment_1s_er"})


class ResultsError(UserError, ValueError):
    """A results folder is empty or holds a result that cannot be read (exit code NOT_FOUND), or
    the folders given hold the same result twice (USAGE)."""

    def __init__(self, message: str, code: int = NOT_FOUND):
        super().__init__(message, code)


@dataclass(frozen=True)
class Setting:
    """What produced a result: the prediction stage's --probe, --grid, --grid-points, --seed and
    --seeds (the `settings` of prediction-done.json)."""

    probe: str
    grid: str
    grid_points: int
    seed: int
    seeds: int

    @property
    def seed_range(self) -> str:
        """`42`, or `42-44` for three seeds."""
        last = self.seed + self.seeds - 1
        return str(self.seed) if self.seeds == 1 else f"{self.seed}-{last}"

    @property
    def label(self) -> str:
        """`mlp probe, grid default (8 points), seed 42`."""
        points = f"{self.grid_points} point{'s' if self.grid_points != 1 else ''}"
        seeds = f"seed{'s' if self.seeds != 1 else ''} {self.seed_range}"
        return f"{self.probe} probe, grid {self.grid} ({points}), {seeds}"

    @classmethod
    def from_settings(cls, settings: dict | None) -> "Setting | None":
        """The Setting of a prediction-done.json `settings` dict; None when absent or partial."""
        try:
            return cls(
                probe=str(settings["probe"]),  # type: ignore[index]
                grid=str(settings["grid"]),  # type: ignore[index]
                grid_points=int(settings["grid_points"]),  # type: ignore[index]
                seed=int(settings["seed"]),  # type: ignore[index]
                seeds=int(settings["seeds"]),  # type: ignore[index]
            )
        except (KeyError, TypeError, ValueError):
            return None


def setting_label(settings: dict | None) -> str:
    """The label of a `settings` dict, "unknown setting" when there is none."""
    setting = Setting.from_settings(settings)
    return setting.label if setting else "unknown setting"


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
        setting: what produced it (None when prediction-done.json is absent, e.g. hear-eval-kit).
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
    setting: Setting | None = None


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


def _read_setting(result_dir: Path) -> Setting | None:
    path = result_dir / DONE_FILE
    return Setting.from_settings(_read_json(path).get("settings")) if path.exists() else None


def read_result(result_dir: Path, model: str, metadata_dir: Path | None = None) -> Result:
    """Read one result of one model: the scores file in `result_dir`, the setting beside it, and
    task_metadata.json in `metadata_dir` (the task folder; default: `result_dir`)."""
    task_dir = metadata_dir or result_dir
    path = result_dir / SCORES_FILE
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
        setting=_read_setting(result_dir),
    )


def _no_results(root: Path) -> ResultsError:
    """Why `root` holds no result, and what to pass or run instead."""
    expected = f"expected <model>/<task>/{SCORES_FILE}"
    hint = "run heareval.predictions.runner first or pass the folder holding <model>/<task>/"
    deeper = sorted(root.glob(f"*/*/*/{SCORES_FILE}"))
    if (root / SCORES_FILE).exists():
        hint = (
            f"this is one task folder: pass the folder two levels above it ({root.parent.parent})"
        )
    elif list(root.glob(f"*/{SCORES_FILE}")):
        hint = f"this looks like one model's folder: pass the folder above it ({root.parent})"
    elif deeper:
        hint = f"the results lie one level deeper: pass {deeper[0].parents[2]}"
    elif list(root.glob(f"*/*/{METADATA_FILE}")):
        hint = f"it holds embeddings but no predictions: run heareval.predictions.runner {root}/*/*"
    return ResultsError(f"{root}: no results found ({expected}); {hint}")


def result_files(root: Path) -> list[tuple[Path, Path]]:
    """(result folder, task folder) of every result under `root`, every setting included."""
    first = [
        (p.parent, p.parent)
        for p in root.glob(f"*/*/{SCORES_FILE}")
        if not p.parent.name.startswith(SETTING_PREFIX)  # a setting of a task folder in `root`
    ]
    more = [(p.parent, p.parent.parent) for p in root.glob(f"*/*/{SETTING_PREFIX}*/{SCORES_FILE}")]
    return sorted(first + more)


def collect(results_dirs: list[Path]) -> list[Result]:
    """Every result under the given folders, sorted by (task, model, setting).

    Raises:
        ResultsError: a folder is missing or holds no result, two folders hold the same
            model × task, or tasks disagree on whether the metric is minimised.
    """
    found: dict[tuple[str, str, str], Result] = {}
    for root in map(Path, results_dirs):
        if not root.is_dir():
            raise ResultsError(f"{root}: not a folder; pass the folder holding <model>/<task>/")
        files = result_files(root)
        if not files:
            raise _no_results(root)
        for result_dir, task_dir in files:
            result = read_result(result_dir, task_dir.parent.name, metadata_dir=task_dir)
            key = (result.task, result.model, result.setting.label if result.setting else "")
            if key in found:
                raise ResultsError(
                    f"model {result.model!r} on task {result.task!r} appears twice: "
                    f"{found[key].path} and {result.path}; pass only one of them",
                    USAGE,
                )
            found[key] = result
    results = [found[k] for k in sorted(found)]
    for task in {r.task for r in results}:
        if len({r.maximize for r in results if r.task == task}) > 1:
            raise ResultsError(f"task {task!r}: models disagree on score_mode; re-run them")
    return results
