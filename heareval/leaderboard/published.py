"""Published HEAR leaderboard numbers, kept as data for the leaderboard's reference rows.

`hear_leaderboard.csv` beside this module is HEAR's own machine-readable leaderboard, copied
unchanged (LEADERBOARD_ORIGIN says from where and when): one row per model, one column per task,
the primary test score of each task as a fraction, an empty cell where a model has no score.
None of these numbers were re-run here.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

SOURCE = "published HEAR 2021, not re-run"
LEADERBOARD_CSV = Path(__file__).with_name("hear_leaderboard.csv")
LEADERBOARD_ORIGIN = (
    "hearbenchmark/hearbenchmark.com, docs/leaderboard.csv at commit "
    "1e632f5d10e9a7b859e9554d744df005ded8c9ec, copied 2026-12-01: 30 models (the 29 of HEAR 2021 "
    "and CP-JKU mn40_as of 2023); HEAR's current file has 34 (also mn04 and RedRice CED)"
)
_NOT_SCORES = ("Model", "URL", "Submission Date")

# (task_name, mode) of a bundle -> (column of the published leaderboard, its primary metric). The
# mode matters: a `small` or `5h` run is not comparable with a published `full` number, and neither
# is a run scored with another primary metric. Both beehive folds map to the one "Beehive" column.
TASK_COLUMNS: dict[tuple[str, str], tuple[str, str]] = {
    ("beehive_states_fold0", "full"): ("Beehive", "aucroc"),
    ("beehive_states_fold1", "full"): ("Beehive", "aucroc"),
    ("beijing_opera", "full"): ("Beijing Opera", "top1_acc"),
    ("tfds_crema_d", "full"): ("CREMA-D", "top1_acc"),
    ("dcase2016_task2", "full"): ("DCASE 2016", "event_onset_200ms_fms"),
    ("esc50", "full"): ("ESC-50", "top1_acc"),
    ("fsd50k", "full"): ("FSD50K", "mAP"),
    ("tfds_gtzan", "full"): ("GTZAN Genre", "top1_acc"),
    ("tfds_gtzan_music_speech", "full"): ("GTZAN Music/Speech", "top1_acc"),
    ("gunshot_triangulation", "full"): ("Gunshot", "top1_acc"),
    ("libricount", "full"): ("Libricount", "top1_acc"),
    ("maestro", "5h"): ("Maestro 5h", "event_onset_50ms_fms"),
    ("mridangam_stroke", "full"): ("Mridangam Stroke", "top1_acc"),
    ("mridangam_tonic", "full"): ("Mridangam Tonic", "top1_acc"),
    ("nsynth_pitch", "50h"): ("NSynth Pitch 50h", "pitch_acc"),
    ("nsynth_pitch", "5h"): ("NSynth Pitch 5h", "pitch_acc"),
    ("speech_commands", "5h"): ("Speech commands 5h", "top1_acc"),
    ("speech_commands", "full"): ("Speech commands full", "top1_acc"),
    ("vocal_imitation", "full"): ("Vocal Imitation", "mAP"),
    ("vox_lingua_top10", "full"): ("VoxLingua107 top 10", "top1_acc"),
}

# Best published score per task, with the model that holds it, from HEAR's current leaderboard
# (which has the 2023 models missing from our copy of the CSV).
_BEST = {
    "Beehive": (0.878, "Sony UDONS ViT"),
    "Beijing Opera": (0.975, "OpenL3"),
    "CREMA-D": (0.752, "GURA Fuse Hubert"),
    "DCASE 2016": (0.925, "PaSST 2lvl+mel"),
    "ESC-50": (0.966, "CED base (2023); best 2021: PaSST 0.947"),
    "FSD50K": (0.655, "CED base (2023); best 2021: PaSST 0.641"),
    "GTZAN Genre": (0.908, "CP-JKU mn40 (2023)"),
    "GTZAN Music/Speech": (0.992, "PANNs"),
    "Gunshot": (0.967, "GURA Fuse wav2vec2"),
    "Libricount": (0.785, "SERAB BYOL-S"),
    "Maestro 5h": (0.469, "GURA Cat H+w+C"),
    "Mridangam Stroke": (0.975, "GURA fuse cat time"),
    "Mridangam Tonic": (0.965, "CED base (2023)"),
    "NSynth Pitch 50h": (0.900, "CREPE"),
    "NSynth Pitch 5h": (0.878, "GURA Avg Hubert+CREPE"),
    "Speech commands 5h": (0.976, "IUT-CSE MLP keyword"),
    "Speech commands full": (0.978, "IUT-CSE MLP keyword"),
    "Vocal Imitation": (0.227, "CED base (2023)"),
    "VoxLingua107 top 10": (0.720, "GURA Fuse Cat H+w+C"),
}

BEST_ROW = "Best per task"


def published_column(task_name: str, mode: str, metric: str) -> str | None:
    """The published leaderboard column of a bundle, or None when HEAR 2021 has none for it.

    None as well when the bundle's primary metric differs from the published one (or is unknown:
    a result folder without task_metadata.json), since the numbers would not be comparable.
    """
    column, published_metric = TASK_COLUMNS.get((task_name, mode), (None, None))
    return column if metric == published_metric else None


@functools.lru_cache(maxsize=1)
def read_leaderboard() -> dict[str, dict[str, float]]:
    """The copied leaderboard: model name -> {task column: score}; empty cells are absent."""
    with open(LEADERBOARD_CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        row["Model"]: {
            column: float(value)
            for column, value in row.items()
            if column not in _NOT_SCORES and value.strip()
        }
        for row in rows
    }


def published_rows() -> dict[str, dict[str, tuple[float, str]]]:
    """Reference rows: row name -> {published column: (score, note)}; missing cells are absent.

    Every model of the copied leaderboard, then the best-per-task row, whose note says who holds
    the number.
    """
    rows = {
        name: {column: (score, "") for column, score in scores.items()}
        for name, scores in read_leaderboard().items()
    }
    rows[BEST_ROW] = {col: (score, who) for col, (score, who) in _BEST.items()}
    return rows
