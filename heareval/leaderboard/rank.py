"""The overall normalised score: a transparent variant of the old HEAR leaderboard ranking.

The old HEAR 2021 figures filled missing cells with IterativeImputer, z-scored each task across
models, clipped to [-1, 1] and took the row mean. Here nothing is imputed: an imputed cell is a
number no model produced, and it would move every other model's z-score on that task. Instead:

1. per task, z = (score - mean) / std over the models that have the task (population std, as
   StandardScaler); the sign is flipped for minimised metrics so that higher is always better;
   a task with zero spread gives z = 0; a task only one model has gives no z (undefined);
2. clip z to [-1, 1];
3. overall = mean of the clipped z over the tasks where the model has a z, reported with that
   count; a model with no z at all (e.g. the only model) has no overall score (None, "n/a").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heareval.leaderboard.collect import Setting
from heareval.leaderboard.published import SOURCE, published_column, published_rows

OVERALL_DESCRIPTION = (
    "Overall = mean over tasks of the model's z-score on that task (score minus the mean over "
    "the models that ran the task, divided by their standard deviation; sign flipped for "
    "minimised metrics such as segment_1s_er), each clipped to [-1, 1]. Missing cells are not "
    "imputed, because imputation invents numbers no model produced and shifts the others' "
    "z-scores; a model is averaged over the tasks it has, and the count is shown. A task run by "
    "a single model has no z-score, so a lone model has no overall score (n/a). Published "
    "reference rows do not enter this normalisation."
)


@dataclass(frozen=True)
class Overall:
    """Overall score of one model: `score` is None when no task gives it a z-score."""

    score: float | None
    n_ranked: int
    n_tasks: int


def clipped_z(scores: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """Per-task clipped z-scores of a models × tasks matrix (NaN = missing).

    Args:
        scores: float array (models, tasks), NaN where a model has no result.
        maximize: bool array (tasks,), False for minimised metrics.

    Returns:
        Array of the same shape: z in [-1, 1], NaN where missing or undefined.
    """
    scores = np.asarray(scores, dtype=float)
    z = np.full_like(scores, np.nan)
    for j in range(scores.shape[1]):
        col = scores[:, j]
        have = ~np.isnan(col)
        if have.sum() < 2:
            continue
        std = col[have].std()
        z[have, j] = 0.0 if std == 0 else (col[have] - col[have].mean()) / std
        if not maximize[j]:
            z[have, j] = -z[have, j]
    return np.clip(z, -1.0, 1.0)


def overall_scores(scores: np.ndarray, maximize: np.ndarray) -> list[Overall]:
    """One `Overall` per row of a models × tasks matrix (see the module docstring)."""
    z = clipped_z(scores, maximize)
    out = []
    for i in range(z.shape[0]):
        row = z[i][~np.isnan(z[i])]
        n_tasks = int((~np.isnan(np.asarray(scores[i], dtype=float))).sum())
        out.append(Overall(float(row.mean()) if row.size else None, int(row.size), n_tasks))
    return out


@dataclass(frozen=True)
class Cell:
    """One table cell: `spread` over `n` `spread_kind` ("folds"/"seeds"); `note` for tooltips."""

    score: float
    spread: float | None = None
    spread_kind: str = ""
    n: int = 0
    note: str = ""


@dataclass(frozen=True)
class Row:
    """A table row: one of our models under one setting, or a published reference row
    (`published` True, no setting). A model evaluated with two settings has two rows."""

    name: str
    source: str
    published: bool
    cells: dict[str, Cell]
    overall: Overall | None
    setting: Setting | None = None


@dataclass(frozen=True)
class Task:
    """A table column: a task bundle, its primary metric and its published column (or None)."""

    name: str
    metric: str
    maximize: bool
    published_column: str | None


@dataclass(frozen=True)
class Board:
    """Everything the renderers need, in display order."""

    tasks: list[Task]
    rows: list[Row]


def _entry(result) -> tuple[str, str]:
    """What one row stands for: the model and the label of its setting ("" when unknown)."""
    return result.model, result.setting.label if result.setting else ""


def build_board(results, published: bool = True) -> Board:
    """Arrange `collect.Result`s (and optionally the published rows) into a `Board`.

    One row per (model, setting): a model evaluated with two settings (e.g. two probes) has two
    rows, each ranked as an entry of its own. Our rows are ordered by overall score (best first,
    n/a last), then by name and setting; published rows follow in a fixed order. Published rows
    never enter the normalisation.
    """
    task_names = sorted({r.task for r in results})
    tasks = []
    for name in task_names:
        first = next(r for r in results if r.task == name)
        col = published_column(first.task_name, first.mode, first.metric)
        tasks.append(Task(name, first.metric, first.maximize, col))
    settings = {_entry(r): r.setting for r in results}
    entries = sorted(settings)
    matrix = np.full((len(entries), len(tasks)), np.nan)
    cells: dict[tuple[str, str], dict[str, Cell]] = {e: {} for e in entries}
    for r in results:
        matrix[entries.index(_entry(r)), task_names.index(r.task)] = r.score
        cells[_entry(r)][r.task] = Cell(r.score, r.spread, r.spread_kind, r.n)
    overall = overall_scores(matrix, np.array([t.maximize for t in tasks], dtype=bool))
    # Sort (entry, Overall) pairs rather than rows: a Row's `overall` is optional (published rows).
    ranked = sorted(
        zip(entries, overall), key=lambda eo: (eo[1].score is None, -(eo[1].score or 0.0), eo[0])
    )
    rows = [Row(e[0], "this run", False, cells[e], o, settings[e]) for e, o in ranked]
    if published:
        for name, values in published_rows().items():
            row_cells = {
                t.name: Cell(values[t.published_column][0], note=values[t.published_column][1])
                for t in tasks
                if t.published_column in values
            }
            rows.append(Row(name, SOURCE, True, row_cells, None))
    return Board(tasks, rows)
