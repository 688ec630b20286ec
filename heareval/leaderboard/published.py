"""Published HEAR 2021 leaderboard numbers (EVAL.md §5), kept as data for reference rows.

These numbers were copied from the hearbenchmark.com leaderboard; they were not re-run here.
Values are the primary test score of each task as a fraction.
"""

from __future__ import annotations

SOURCE = "published HEAR 2021, not re-run"

# (task_name, mode) of a bundle -> the column of the published leaderboard. The mode matters: a
# `small` or `5h` run is not comparable with a published `full` number. Both beehive folds map to
# the single published "Beehive" column.
TASK_COLUMNS: dict[tuple[str, str], str] = {
    ("beehive_states_fold0", "full"): "Beehive",
    ("beehive_states_fold1", "full"): "Beehive",
    ("beijing_opera", "full"): "Beijing Opera",
    ("tfds_crema_d", "full"): "CREMA-D",
    ("dcase2016_task2", "full"): "DCASE 2016",
    ("esc50", "full"): "ESC-50",
    ("fsd50k", "full"): "FSD50K",
    ("tfds_gtzan", "full"): "GTZAN Genre",
    ("tfds_gtzan_music_speech", "full"): "GTZAN M/S",
    ("gunshot_triangulation", "full"): "Gunshot",
    ("libricount", "full"): "LibriCount",
    ("maestro", "5h"): "MAESTRO 5h",
    ("mridangam_stroke", "full"): "Mridangam Stroke",
    ("mridangam_tonic", "full"): "Mridangam Tonic",
    ("nsynth_pitch", "50h"): "NSynth 50h",
    ("nsynth_pitch", "5h"): "NSynth 5h",
    ("speech_commands", "5h"): "Speech cmd 5h",
    ("speech_commands", "full"): "Speech cmd full",
    ("vocal_imitation", "full"): "Vocal Imitation",
    ("vox_lingua_top10", "full"): "VoxLingua top10",
}

_COLUMNS = [
    "Beehive", "Beijing Opera", "CREMA-D", "DCASE 2016", "ESC-50", "FSD50K", "GTZAN Genre",
    "GTZAN M/S", "Gunshot", "LibriCount", "MAESTRO 5h", "Mridangam Stroke", "Mridangam Tonic",
    "NSynth 50h", "NSynth 5h", "Speech cmd 5h", "Speech cmd full", "Vocal Imitation",
    "VoxLingua top10",
]  # fmt: skip

# Baselines table of EVAL.md §5, in _COLUMNS order; None = no published number ("–").
_BASELINES = {
    "PaSST base": [None, .966, .610, .788, .947, .641, .883, .977, .940, .660, None, .965, .819,
                   .541, .256, .681, .639, .182, .259],
    "OpenL3": [.604, .975, .550, .833, .751, .447, .879, .969, .949, .641, .017, .967, .937, .731,
               .560, .680, .763, .078, .331],
    "wav2vec2": [None, .907, .656, .663, .561, .342, .780, .946, .848, .692, .033, .943, .828,
                 .653, .402, .838, .879, .080, .493],
    "CREPE": [.593, .928, .383, .504, .300, .159, .645, .929, .863, .499, .401, .898, .824, .900,
              .870, .180, .211, .051, .142],
}  # fmt: skip

# Best published score per task (EVAL.md §5), with the model that holds it.
_BEST = {
    "Beehive": (0.878, "Sony UDONS ViT"),
    "Beijing Opera": (0.975, "OpenL3"),
    "CREMA-D": (0.752, "GURA Fuse Hubert"),
    "DCASE 2016": (0.925, "PaSST 2lvl+mel"),
    "ESC-50": (0.966, "CED base (2023); best 2021: PaSST 0.947"),
    "FSD50K": (0.655, "CED base (2023); best 2021: PaSST 0.641"),
    "GTZAN Genre": (0.908, "CP-JKU mn40 (2023)"),
    "GTZAN M/S": (0.992, "PANNs"),
    "Gunshot": (0.967, "GURA Fuse wav2vec2"),
    "LibriCount": (0.785, "SERAB BYOL-S"),
    "MAESTRO 5h": (0.469, "GURA Cat H+w+C"),
    "Mridangam Stroke": (0.975, "GURA fuse cat time"),
    "Mridangam Tonic": (0.965, "CED base (2023)"),
    "NSynth 50h": (0.900, "CREPE"),
    "NSynth 5h": (0.878, "GURA Avg Hubert+CREPE"),
    "Speech cmd 5h": (0.976, "IUT-CSE MLP keyword"),
    "Speech cmd full": (0.978, "IUT-CSE MLP keyword"),
    "Vocal Imitation": (0.227, "CED base (2023)"),
    "VoxLingua top10": (0.720, "GURA Fuse Cat H+w+C"),
}

BEST_ROW = "Best per task"


def published_column(task_name: str, mode: str) -> str | None:
    """The published leaderboard column of a bundle, or None when HEAR 2021 has none for it."""
    return TASK_COLUMNS.get((task_name, mode))


def published_rows() -> dict[str, dict[str, tuple[float, str]]]:
    """Reference rows: row name -> {published column: (score, note)}; missing cells are absent.

    The note says who holds the number (for the best-per-task row) or is empty.
    """
    rows: dict[str, dict[str, tuple[float, str]]] = {}
    for name, values in _BASELINES.items():
        rows[name] = {col: (v, "") for col, v in zip(_COLUMNS, values) if v is not None}
    rows[BEST_ROW] = {col: (score, who) for col, (score, who) in _BEST.items()}
    return rows
