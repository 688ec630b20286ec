"""Published HEAR 2021 leaderboard numbers (EVAL.md §5), kept as data for reference rows.

These numbers were copied from the hearbenchmark.com leaderboard; they were not re-run here.
Values are the primary test score of each task as a fraction.
"""

from __future__ import annotations

SOURCE = "published HEAR 2021, not re-run"

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
    ("tfds_gtzan_music_speech", "full"): ("GTZAN M/S", "top1_acc"),
    ("gunshot_triangulation", "full"): ("Gunshot", "top1_acc"),
    ("libricount", "full"): ("LibriCount", "top1_acc"),
    ("maestro", "5h"): ("MAESTRO 5h", "event_onset_50ms_fms"),
    ("mridangam_stroke", "full"): ("Mridangam Stroke", "top1_acc"),
    ("mridangam_tonic", "full"): ("Mridangam Tonic", "top1_acc"),
    ("nsynth_pitch", "50h"): ("NSynth 50h", "pitch_acc"),
    ("nsynth_pitch", "5h"): ("NSynth 5h", "pitch_acc"),
    ("speech_commands", "5h"): ("Speech cmd 5h", "top1_acc"),
    ("speech_commands", "full"): ("Speech cmd full", "top1_acc"),
    ("vocal_imitation", "full"): ("Vocal Imitation", "mAP"),
    ("vox_lingua_top10", "full"): ("VoxLingua top10", "top1_acc"),
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


def published_column(task_name: str, mode: str, metric: str) -> str | None:
    """The published leaderboard column of a bundle, or None when HEAR 2021 has none for it.

    None as well when the bundle's primary metric differs from the published one (or is unknown:
    a result folder without task_metadata.json), since the numbers would not be comparable.
    """
    column, published_metric = TASK_COLUMNS.get((task_name, mode), (None, None))
    return column if metric == published_metric else None


def published_rows() -> dict[str, dict[str, tuple[float, str]]]:
    """Reference rows: row name -> {published column: (score, note)}; missing cells are absent.

    The note says who holds the number (for the best-per-task row) or is empty.
    """
    rows: dict[str, dict[str, tuple[float, str]]] = {}
    for name, values in _BASELINES.items():
        rows[name] = {col: (v, "") for col, v in zip(_COLUMNS, values) if v is not None}
    rows[BEST_ROW] = {col: (score, who) for col, (score, who) in _BEST.items()}
    return rows
